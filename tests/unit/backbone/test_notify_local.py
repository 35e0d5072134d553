"""Local results tell the truth: the email names files on this machine (no s3://, no expiring
links, no localhost link without the command that serves it) and carries the preview; report.html
stands alone with its previews embedded and says what each figure means; report.json records the
settings the stages ran with, not the request."""

from __future__ import annotations

import email
import email.policy
import io
import json
from datetime import UTC, datetime

import pytest
from PIL import Image

from services.notify import logic as notify
from shared.adapters.local import FileObjectStore, OutboxMailer
from shared.events import CompressionCompleted
from shared.jobs import Job, JobState, StageRecord
from shared.layout import new_job_id, stage_uri
from shared.options import JobOptions
from shared.ports import Envelope
from tests.support.fakes import BUCKET, FakeWorld, test_pipeline
from tests.support.sagemaker import METRICS

JOB_ID = new_job_id("notify-local")
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
TRAINED_WITH = {"steps": 1500, "image_width": 320, "image_height": 213, "sh_degree": 1, "max_gaussians": 20_000,
                "device": "cpu", "strategy": "default", "rasterizer": "cpu-kernel"}  # fmt: skip


def jpeg(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 24), colour).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def world(tmp_path):
    world = FakeWorld(store=FileObjectStore(tmp_path / "data"))
    stages = {
        s: StageRecord(status="succeeded", run_name=f"r-{s}", instance_type="local", started_at=NOW, duration_s=60.0)
        for s in ("sfm", "train", "compress")
    }
    world.table.create(
        Job(job_id=JOB_ID, owner="local", email="me@spaceport.localhost", inbox_uri=f"s3://{BUCKET}/inbox/roof-1/",
            options=JobOptions(preset="preview"), photo_count=16, photo_bytes=10**7, state=JobState.COMPRESS_DONE,
            created_at=NOW, updated_at=NOW, stages=stages)
    )  # fmt: skip
    metrics = {**METRICS, "train": {**METRICS["train"], **TRAINED_WITH}}
    for stage, body in metrics.items():
        world.store.put_bytes(stage_uri(BUCKET, JOB_ID, stage) + "metrics.json", json.dumps(body).encode())
    train = stage_uri(BUCKET, JOB_ID, "train")
    world.store.put_bytes(train + "previews/IMG_0000.png", b"\x89PNG")
    world.store.put_bytes(train + "previews/IMG_0000.jpg", jpeg((200, 30, 30)))
    world.store.put_bytes(train + "previews/IMG_0008.jpg", jpeg((30, 200, 30)))
    world.store.put_bytes(stage_uri(BUCKET, JOB_ID, "compress") + "model.sog", b"PK")
    return world


def finish(world, command="spaceport view {job_id} --data-dir /d") -> None:
    event = CompressionCompleted(job_id=JOB_ID, compress_uri=stage_uri(BUCKET, JOB_ID, "compress"),
                                 sog_uri=stage_uri(BUCKET, JOB_ID, "compress") + "model.sog", sog_bytes=2,
                                 ply_bytes=48, duration_s=60)  # fmt: skip
    pipeline = test_pipeline(delivery="files", viewer_command=command)
    notify.handle(Envelope("spaceport", "CompressionCompleted", event.model_dump(mode="json"), "e1"), world.ports, pipeline)


def test_the_local_email_names_paths_and_the_viewer_command_and_carries_the_preview(world, tmp_path):
    finish(world)
    (sent,) = world.mailer.sent
    for body in (sent.text, sent.html):
        assert "s3://" not in body and "expire" not in body
        assert f"spaceport view {JOB_ID} --data-dir /d" in body
        assert str(tmp_path / "data" / BUCKET / "inbox/roof-1") in body  # the photos' copy, as a path
        assert str(tmp_path / "data" / BUCKET / "jobs" / JOB_ID / "compress/model.sog") in body
        assert body.count("127.0.0.1:8765") == 1 and "while it runs" in body
    assert [image.content_id for image in sent.inline_images] == ["preview-0@spaceport.local", "preview-1@spaceport.local"]
    assert all(f"cid:{image.content_id}" in sent.html for image in sent.inline_images)


def test_the_outbox_message_shows_the_preview_inline(world, tmp_path):
    finish(world)
    (sent,) = world.mailer.sent
    path = OutboxMailer(tmp_path / "outbox").send(sent)
    message = email.message_from_bytes(next((tmp_path / "outbox").glob("*.eml")).read_bytes(), policy=email.policy.default)
    images = [part for part in message.walk() if part.get_content_maintype() == "image"]
    assert len(images) == 2 and images[0]["Content-ID"] == "<preview-0@spaceport.local>"
    assert Image.open(io.BytesIO(images[0].get_content())).size == (64, 24)
    assert path


