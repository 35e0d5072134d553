"""`spaceport view` shows the job's model.sog in the SuperSplat viewer: a headless Chromium
screenshot has the scene in it, not a blank canvas.

Needs the Debian `chromium` package and the npm viewer package in .node/
(`npm install --prefix .node @playcanvas/supersplat-viewer@1.36.2`); skips without them."""

from __future__ import annotations

import io
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spaceport.viewer.server import ViewerMissing, find_viewer_package, make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from cdp import Browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
JOB = "v" * 20


def viewer_or_skip() -> Path:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    try:
        return find_viewer_package()
    except ViewerMissing as exc:
        pytest.skip(str(exc))


def write_model_sog(job_dir: Path) -> None:
    """A coloured ball of Gaussians, compressed by the real compress stage program."""
    compress = pytest.importorskip("services.compress.container.program")
    from services.compress.container.config import Config
    from services.compress.container.ply import write_ply
    from services.compress.container.splats import Splats

    rng = np.random.default_rng(0)
    n = 4000
    means = rng.normal(size=(n, 3)).astype(np.float32)
    means /= np.linalg.norm(means, axis=1, keepdims=True)  # [N, 3] on the unit sphere
    colours = (means + 1.0) / 2.0  # [N, 3] position-coded rgb in [0, 1]
    splats = Splats(
        means=means,
        quats=np.tile(np.array([1, 0, 0, 0], np.float32), (n, 1)),
        log_scales=np.full((n, 3), np.log(0.06), np.float32),
        opacities=np.full(n, 4.0, np.float32),
        sh0=((colours - 0.5) / 0.28209479).astype(np.float32),
        sh_rest=np.zeros((n, 0), np.float32),
    )
    train = job_dir / "train"
    train.mkdir(parents=True)
    write_ply(train / "model.ply", splats)
    out = job_dir / "compress"
    out.mkdir()
    compress.run(Config(keep_sh=False), train, out)
    assert (out / "model.sog").is_file()


def centre_of(png: bytes) -> np.ndarray:
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float32)  # [H, W, 3]
    h, w, _ = pixels.shape
    return pixels[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]


def watch(browser: Browser, url: str, seconds: float, until=None) -> np.ndarray:
    """Screenshots of `url` once a second; the centre region of the last one (or of the first
    one that satisfies `until`)."""
    session = browser.open(url)
    deadline = time.monotonic() + seconds
    while True:
        centre = centre_of(browser.screenshot(session))
        if (until is not None and until(centre)) or time.monotonic() > deadline:
            return centre
        time.sleep(1.0)


def test_view_serves_the_job_model_and_the_browser_draws_the_scene(tmp_path):
    viewer_or_skip()
    data = tmp_path / "data"
    job_dir = data / "spaceport/jobs" / JOB
    write_model_sog(job_dir)
    info = {
        "content": f"/files/spaceport/jobs/{JOB}/compress/model.sog",
        "settings": "/settings.json",
        "report": None,
        "summary": f"job {JOB}",
    }
    server = make_server(data, job=info)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    browser = Browser(CHROMIUM, tmp_path / "profile")
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        # The same page with a model that does not exist: the empty canvas to compare with.
        blank = watch(browser, base + "?webgl&noui&load=/files/none.sog", seconds=5)
        scene = watch(browser, base + "?webgl&noui", seconds=90, until=lambda c: c.std() > 15.0)
    finally:
        browser.close()
        server.shutdown()
        server.server_close()
    assert blank.std() < 3.0, "the comparison page should be an empty canvas"
    assert scene.std() > 15.0, "the centre of the viewer stayed blank"
    changed = np.abs(scene - blank).max(axis=2) > 30
    assert changed.mean() > 0.05, f"only {changed.mean():.1%} of the centre shows the model"


def test_server_refuses_paths_outside_the_data_dir(tmp_path):
    import urllib.error
    import urllib.request

    viewer_dir = viewer_or_skip()
    (tmp_path / "data/spaceport").mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("no")
    server = make_server(tmp_path / "data", viewer_dir=viewer_dir)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        with urllib.request.urlopen(f"{base}/settings.json") as response:
            assert b'"version": 2' in response.read()
        for path in (
            "/files/../secret.txt",
            "/files/%2e%2e/secret.txt",
            "/supersplat/../../../../etc/passwd",
        ):
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(base + path)
            assert info.value.code == 404
    finally:
        server.shutdown()
        server.server_close()


def colmap_camera_looking_at_origin(centre: np.ndarray) -> dict:
    """A COLMAP camera at `centre` looking at the origin, image up = world -y (upright), as the
    viewer's settings camera (spaceport.viewer.camera)."""
    from spaceport.viewer.camera import viewer_pose

    forward = -centre / np.linalg.norm(centre)
    down = np.array([0.0, 1.0, 0.0])
    right = np.cross(down, forward)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward])  # rows: camera x, y, z in world coordinates
    position, ahead, _, _ = viewer_pose(rotation, -rotation @ centre, np.zeros((1, 3)))
    return {"position": position.tolist(), "target": (position + np.linalg.norm(centre) * ahead).tolist(), "fov": 50}


def test_the_viewer_opens_on_the_colmap_camera_it_is_given(tmp_path):
    """The ball's colour codes COLMAP position (red = x, green = y): from a camera at COLMAP +x the
    viewer must show the red side, from -x the side without red, and with the photo's up (COLMAP -y,
    less green) at the top. This pins the COLMAP -> viewer frame."""
    from spaceport.viewer.server import viewer_settings

    viewer_or_skip()
    data = tmp_path / "data"
    write_model_sog(data / "spaceport/jobs" / JOB)
    info = {"content": f"/files/spaceport/jobs/{JOB}/compress/model.sog", "settings": "/settings.json",
            "report": None, "summary": "", "still": True}  # fmt: skip
    browser = Browser(CHROMIUM, tmp_path / "profile")
    reds, greens = {}, {}
    try:
        for side in (+1.0, -1.0):
            camera = colmap_camera_looking_at_origin(np.array([4.0 * side, 0.0, 0.0]))
            server = make_server(data, job=info, settings=viewer_settings(camera))
            threading.Thread(target=server.serve_forever, daemon=True).start()
            url = f"http://127.0.0.1:{server.server_address[1]}/?webgl&noui"
            centre = watch(browser, url, seconds=90, until=lambda c: c.std() > 15.0)
            server.shutdown()
            server.server_close()
            h, w, _ = centre.shape
            reds[side] = float(centre[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3, 0].mean())
            greens[side] = (float(centre[: h // 4, :, 1].mean()), float(centre[-h // 4 :, :, 1].mean()))
    finally:
        browser.close()
    assert reds[+1.0] > 150 and reds[-1.0] < 110, reds
    top, bottom = greens[+1.0]
    assert top + 40 < bottom, greens
