"""Exactly one email per outcome, with links, figures and cost; failures say why and what to do."""

import json
from datetime import UTC, datetime

import pytest

from services.notify import logic as notify
from services.notify.report import cost_breakdown
from shared.causes import CauseCode
from shared.errors import TransientError
from shared.events import CompressionCompleted, JobFailed, JobNotified
from shared.jobs import Job, JobState, StageRecord
from shared.layout import new_job_id, stage_uri
from shared.options import JobOptions
from shared.ports import Envelope
from tests.support.fakes import BUCKET, FakeWorld, test_pipeline
from tests.support.sagemaker import METRICS

PIPELINE = test_pipeline()
JOB_ID = new_job_id("notify")
STARTED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def done_job(state=JobState.COMPRESS_DONE) -> Job:
    stages = {
        stage: StageRecord(status="succeeded", run_name=f"spaceport-{stage}-{JOB_ID}-a1", instance_type=instance,
                           started_at=STARTED, duration_s=seconds)
        for stage, instance, seconds in (
            ("sfm", "ml.c6i.2xlarge", 1800.0), ("train", "ml.g4dn.xlarge", 3600.0), ("compress", "ml.c6i.4xlarge", 600.0)
        )
    }
    return Job(job_id=JOB_ID, owner="me", email="a@example.com", inbox_uri=f"s3://{BUCKET}/inbox/site/",
               options=JobOptions(), photo_count=40, photo_bytes=10**7, state=state, created_at=STARTED,
               updated_at=STARTED, stages=stages)


@pytest.fixture
def world():
    world = FakeWorld()
    world.table.create(done_job())
    for stage, metrics in METRICS.items():
        world.store.put_bytes(stage_uri(BUCKET, JOB_ID, stage) + "metrics.json", json.dumps(metrics).encode())
    world.store.put_bytes(stage_uri(BUCKET, JOB_ID, "train") + "previews/view_000.png", b"png")
    return world


def success(event_id="evt-1"):
    event = CompressionCompleted(job_id=JOB_ID, compress_uri=stage_uri(BUCKET, JOB_ID, "compress"),
                                 sog_uri=stage_uri(BUCKET, JOB_ID, "compress") + "model.sog", sog_bytes=1_200_000,
                                 ply_bytes=29_760_000, duration_s=600)
    return Envelope("spaceport", "CompressionCompleted", event.model_dump(mode="json"), event_id=event_id)


def failure(cause=CauseCode.LOW_REGISTRATION, event_id="evt-f"):
    event = JobFailed(job_id=JOB_ID, stage="sfm", cause=cause, message="3 of 40 photos registered (7.5%)",
                      advice="Take photos with 60-80% overlap")
    return Envelope("spaceport", "JobFailed", event.model_dump(mode="json"), event_id=event_id)


def test_success_sends_one_email_with_viewer_preview_figures_and_cost(world):
    notify.handle(success(), world.ports, PIPELINE)
    (email,) = world.mailer.sent
    assert email.to == "a@example.com" and "ready" in email.subject
    assert "superspl.at/editor?load=" in email.html and "preview.png" in email.html
    assert "27.40 dB" in email.text and "$1.08" in email.text  # 0.5 h c6i.2x + 1 h g4dn.x + 10 min c6i.4x
    assert world.table.get(JOB_ID).state is JobState.SUCCEEDED
    assert world.bus.of_type(JobNotified)[0].outcome == "succeeded"


def test_every_link_expires_within_seven_days(world):
    notify.handle(success(), world.ports, PIPELINE)
    links = [part.split('"')[0] for part in world.mailer.sent[0].html.split('href="')[1:]]
    assert links and all("expires=604800" in link or "expires%3D604800" in link for link in links)


def test_duplicate_and_concurrent_deliveries_send_one_email(world):
    notify.handle(success("evt-1"), world.ports, PIPELINE)
    notify.handle(success("evt-1"), world.ports, PIPELINE)
    notify.handle(success("evt-2"), world.ports, PIPELINE)
    assert len(world.mailer.sent) == 1


def test_ses_failure_is_retried_without_a_duplicate(world):
    world.mailer.fail_next = 1
    with pytest.raises(TransientError):
        notify.handle(success(), world.ports, PIPELINE)
    assert world.mailer.sent == []
    notify.handle(success(), world.ports, PIPELINE)
    notify.handle(success(), world.ports, PIPELINE)
    assert len(world.mailer.sent) == 1


def test_report_json_is_written_with_its_schema_version(world):
    notify.handle(success(), world.ports, PIPELINE)
    report = json.loads(world.store.get_bytes(stage_uri(BUCKET, JOB_ID, "notify") + "report.json"))
    assert report["schema_version"] == 1
    assert report["quality"]["psnr"] == 27.4 and report["model"]["compression_ratio"] == 24.8
    assert report["cost"]["total"] == pytest.approx(0.204 + 0.736 + 0.136, abs=1e-3)
    assert "Held-out PSNR" in world.store.get_bytes(stage_uri(BUCKET, JOB_ID, "notify") + "report.html").decode()