def test_report_html_embeds_the_previews_and_explains_the_figures(world):
    finish(world)
    page = world.store.get_bytes(stage_uri(BUCKET, JOB_ID, "notify") + "report.html").decode()
    assert page.count("data:image/jpeg;base64,") == 2
    assert "<img src=\"http" not in page and "<link" not in page and "<script" not in page
    assert "27.40 dB" in page and ">good<" in page  # 27.4 dB held-out PSNR is in the good band
    assert "never trained on" in page and "+6 dB halves" in page


def test_report_json_records_the_settings_the_stages_ran_with(world):
    finish(world)
    report = json.loads(world.store.get_bytes(stage_uri(BUCKET, JOB_ID, "notify") + "report.json"))
    settings = report["settings"]
    assert {k: settings[k] for k in TRAINED_WITH} == TRAINED_WITH
    assert settings["requested"]["max_image_size"] == 320 and settings["requested"]["sh_degree"] == 1
    assert report["options"]["max_image_size"] is None  # the request: the preset decides
    assert report["viewer_command"] == f"spaceport view {JOB_ID} --data-dir /d"
    assert all(url.startswith("file://") for url in report["links"].values())


def test_settings_a_stage_did_not_record_are_null_not_the_request(world):
    world.store.put_bytes(stage_uri(BUCKET, JOB_ID, "train") + "metrics.json", json.dumps(METRICS["train"]).encode())
    finish(world)
    report = json.loads(world.store.get_bytes(stage_uri(BUCKET, JOB_ID, "notify") + "report.json"))
    assert report["settings"]["sh_degree"] is None and report["settings"]["steps"] is None


def test_a_local_failure_email_names_the_report_and_the_photos_copy_as_paths(world, tmp_path):
    from shared.causes import CauseCode
    from shared.events import JobFailed

    world.table.items[JOB_ID]["state"] = "sfm_running"
    event = JobFailed(job_id=JOB_ID, stage="sfm", cause=CauseCode.LOW_REGISTRATION, message="3 of 16 photos placed",
                      advice="Take photos with 60-80% overlap")  # fmt: skip
    pipeline = test_pipeline(delivery="files", viewer_command="spaceport view {job_id}")
    notify.handle(Envelope("spaceport", "JobFailed", event.model_dump(mode="json"), "f1"), world.ports, pipeline)
    (sent,) = world.mailer.sent
    report = tmp_path / "data" / BUCKET / "jobs" / JOB_ID / "notify/report.html"
    assert str(report) in sent.text and report.is_file()
    assert "s3://" not in sent.text and str(tmp_path / "data" / BUCKET / "inbox/roof-1") in sent.text
    assert "3 of 16 photos placed" in sent.text and "60-80% overlap" in sent.text


def test_photos_the_sfm_stage_skipped_or_could_not_place_are_named_once_of_the_photos_it_had(world):
    """17 photos submitted, 1 unreadable: the solve had 16 and placed 15. The report and the email
    name the unreadable one once, and the unplaced one as '1 of 16'."""
    skipped = "1 photo could not be read and was skipped: DSC_trunc.JPG"
    sfm = {**METRICS["sfm"], "images_in": 16, "images_registered": 15, "unplaced_photos": ["DSC_0434.JPG"],
           "photos_skipped": [skipped], "warnings": [skipped, "1 of 16 photos could not be placed in 3D"]}
    world.store.put_bytes(stage_uri(BUCKET, JOB_ID, "sfm") + "metrics.json", json.dumps(sfm).encode())
    world.table.items[JOB_ID]["photo_count"] = 17
    finish(world)
    (sent,) = world.mailer.sent
    page = world.store.get_bytes(stage_uri(BUCKET, JOB_ID, "notify") + "report.html").decode()
    for body in (sent.text, sent.html, page):
        assert body.count(skipped) == 1
        assert "DSC_0434.JPG (1 of 16)" in body and "1: DSC_0434" not in body
    assert "Not placed in 3D: DSC_0434.JPG (1 of 16)" in sent.text
    report = json.loads(world.store.get_bytes(stage_uri(BUCKET, JOB_ID, "notify") + "report.json"))
    assert report["photos"]["skipped"] == [skipped]
