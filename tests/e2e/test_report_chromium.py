"""report.html stands alone: opened from disk in headless Chromium with the network off, it shows
its embedded previews and the figures with their bands. Skips without `chromium`.

Set SPACEPORT_SCREENSHOTS=DIR to keep the screenshot for a person to look at."""

from __future__ import annotations

import io
import os
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from services.notify.page import Preview, render_html
from services.notify.report import build_report
from shared.jobs import Job, JobState, StageRecord
from shared.options import JobOptions
from tests.support.sagemaker import METRICS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from cdp import Browser  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
RED, GREEN = (220, 20, 20), (20, 200, 40)


def preview(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1200, 400), colour).save(out, "JPEG", quality=90)
    return out.getvalue()


def report_page(tmp_path: Path) -> Path:
    stages = {s: StageRecord(status="succeeded", run_name=s, instance_type="local", started_at=NOW, duration_s=90.0)
              for s in ("sfm", "train", "compress")}  # fmt: skip
    job = Job(job_id="r" * 20, owner="local", email="me@spaceport.localhost", inbox_uri="s3://spaceport/inbox/x/",
              options=JobOptions(preset="preview"), photo_count=16, photo_bytes=1, state=JobState.SUCCEEDED,
              created_at=NOW, updated_at=NOW, stages=stages)  # fmt: skip
    metrics = {**METRICS, "train": {**METRICS["train"], "psnr": 23.1, "ssim": 0.71, "steps": 1500, "image_width": 320,
                                   "image_height": 213, "sh_degree": 1, "max_gaussians": 20000, "device": "cpu",
                                   "strategy": "default"}}  # fmt: skip
    links = {"model.sog": (tmp_path / "model.sog").as_uri()}
    report = build_report(job, metrics, links, NOW, "spaceport view " + "r" * 20)
    page = tmp_path / "report.html"
    page.write_text(render_html(report, [Preview("IMG_0000", preview(RED)), Preview("IMG_0008", preview(GREEN))]))
    return page


def colour_share(pixels: np.ndarray, colour: tuple[int, int, int]) -> float:
    return float((np.abs(pixels - np.array(colour, np.float32)).max(axis=2) < 40).mean())


def test_the_report_page_shows_its_previews_offline(tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (make chromium)")
    page = report_page(tmp_path)
    browser = Browser(CHROMIUM, tmp_path / "profile", width=900, height=2400)
    try:
        session = browser.open(page.as_uri())
        browser.call("Network.enable", session=session)
        browser.call(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
            session=session,
        )
        time.sleep(2.0)
        shot = browser.screenshot(session)
    finally:
        browser.close()
    if os.environ.get("SPACEPORT_SCREENSHOTS"):
        Path(os.environ["SPACEPORT_SCREENSHOTS"], "report.png").write_bytes(shot)
    pixels = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"), dtype=np.float32)
    assert colour_share(pixels, RED) > 0.03 and colour_share(pixels, GREEN) > 0.03  # both previews drawn
    assert colour_share(pixels, (138, 97, 0)) > 0.0001  # a "fair" badge (PSNR 23.1 dB)
