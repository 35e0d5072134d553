"""Compression figures: size, time, codec error and render PSNR (SOG and SPZ), ours vs splat-transform.

    flock /tmp/spaceport-cpu.lock .venv/bin/python bench/compress_bench.py \
        [--ply path/to/model.ply] [--synthetic 500000] [--reference] [--markdown docs/bench/compress.md]

For each input (a trained PLY, and a deterministic synthetic splat of --synthetic Gaussians with SH
degree 3) it runs the compress stage program under a few configs, decodes model.sog with our reader,
renders held-out orbit views of the original and the decoded model with the same CPU rasterizer,
and prints the PSNR between them (codec-only loss; no ground-truth photos exist for these views).
With --reference, splat-transform 3.7.0 (CPU, `-i` iterations) compresses the trained PLY too and
its .sog is decoded and rendered the same way; so are its SPZ files (version 3 and its default 4,
decoded through its own PLY output). Our model.spz (written by the same stage run as the
"standard (morton)" SOG) gets a row of its own. Everything runs on one thread.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from bench.splat_views import orbit_cameras, psnr, render  # noqa: E402
from services.compress.container.config import PRESETS, Config  # noqa: E402
from services.compress.container.ply import read_ply, write_ply  # noqa: E402
from services.compress.container.program import prune, run  # noqa: E402
from services.compress.container.sog_io import read_sog  # noqa: E402
from services.compress.container.spz import read_spz  # noqa: E402
from services.compress.container.synthetic import synthetic_splats  # noqa: E402
from shared.options import Preset  # noqa: E402

DEFAULT_PLY = REPO.parent / "shared" / "data" / "splats" / "banana_opensplat_2000.ply"
OUT = REPO / "bench" / "out" / "compress"
SPLAT_TRANSFORM = REPO / ".node" / "node_modules" / ".bin" / "splat-transform"

# name -> Config overrides. "reference-like": our writer with splat-transform's choices.
CONFIGS: dict[str, dict] = {
    "standard (morton)": {},
    "standard (plas)": {"order": "plas"},
    "quality preset": PRESETS[Preset.QUALITY].model_dump(exclude_defaults=True),
    "reference-like": {
        "codebook_alpha": 0.5, "scale_beta": None, "sh_weight_power": 0.0, "position_tolerance": 0.0,
        "scale_levels": 256, "colour_levels": 256, "opacity_levels": 256, "sh_levels": 256, "palette_size": -1,
    },
}  # fmt: skip


def implied_drop(codec_psnr: float, base_psnr: float) -> float:
    """PSNR drop against ground truth if codec error adds independently to a base error."""
    return 10 * math.log10(1 + 10 ** ((base_psnr - codec_psnr) / 10))


def evaluate(name: str, decoded, views, ref_images, row: dict) -> dict:
    started = time.monotonic()
    images = render(decoded, *views)
    row["render_s"] = round(time.monotonic() - started, 2)
    row["psnr_db"] = round(psnr(images, ref_images), 2)
    row["drop_at_25db"] = round(implied_drop(row["psnr_db"], 25.0), 3)
    row["drop_at_30db"] = round(implied_drop(row["psnr_db"], 30.0), 3)
    row["name"] = name
    print(json.dumps(row), flush=True)
    return row


def run_ours(ply: Path, tag: str, name: str, overrides: dict, pruned, views, ref_images) -> dict:
    out = OUT / tag / name.replace(" ", "_").replace("(", "").replace(")", "")
    overrides = dict(overrides)
    if overrides.get("palette_size") == -1:
        from services.compress.container.sog import default_palette_size

        overrides["palette_size"] = default_palette_size(len(pruned))
    cfg = Config(**overrides, write_unbundled=False, lod_min_splats=None)  # lod: bench/lod_bench.py
    in_dir = out / "in"
    in_dir.mkdir(parents=True, exist_ok=True)
    link = in_dir / "model.ply"
    link.unlink(missing_ok=True)
    link.symlink_to(ply.resolve())
    started = time.monotonic()
    metrics = run(cfg, in_dir, out)
    wall = time.monotonic() - started
    (out / "metrics.json").write_text(metrics.model_dump_json(indent=1))
    started = time.monotonic()
    decoded = read_sog(out / "model.sog")
    decode_s = time.monotonic() - started
    row = {
        "input": tag, "splats": metrics.splats_out, "bytes": metrics.sog_bytes, "ratio": metrics.ratio,
        "bits_per_splat": metrics.bits_per_splat, "encode_s": metrics.encode_seconds,
        "stage_wall_s": round(wall, 2), "decode_s": round(decode_s, 2), "palette": metrics.palette_size,
        "files": metrics.file_bytes,
    }  # fmt: skip
    # our writer keeps the pruned splats; compare renders against the full original model
    return evaluate(name, decoded, views, ref_images, row) | {"codec_error": metrics.codec_error.model_dump()}


def run_our_spz(tag: str, name: str, views, ref_images) -> dict | None:
    """The model.spz the stage wrote in `run_ours` for config `name`."""
    out = OUT / tag / name.replace(" ", "_").replace("(", "").replace(")", "")
    metrics = json.loads((out / "metrics.json").read_text()) if (out / "metrics.json").is_file() else None
    if not (out / "model.spz").is_file() or metrics is None or metrics.get("spz") is None:
        return None
    spz = metrics["spz"]
    row = {
        "input": tag, "splats": metrics["splats_out"], "bytes": spz["bytes"], "ratio": spz["ratio"],
        "bits_per_splat": spz["bits_per_splat"], "encode_s": spz["encode_seconds"],
        "fractional_bits": spz["fractional_bits"],
    }  # fmt: skip
    decoded = read_spz(out / "model.spz")
    return evaluate(f"ours, SPZ v3 ({name} run)", decoded, views, ref_images, row) | {"codec_error": spz["codec_error"]}


def run_reference_spz(ply: Path, tag: str, version: int, views, ref_images) -> dict | None:
    """splat-transform's SPZ (version 3 or 4) of the PLY, decoded by splat-transform to PLY."""
    if not SPLAT_TRANSFORM.exists():
        return None
    out = OUT / tag / f"splat-transform.v{version}.spz"
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    subprocess.run([str(SPLAT_TRANSFORM), "-q", "-w", "--spz-version", str(version), str(ply), str(out)], check=True)
    encode_s = time.monotonic() - started
    back = out.with_suffix(".decoded.ply")
    subprocess.run([str(SPLAT_TRANSFORM), "-q", "-w", str(out), str(back)], check=True)
    decoded = read_ply(back)
    size = out.stat().st_size
    row = {
        "input": tag, "splats": len(decoded), "bytes": size, "ratio": round(ply.stat().st_size / size, 3),
        "bits_per_splat": round(8 * size / len(decoded), 3), "encode_s": round(encode_s, 2),
    }  # fmt: skip
    return evaluate(f"splat-transform 3.7.0 SPZ v{version}", decoded, views, ref_images, row)


