"""Streamed LOD SOG vs the single SOG on a large synthetic scene: bytes before the first picture.

    nice .venv/bin/python bench/lod_bench.py [--splats 2000000] [--browser] [--markdown]

Runs the compress stage program (standard preset; the streamed SOG is written above
`lod_min_splats`) on a deterministic synthetic splat with SH degree 3, then reports:
- sizes: model.sog, lod/ (all levels) and what the SuperSplat viewer must fetch before it
  draws (lod-meta.json + every file unit of the coarsest level; for model.sog the whole file);
- codec-only PSNR of each level against the full model (8 orbit views, CPU rasterizer), i.e. what
  the first picture shows before finer levels arrive;
- with --browser: the same byte counts measured in headless Chromium (SuperSplat viewer 1.36.2,
  WebGL on SwiftShader): a local server counts the bytes it serves until the first screenshot whose
  centre shows the scene, holding finer levels back until then, so the count is what the viewer
  needed, not what it prefetched. Times on SwiftShader say little about a GPU; the table gives the
  transfer time at 50 Mbit/s instead.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.splat_views import orbit_cameras, psnr, render  # noqa: E402
from services.compress.container.config import Config  # noqa: E402
from services.compress.container.lod import read_lod  # noqa: E402
from services.compress.container.ply import read_ply, write_ply  # noqa: E402
from services.compress.container.program import run  # noqa: E402
from services.compress.container.synthetic import synthetic_splats  # noqa: E402

OUT = REPO / "bench" / "out" / "lod"
JOB = "b" * 20
MBIT_S = 50.0


def compress(splats: int, out: Path) -> dict:
    job = out / "data" / "spaceport" / "jobs" / JOB
    metrics_path = job / "compress" / "metrics.json"
    if metrics_path.is_file():
        return json.loads(metrics_path.read_text())
    (job / "train").mkdir(parents=True, exist_ok=True)
    ply = job / "train" / "model.ply"
    if not ply.is_file():
        write_ply(ply, synthetic_splats(splats, sh_degree=3, seed=0))
    started = time.monotonic()
    cfg = Config(lod_min_splats=min(splats // 2, Config().lod_min_splats or 0))  # the standard preset, LOD on
    metrics = run(cfg, job / "train", job / "compress").model_dump(mode="json")
    metrics["stage_wall_s"] = round(time.monotonic() - started, 1)
    metrics_path.write_text(json.dumps(metrics, indent=1))
    return metrics


def level_psnr(job: Path, views: int) -> list[float]:
    original = read_ply(job / "train" / "model.ply")
    cameras = orbit_cameras(original, views=views, size=256)
    reference = render(original, *cameras)
    return [round(psnr(render(level, *cameras), reference), 2) for level in read_lod(job / "compress/lod/lod-meta.json")]


def browser_first_picture(data: Path, content: str, coarsest: str | None, shots: Path) -> dict:
    """Bytes served under compress/ until the first screenshot that shows the scene."""
    sys.path.insert(0, str(REPO / "tests" / "support"))
    from cdp import Browser
    from PIL import Image

    from spaceport.viewer.server import ViewerHandler, make_server

    served: list[int] = []
    release = threading.Event()
    send_file = ViewerHandler._send_file

    def gated(self, root: Path, relative: str) -> None:
        if coarsest and "/lod/" in relative and coarsest not in relative and not relative.endswith("lod-meta.json"):
            release.wait(600)  # a finer level: held back until the first picture
        if "/compress/" in relative:
            served.append((root / relative).stat().st_size)
        send_file(self, root, relative)

    ViewerHandler._send_file = gated  # type: ignore[method-assign]
    server = make_server(data)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    browser = Browser("/usr/bin/chromium", shots / "profile")
    url = f"http://127.0.0.1:{server.server_address[1]}/?webgl&noui&noanim&load=/files/spaceport/jobs/{JOB}/compress/"
    started = time.monotonic()
    result: dict = {"shown": False}
    try:
        session = browser.open(url + content)
        while time.monotonic() - started < 900:
            png = browser.screenshot(session, patience_s=60)
            pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), np.float32)
            h, w, _ = pixels.shape
            if pixels[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4].std() > 8.0:
                (shots / f"{content.replace('/', '_')}.png").write_bytes(png)
                result = {"shown": True, "bytes": sum(served), "seconds": round(time.monotonic() - started, 1)}
                break
            time.sleep(0.5)
    finally:
        release.set()
        browser.close()
        server.shutdown()
        server.server_close()
        ViewerHandler._send_file = send_file  # type: ignore[method-assign]
    return result


def markdown(m: dict, psnrs: list[float], measured: dict) -> str:
    lod = m["lod"]
    rows = [
        "| output | bytes | vs PLY | fetched before the first picture | at 50 Mbit/s | measured in Chromium |",
        "|---|---|---|---|---|---|",
    ]

    def row(name: str, size: int, first: int, key: str) -> str:
        seen = measured.get(key)
        shown = f"{seen['bytes']:,} B" if seen and seen.get("shown") else "–"
        return (
            f"| {name} | {size:,} | {m['ply_bytes'] / size:.1f}x | {first:,} B ({first / m['sog_bytes']:.0%} of "
            f"model.sog) | {8 * first / MBIT_S / 1e6:.2f} s | {shown} |"
        )

    rows.append(row("model.sog (single file)", m["sog_bytes"], m["sog_bytes"], "sog"))
    rows.append(row("lod/ (streamed SOG, all levels)", lod["bytes"], lod["first_render_bytes"], "lod"))
    levels = " / ".join(f"{n:,}" for n in lod["levels"])
    quality = " / ".join(f"{p:.2f}" for p in psnrs)
    return "\n".join(rows) + f"\n\nLevels (splats): {levels}; PSNR of each level vs the full model (dB): {quality}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splats", type=int, default=2_000_000)
    parser.add_argument("--views", type=int, default=8)
    parser.add_argument("--browser", action="store_true", help="measure in headless Chromium too")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = OUT / f"synthetic_{args.splats}"
    metrics = compress(args.splats, out)
    job = out / "data" / "spaceport" / "jobs" / JOB
    print(json.dumps({k: metrics[k] for k in ("splats_out", "ply_bytes", "sog_bytes", "encode_seconds", "lod", "outputs")}, indent=1))
    psnrs = level_psnr(job, args.views)
    measured = {}
    if args.browser:
        shots = out / "shots"
        shots.mkdir(exist_ok=True)
        coarsest = f"/lod/{len(metrics['lod']['levels']) - 1}_"
        measured["lod"] = browser_first_picture(out / "data", "lod/lod-meta.json", coarsest, shots)
        measured["sog"] = browser_first_picture(out / "data", "model.sog", None, shots)
        print(json.dumps(measured))
    print(markdown(metrics, psnrs, measured))


if __name__ == "__main__":
    main()
