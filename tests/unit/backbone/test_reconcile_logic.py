"""The reconciler re-delivers exactly the finished compute jobs whose stage still runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.ingest import logic as ingest
from services.ingest.logic import SubmitRequest
from services.reconcile.logic import ReconcilePorts, reconcile
from services.sfm import logic as sfm
from shared.ports import Envelope, JobDescription
from tests.support.fakes import BUCKET, FakeWorld, test_pipeline
from tests.support.photos import jpeg_bytes
from tests.support.sagemaker import description

PIPELINE = test_pipeline()


class Redelivered:
    def __init__(self) -> None:
        self.sent: list[tuple[str, JobDescription]] = []

    def redeliver(self, stage: str, description: JobDescription) -> None:
        self.sent.append((stage, description))


def running_sfm(world: FakeWorld, inbox: str) -> str:
    for i in range(8):
        world.store.put_bytes(f"s3://{BUCKET}/inbox/{inbox}/IMG_{i}.jpg", jpeg_bytes(i))
    job = ingest.submit_job(SubmitRequest(inbox=inbox, email="a@example.com"), "me", world.ports, PIPELINE)
    submitted = world.bus.events[-1]
    sfm.handle(Envelope("spaceport", submitted.detail_type(), submitted.model_dump(mode="json")), world.ports, PIPELINE)
    return job.job_id


def test_only_finished_jobs_past_the_window_are_redelivered_once_each():
    world, sink = FakeWorld(), Redelivered()
    finished, busy, unknown = (running_sfm(world, name) for name in ("a", "b", "c"))
    names = {job_id: world.table.get(job_id).stages["sfm"].run_name for job_id in (finished, busy, unknown)}
    world.launcher.descriptions[names[finished]] = description("sfm", names[finished], "Failed", "x")
    world.launcher.descriptions[names[busy]] = description("sfm", names[busy], "InProgress")
    ports = ReconcilePorts(world.table, world.launcher, sink)
    now = datetime.now(UTC)
    assert reconcile(ports, now, window_s=600) == []  # all started just now: not even described
    assert world.launcher.described == []
    later = now + timedelta(minutes=20)
    (done,) = reconcile(ports, later, window_s=600)
    assert (done.job_id, done.stage, done.status) == (finished, "sfm", "Failed")
    assert [stage for stage, _ in sink.sent] == ["sfm"]
    assert sorted(world.launcher.described) == sorted(names.values())
