"""CPU rasterizer forward+backward time per step, against the same tile algorithm in plain torch
(the no-compiler fallback, autograd backward) and the brute-force reference. Prints markdown tables.

    OMP_NUM_THREADS=1 flock /tmp/spaceport-cpu.lock .venv/bin/python bench/raster_bench.py [--quick]

Times are the best of a few runs in thread CPU seconds (torch and the kernel on one thread), which
stay meaningful on a shared, busy machine where wall time does not.

Scenes: N random Gaussians in a box in front of one camera, sized so they cover the image several
layers deep (mean alpha ~0.7-0.8), SH degree 3, 4:3 images.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.train.container.raster import cpu, reference  # noqa: E402


def scene(n: int, width: int, height: int, seed: int = 0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    means = (torch.rand(n, 3, generator=g) - 0.5) * torch.tensor([2.0, 2.0, 1.0])
    quats = torch.randn(n, 4, generator=g)
    scales = torch.exp(torch.randn(n, 3, generator=g) * 0.5 - 1.0) / n ** (1 / 3)
    opacities = torch.sigmoid(torch.randn(n, generator=g) * 2)
    sh = torch.randn(n, 16, 3, generator=g) * 0.3
    viewmat = torch.eye(4)
    viewmat[2, 3] = 3.0
    f = 0.5 * width / math.tan(math.radians(25))
    K = torch.tensor([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1.0]])
    return [t.to(dtype) for t in (means, quats, scales, opacities, sh, viewmat, K)]


def time_step(fn, params, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        for p in params:
            p.grad = None
        t0 = time.thread_time()
        out = fn()
        loss = sum(o.sum() for o in out) if isinstance(out, tuple) else out.sum()
        loss.backward()
        best = min(best, time.thread_time() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sizes = [(5_000, 128), (5_000, 400), (20_000, 128), (20_000, 400), (50_000, 400), (50_000, 800), (200_000, 800)]
    if args.quick:
        sizes = sizes[:3]
    print(f"torch threads: {torch.get_num_threads()}; kernel: {'compiled' if cpu.kernel.load() else 'torch fallback'}")
    print("| Gaussians | image | ours fwd+bwd (s) | torch tiles fwd+bwd (s) | speed-up |")
    print("|---:|---:|---:|---:|---:|")
    for n, w in sizes:
        h = w * 3 // 4
        means, quats, scales, opacities, sh, viewmat, K = scene(n, w, h)
        params = [t.requires_grad_(True) for t in (means, quats, scales, opacities, sh)]

        def ours():
            c, a, _ = cpu.rasterization(*params, viewmat[None], K[None], w, h, sh_degree=3)
            return c, a

        t_ours = time_step(ours, params, 3 if n < 100_000 else 2)
        t_dense = None
        if n * w * h <= 20_000 * 128 * 96:

            def torch_tiles():
                c, a, _ = cpu.rasterization(*params, viewmat[None], K[None], w, h, sh_degree=3, use_kernel=False)
                return c, a

            t_dense = time_step(torch_tiles, params, 1)
        dense = f"{t_dense:.3f}" if t_dense else "-"
        ratio = f"{t_dense / t_ours:.1f}x" if t_dense else "-"
        print(f"| {n:,} | {w}x{h} | {t_ours:.4f} | {dense} | {ratio} |", flush=True)

    print("\nAgainst the brute-force reference (float64 reference, float32 ours):")
    print("| Gaussians | image | ours (s) | reference (s) | speed-up | max abs diff colour | max abs diff alpha |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n, w in [(300, 64), (1_000, 128)] if not args.quick else [(300, 64)]:
        h = w * 3 // 4
        s32 = scene(n, w, h)
        s64 = [t.double() for t in s32]
        p32 = [t.clone().requires_grad_(True) for t in s32[:5]]
        p64 = [t.clone().requires_grad_(True) for t in s64[:5]]
        t_ours = time_step(lambda: cpu.rasterization(*p32, s32[5][None], s32[6][None], w, h, sh_degree=3)[:2], p32, 3)
        t_ref = time_step(lambda: reference.render(*p64, s64[5], s64[6], w, h, 3), p64, 1)
        with torch.no_grad():
            c, a, _ = cpu.rasterization(*s32[:5], s32[5][None], s32[6][None], w, h, sh_degree=3)
            rc, ra = reference.render(*s64[:5], s64[5], s64[6], w, h, 3)
        dc = (c[0].double() - rc).abs().max().item()
        da = (a[0].double() - ra).abs().max().item()
        print(f"| {n:,} | {w}x{h} | {t_ours:.4f} | {t_ref:.2f} | {t_ref / t_ours:.0f}x | {dc:.1e} | {da:.1e} |")


if __name__ == "__main__":
    main()
