#!/usr/bin/env bash
# Training-stage check on a CUDA machine (UNTESTED ON HARDWARE: written without a GPU).
# Run from the repo root with the venv that has a CUDA torch and gsplat 1.5.3 (its kernels JIT-compile
# on first use unless the wheel has them):
#     bash bench/gpu_check.sh [DATASET_DIR]      # default ../shared/data/banana
# Budget: under 10 minutes. STEPS (default 7000) trims the `standard` preset's 30k steps to fit;
# STEPS=30000 runs the full preset.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DATA=${1:-../shared/data/banana}
STEPS=${STEPS:-7000}
WORK=${WORK:-/tmp/spaceport-gpu-check}
mkdir -p "$WORK"
export PYTHONPATH=.

echo "== device"
$PY -c "import torch, gsplat; print(torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0), 'gsplat', gsplat.__version__)"

echo "== 1. CPU rasterizer vs gsplat CUDA on the same inputs (values, gradients, timing)"
timeout 300 $PY - <<'PYEOF'
import math, time, torch
from gsplat import rasterization as gs_raster
from services.train.container.raster import cpu
torch.set_num_threads(4)
for n, w in [(5_000, 128), (50_000, 400), (200_000, 800)]:
    h = w * 3 // 4
    g = torch.Generator().manual_seed(0)
    means = (torch.rand(n, 3, generator=g) - 0.5) * torch.tensor([2.0, 2.0, 1.0])
    quats = torch.randn(n, 4, generator=g)
    scales = torch.exp(torch.randn(n, 3, generator=g) * 0.5 - 1.0) / n ** (1 / 3)
    opac = torch.sigmoid(torch.randn(n, generator=g) * 2)
    sh = torch.randn(n, 16, 3, generator=g) * 0.3
    vm = torch.eye(4); vm[2, 3] = 3.0
    f = 0.5 * w / math.tan(math.radians(25))
    K = torch.tensor([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1.0]])
    a = [t.clone().requires_grad_(True) for t in (means, quats, scales, opac, sh)]
    b = [t.clone().cuda().requires_grad_(True) for t in (means, quats, scales, opac, sh)]
    t0 = time.perf_counter(); c1, a1, _ = cpu.rasterization(*a, vm[None], K[None], w, h, sh_degree=3)
    (c1.sum() + a1.sum()).backward(); t_cpu = time.perf_counter() - t0
    for _ in range(2):
        for p in b: p.grad = None
        torch.cuda.synchronize(); t0 = time.perf_counter()
        c2, a2, _ = gs_raster(*b, vm[None].cuda(), K[None].cuda(), w, h, sh_degree=3, packed=False)
        (c2.sum() + a2.sum()).backward(); torch.cuda.synchronize(); t_gpu = time.perf_counter() - t0
    dc = (c1 - c2.cpu()).abs().max().item(); da = (a1 - a2.cpu()).abs().max().item()
    rel = max(((x.grad - y.grad.cpu()).abs().max() / y.grad.abs().max().clamp_min(1e-12)).item() for x, y in zip(a, b))
    print(f"N={n} {w}x{h}: max|dcolour|={dc:.2e} max|dalpha|={da:.2e} max rel grad err={rel:.2e} "
          f"cpu fwd+bwd {t_cpu:.3f}s gpu {t_gpu*1000:.1f}ms")
PYEOF

echo "== 2. unit tests that need CUDA"
$PY -m pytest -q tests/unit/train -k "cuda" || true

echo "== 3. SfM on $DATA (CPU) then train the standard preset ($STEPS steps) on the GPU"
if [ ! -f "$WORK/sfm/metrics.json" ]; then
  timeout 300 $PY -m services.sfm.container.entrypoint --input "$DATA/images" --output "$WORK/sfm" 2>&1 | tail -2 \
    || timeout 300 $PY -m services.sfm.container.entrypoint --input "$DATA" --output "$WORK/sfm" 2>&1 | tail -2
fi
$PY - "$WORK" "$STEPS" <<'PYEOF'
import json, sys
from services.train.container.config import Config
from shared.options import JobOptions, Preset
work, steps = sys.argv[1], int(sys.argv[2])
cfg = Config.from_options(JobOptions(preset=Preset.STANDARD))
scale = steps / cfg.steps
cfg = cfg.model_copy(update={"steps": steps, "refine_stop": int(cfg.refine_stop * scale),
                             "sh_degree_interval": max(1, int(cfg.sh_degree_interval * scale)),
                             "device": "cuda"})
open(f"{work}/cfg.json", "w").write(cfg.model_dump_json())
PYEOF
rm -rf "$WORK/train"
timeout 420 $PY -m services.train.container.entrypoint --input "$WORK/sfm" --output "$WORK/train" --config "$WORK/cfg.json" 2>&1 | tail -3
$PY -c "
import json; m = json.load(open('$WORK/train/metrics.json'))
print({k: m.get(k) for k in ('psnr', 'ssim', 'lpips', 'steps', 'steps_per_second', 'n_gaussians', 'peak_gpu_memory_mb', 'peak_memory_mb', 'train_seconds', 'strategy', 'rasterizer', 'image_width', 'image_height')})"