def test_failure_email_gives_cause_and_advice_and_says_photos_are_kept(world):
    world.table.items[JOB_ID]["state"] = "sfm_running"
    notify.handle(failure(), world.ports, PIPELINE)
    (email,) = world.mailer.sent
    assert "could not build" in email.subject
    assert "7.5%" in email.text and "60-80% overlap" in email.text and "kept unchanged" in email.text
    assert world.table.get(JOB_ID).state is JobState.FAILED


def test_one_email_per_outcome_even_when_two_failures_arrive(world):
    world.table.items[JOB_ID]["state"] = "train_running"
    notify.handle(failure(event_id="a"), world.ports, PIPELINE)
    notify.handle(failure(CauseCode.CANCELLED, event_id="b"), world.ports, PIPELINE)
    assert len(world.mailer.sent) == 1


def test_cancellation_email_says_cancelled(world):
    world.table.items[JOB_ID]["state"] = "cancelled"
    notify.handle(failure(CauseCode.CANCELLED), world.ports, PIPELINE)
    assert "cancelled" in world.mailer.sent[0].subject


def test_a_success_for_a_cancelled_job_sends_nothing(world):
    world.table.items[JOB_ID]["state"] = "cancelled"
    notify.handle(success(), world.ports, PIPELINE)
    assert world.mailer.sent == []


def test_cost_uses_measured_durations_and_the_price_table():
    cost = cost_breakdown(done_job())
    assert cost["per_stage"] == {"sfm": 0.204, "train": 0.736, "compress": 0.136}


def test_a_local_run_reports_what_the_cloud_would_cost(world):
    for stage in ("sfm", "train", "compress"):
        world.table.items[JOB_ID]["stages"][stage]["instance_type"] = "local"
    notify.handle(success(), world.ports, PIPELINE)
    text = world.mailer.sent[0].text
    assert "The same job in the cloud (estimate): about $" in text and "$0.00" not in text


COMPRESS_WITH_ALL_OUTPUTS = {
    "status": "succeeded", "splats_in": 2_000_000, "splats_out": 1_990_000, "ply_bytes": 494_000_000,
    "sog_bytes": 22_000_000, "ratio": 22.5,
    "lod": {"levels": [1_990_000, 1_040_000, 560_000, 300_000], "files": 64, "bytes": 43_000_000,
            "first_render_bytes": 3_400_000, "encode_seconds": 300.0},
    "outputs": [
        {"path": "model.sog", "format": "sog", "bytes": 22_000_000, "files": 1},
        {"path": "sog/", "format": "sog-unbundled", "bytes": 21_990_000, "files": 8},
        {"path": "model.spz", "format": "spz", "bytes": 41_000_000, "files": 1},
        {"path": "lod/", "format": "streamed-sog", "bytes": 43_000_000, "files": 64},
    ],
}  # fmt: skip


def test_report_and_email_list_every_model_file_with_its_size(world):
    # GIVEN a large model: the compress stage wrote model.sog, sog/, model.spz and a streamed lod/
    compress = stage_uri(BUCKET, JOB_ID, "compress")
    world.store.put_bytes(compress + "metrics.json", json.dumps(COMPRESS_WITH_ALL_OUTPUTS).encode())
    # WHEN the success is notified
    notify.handle(success(), world.ports, PIPELINE)
    # THEN the job's outputs include the new files, each linked
    job = world.table.get(JOB_ID)
    assert job.outputs["model.spz"] == compress + "model.spz"
    assert job.outputs["lod/lod-meta.json"] == compress + "lod/lod-meta.json"
    # AND report.json lists PLY, SOG, SPZ and the streamed SOG with sizes and links
    report = json.loads(world.store.get_bytes(stage_uri(BUCKET, JOB_ID, "notify") + "report.json"))
    listed = {entry["name"]: entry for entry in report["outputs"]}
    assert list(listed) == ["model.ply", "model.sog", "model.spz", "lod/"]
    assert listed["model.ply"]["bytes"] == 494_000_000 and listed["model.spz"]["bytes"] == 41_000_000
    assert listed["lod/"]["files"] == 64 and listed["lod/"]["first_render_bytes"] == 3_400_000
    assert all(entry["link"] == report["links"][name] for name, entry in listed.items() if name != "lod/")
    assert listed["lod/"]["link"] == report["links"]["lod/lod-meta.json"]
    # AND the email names each file with its size
    (email,) = world.mailer.sent
    for name, size in (("model.ply", "494 MB"), ("model.sog", "22 MB"), ("model.spz", "41 MB"),
                       ("lod/", "43 MB, 3.4 MB before the first picture")):  # fmt: skip
        assert f"{name}: {size}" in email.text
        assert f"<th align=left>{name}</th><td>{size}</td>" in email.html


def test_report_of_an_older_compress_stage_still_lists_the_sog(world):
    notify.handle(success(), world.ports, PIPELINE)
    report = json.loads(world.store.get_bytes(stage_uri(BUCKET, JOB_ID, "notify") + "report.json"))
    assert [(e["name"], e["bytes"]) for e in report["outputs"]] == [("model.ply", 29_760_000), ("model.sog", 1_200_000)]
    assert "model.spz" not in world.table.get(JOB_ID).outputs