def run_reference(ply: Path, tag: str, iterations: int, views, ref_images) -> dict | None:
    if not SPLAT_TRANSFORM.exists():
        print("splat-transform absent; skipping the reference", flush=True)
        return None
    out = OUT / tag / "splat-transform.sog"
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    subprocess.run(
        [str(SPLAT_TRANSFORM), "-q", "-w", "-g", "cpu", "-i", str(iterations), "--max-workers", "0",
         str(ply), str(out)],
        check=True,
    )  # fmt: skip
    encode_s = time.monotonic() - started
    decoded = read_sog(out)
    size = out.stat().st_size
    row = {
        "input": tag, "splats": len(decoded), "bytes": size, "ratio": round(ply.stat().st_size / size, 3),
        "bits_per_splat": round(8 * size / len(decoded), 3), "encode_s": round(encode_s, 2),
        "sh_iterations": iterations,
    }  # fmt: skip
    return evaluate(f"splat-transform 3.7.0 -g cpu -i {iterations}", decoded, views, ref_images, row)


def bench_input(
    ply: Path, tag: str, args: argparse.Namespace, reference: bool, only: list[str] | None
) -> list[dict]:
    original = read_ply(ply)
    print(f"# {tag}: {ply} ({len(original)} splats, SH degree {original.sh_degree})", flush=True)
    views = orbit_cameras(original, views=args.views, size=args.size)
    ref_images = render(original, *views)
    rows = []
    pruned, _ = prune(original, Config())
    for name, overrides in CONFIGS.items():
        if only and name not in only:
            continue
        rows.append(run_ours(ply, tag, name, overrides, pruned, views, ref_images))
        if name == "standard (morton)":
            rows.append(run_our_spz(tag, name, views, ref_images))
    if reference:
        rows.append(run_reference(ply, tag, args.reference_iterations, views, ref_images))
    if reference or args.reference_spz:
        rows += [run_reference_spz(ply, tag, version, views, ref_images) for version in (3, 4)]
    return [row for row in rows if row]


def markdown(rows: list[dict]) -> str:
    lines = [
        "| input | encoder | splats | size (KB) | ratio vs PLY | bits/splat | encode s | PSNR vs original (dB) "
        "| implied drop at 25/30 dB | pos mean err | rot p50/max (deg) | log-scale RMS | sh0 RMS | opacity RMS "
        "| shN RMS |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        e = r.get("codec_error") or {}
        err = (
            f"{e['positions_mean_abs']:.2e} | {e['rotation_p50_deg']:.2f}/{e['rotation_max_deg']:.2f} | "
            f"{e['log_scale_rms']:.4f} | {e['sh0_rms']:.4f} | {e['opacity_rms']:.4f} | {e['sh_rest_rms']:.4f}"
            if e
            else "- | - | - | - | - | -"
        )
        lines.append(
            f"| {r['input']} | {r['name']} | {r['splats']} | {r['bytes'] / 1000:.0f} | {r['ratio']:.1f}x | "
            f"{r['bits_per_splat']:.1f} | {r['encode_s']:.1f} | {r['psnr_db']:.2f} | "
            f"{r['drop_at_25db']:.3f}/{r['drop_at_30db']:.3f} | {err} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ply", type=Path, default=DEFAULT_PLY, help="a trained 3DGS PLY")
    parser.add_argument("--synthetic", type=int, default=500_000, help="synthetic splat count (0: skip)")
    parser.add_argument("--reference", action="store_true", help="also run splat-transform on --ply")
    parser.add_argument("--reference-iterations", type=int, default=1, help="splat-transform -i")
    parser.add_argument("--reference-spz", action="store_true", help="splat-transform's SPZ only (fast)")
    parser.add_argument("--views", type=int, default=8)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--only", nargs="*", help="config names to run on --ply (default: all)")
    parser.add_argument(
        "--synthetic-only", nargs="*", default=["standard (morton)", "standard (plas)"],
        help="config names to run on the synthetic splat",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows: list[dict] = []
    if args.ply.is_file():
        rows += bench_input(args.ply, args.ply.stem, args, args.reference, args.only)
    if args.synthetic:
        OUT.mkdir(parents=True, exist_ok=True)
        path = OUT / f"synthetic_{args.synthetic}.ply"
        if not path.is_file():
            write_ply(path, synthetic_splats(args.synthetic, sh_degree=3, seed=0))
        rows += bench_input(path, f"synthetic_{args.synthetic}", args, False, args.synthetic_only)
    print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))



if __name__ == "__main__":
    main()
