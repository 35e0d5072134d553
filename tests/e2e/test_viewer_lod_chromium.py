"""The SuperSplat viewer streams our level-of-detail SOG: it draws the scene from `lod-meta.json` and
the coarsest level alone, then fetches the finer levels.

Needs the Debian `chromium` package and the npm viewer package in .node/; skips without them."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from spaceport.viewer.server import ViewerHandler, make_server
from tests.e2e.test_viewer_chromium import CHROMIUM, Browser, viewer_or_skip, watch

JOB = "l" * 20


def write_streamed_model(job_dir: Path) -> dict:
    """A coloured ball of 20,000 Gaussians through the compress stage, with a 4-level streamed SOG."""
    from services.compress.container.config import Config
    from services.compress.container.ply import write_ply
    from services.compress.container.program import run
    from services.compress.container.splats import Splats

    rng = np.random.default_rng(1)
    n = 20_000
    means = rng.normal(size=(n, 3)).astype(np.float32)
    means /= np.linalg.norm(means, axis=1, keepdims=True)  # [N, 3] on the unit sphere
    splats = Splats(
        means=means,
        quats=np.tile(np.array([1, 0, 0, 0], np.float32), (n, 1)),
        log_scales=np.full((n, 3), np.log(0.03), np.float32),
        opacities=np.full(n, 4.0, np.float32),
        sh0=((means + 1.0) / 2.0 - 0.5) / 0.28209479,
        sh_rest=np.zeros((n, 0), np.float32),
    )
    (job_dir / "train").mkdir(parents=True)
    write_ply(job_dir / "train" / "model.ply", splats)
    lod = {"lod_min_splats": 0, "lod_levels": 4, "lod_leaf_splats": 4096, "lod_file_splats": 8192}
    metrics = run(Config(keep_sh=False, **lod), job_dir / "train", job_dir / "compress")
    assert metrics.lod is not None
    return metrics.lod.model_dump()


def test_viewer_draws_the_coarsest_level_first_then_streams_the_rest(tmp_path, monkeypatch):
    viewer_or_skip()
    data = tmp_path / "data"
    lod = write_streamed_model(data / "spaceport/jobs" / JOB)
    coarsest = f"/lod/{len(lod['levels']) - 1}_"
    # The server holds back every finer level until the test has seen the first picture.
    served: list[tuple[str, int]] = []
    release = threading.Event()
    send_file = ViewerHandler._send_file

    def gated(self, root: Path, relative: str) -> None:
        if "/lod/" in relative and coarsest not in relative and not relative.endswith("lod-meta.json"):
            release.wait(60)
        if "/compress/" in relative:
            served.append((relative.split("/compress/")[1], (root / relative).stat().st_size))
        send_file(self, root, relative)

    monkeypatch.setattr(ViewerHandler, "_send_file", gated)
    server = make_server(data)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    browser = Browser(CHROMIUM, tmp_path / "profile")
    url = f"http://127.0.0.1:{server.server_address[1]}/?webgl&noui&noanim&load=/files/spaceport/jobs/{JOB}"
    try:
        blank = watch(browser, url + "/compress/none/lod-meta.json", seconds=5)
        first = watch(browser, url + "/compress/lod/lod-meta.json", seconds=90, until=lambda c: c.std() > 15.0)
        before = list(served)
        release.set()
        final = watch(browser, url + "/compress/lod/lod-meta.json", seconds=90, until=lambda c: c.std() > 15.0)
    finally:
        release.set()
        browser.close()
        server.shutdown()
        server.server_close()
    # THEN the first picture shows the ball while only the manifest and the coarsest level were fetched
    assert first.std() > 15.0 and (np.abs(first - blank).max(axis=2) > 30).mean() > 0.05
    names = {name for name, _ in before}
    assert "lod/lod-meta.json" in names and all(n.startswith(coarsest[1:]) or n.endswith("lod-meta.json") for n in names)
    assert sum(size for _, size in before) == lod["first_render_bytes"]
    # and once released the viewer fetched the full level too (the ball needs far less than its budget)
    assert any(name.startswith("lod/0_") for name, _ in served)
    assert final.std() > 15.0
