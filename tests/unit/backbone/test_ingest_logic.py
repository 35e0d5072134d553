import json

import pytest

from services.ingest import logic
from services.ingest.logic import SubmitRequest
from services.ingest.photos import PhotoLimits
from shared.causes import CauseCode
from shared.errors import NotFoundError, UserInputError
from shared.events import JobCancelRequested, JobFailed, JobSubmitted
from shared.jobs import JobState
from shared.ports import Envelope
from tests.support.fakes import BUCKET, FakeWorld, test_pipeline
from tests.support.photos import jpeg_bytes

INBOX = f"s3://{BUCKET}/inbox/roof/"
ALICE = "arn:aws:iam::111122223333:user/alice"
BOB = "arn:aws:iam::111122223333:user/bob"


@pytest.fixture
def world():
    world = FakeWorld()
    for i in range(10):
        world.store.put_bytes(f"{INBOX}IMG_{i:03d}.jpg", jpeg_bytes(i))
    return world


def submit(world, caller=ALICE, **kw):
    request = SubmitRequest(inbox=kw.pop("inbox", "roof"), email=kw.pop("email", "alice@example.com"), **kw)
    return logic.submit_job(request, caller, world.ports, test_pipeline())


def rejection(world) -> UserInputError:
    with pytest.raises(UserInputError) as caught:
        submit(world)
    return caught.value


def test_a_valid_set_is_recorded_and_published_once(world):
    job = submit(world)
    assert job.state is JobState.SUBMITTED and job.photo_count == 10
    assert [type(e) for e in world.bus.events] == [JobSubmitted]
    assert world.table.get(job.job_id).owner == ALICE


def test_client_token_makes_submission_idempotent(world):
    first = submit(world, client_token="t-1")
    second = submit(world, client_token="t-1")
    assert first.job_id == second.job_id
    assert len(world.table.items) == 1


def test_uploaded_photos_are_never_written(world):
    before = dict(world.store.objects)
    submit(world)
    assert all(world.store.objects[uri] == data for uri, data in before.items())
    assert not [w for w in world.store.writes if w.startswith(INBOX) and w in before and world.store.writes.count(w) > 1]


def test_a_file_named_like_a_photo_without_photo_content_is_skipped_and_named(world):
    world.store.put_bytes(f"{INBOX}notes.jpg", b"just some text, not a jpeg at all" * 10)
    job = submit(world)
    assert job.photo_count == 10
    assert any("notes.jpg" in w and "not a photo" in w for w in job.warnings)


def test_an_empty_file_is_skipped_and_named(world):
    world.store.put_bytes(f"{INBOX}zero.jpg", b"")
    assert any("zero.jpg" in w and "empty" in w for w in submit(world).warnings)


def test_readability_is_left_to_the_decoder_not_the_last_bytes(world):
    """A truncated JPEG keeps its signature: ingest accepts it, the SfM stage's decoder judges it
    (a motion photo, with a video after the end marker, must not look "truncated" either)."""
    world.store.put_bytes(f"{INBOX}cut.jpg", jpeg_bytes(99)[:2000])
    world.store.put_bytes(f"{INBOX}motion.jpg", jpeg_bytes(98) + b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 4000)
    job = submit(world)
    assert job.photo_count == 12 and job.warnings == []


def test_a_file_over_the_size_limit_is_skipped_and_named(world):
    limit = max(len(jpeg_bytes(i)) for i in range(10))
    world.store.put_bytes(f"{INBOX}big.jpg", jpeg_bytes(5) + b"\x00" * (limit + 1))
    job = logic.submit_job(
        SubmitRequest(inbox="roof", email="a@example.com"),
        ALICE,
        world.ports,
        test_pipeline(),
        PhotoLimits(max_bytes=limit),
    )
    assert job.photo_count == 10 and any("big.jpg" in w and "size limit" in w for w in job.warnings)


def test_too_few_photos_says_how_many():
    world = FakeWorld()
    for i in range(3):
        world.store.put_bytes(f"{INBOX}IMG_{i}.jpg", jpeg_bytes(i))
    error = rejection(world)
    assert error.cause is CauseCode.TOO_FEW_IMAGES and "found 3" in error.message


def test_identical_copies_are_dropped_with_a_warning_that_names_them(world):
    world.store.put_bytes(f"{INBOX}IMG_003 (1).jpg", jpeg_bytes(3))  # a sync client's copy
    job = submit(world)
    assert job.photo_count == 10
    assert any("IMG_003 (1).jpg (= IMG_003.jpg)" in w for w in job.warnings)


def test_too_few_photos_after_dropping_copies_blames_the_copies():
    world = FakeWorld()
    for i in range(6):
        world.store.put_bytes(f"{INBOX}IMG_{i}.jpg", jpeg_bytes(i))
        world.store.put_bytes(f"{INBOX}IMG_{i} (1).jpg", jpeg_bytes(i))
    error = rejection(world)
    assert error.cause is CauseCode.DUPLICATE_IMAGES and "IMG_0 (1).jpg (= IMG_0.jpg)" in error.message


def test_messages_name_the_inbox_folder_not_an_s3_uri():
    world = FakeWorld()
    world.store.put_bytes(f"{INBOX}IMG_1.jpg", jpeg_bytes(1))
    error = rejection(world)
    assert "inbox folder 'roof'" in error.message and "s3://" not in error.message


def test_nothing_is_recorded_or_published_for_a_rejected_set():
    world = FakeWorld()
    world.store.put_bytes(f"{INBOX}zero.jpg", b"")
    rejection(world)
    assert world.table.items == {} and world.bus.events == []


def manifest_envelope(key="inbox/roof/job.json", etag="e1"):
    return Envelope("aws.s3", "Object Created", {"bucket": {"name": BUCKET}, "object": {"key": key, "etag": etag}})


def test_manifest_drop_submits_the_folder_once_under_duplicate_delivery(world):
    world.store.put_bytes(f"{INBOX}job.json", json.dumps({"email": "a@example.com"}).encode())
    logic.handle(manifest_envelope(), world.ports, test_pipeline())
    logic.handle(manifest_envelope(), world.ports, test_pipeline())
    assert len(world.table.items) == 1
    # A redelivery republishes while the job is still SUBMITTED (at-least-once); same job id.
    assert {e.job_id for e in world.bus.of_type(JobSubmitted)} == set(world.table.items)


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (json.dumps({"options": {}}).encode(), "missing field 'email'"),
        (json.dumps({"email": "a@example.com", "colour": "red"}).encode(), "unknown field 'colour'"),
        (json.dumps({"email": "a@example.com", "options": {"max_image_size": 10}}).encode(), "options.max_image_size"),
        (json.dumps({"email": "a@example.com\nBcc: x@example.com"}).encode(), "email"),
    ],
)
def test_bad_manifests_fail_the_job_with_a_specific_reason(world, manifest, expected):
    world.store.put_bytes(f"{INBOX}job.json", manifest)
    logic.handle(manifest_envelope(), world.ports, test_pipeline())
    (job,) = [world.table.get(j) for j in world.table.items]
    assert job.state is JobState.FAILED and job.failure.cause is CauseCode.INVALID_REQUEST
    assert expected in job.failure.message
    assert world.bus.of_type(JobSubmitted) == []


def test_a_bad_photo_set_from_a_manifest_emails_the_reason():
    world = FakeWorld()
    for i in range(5):
        world.store.put_bytes(f"{INBOX}IMG_{i}.jpg", jpeg_bytes(i))
    world.store.put_bytes(f"{INBOX}zero.jpg", b"")
    world.store.put_bytes(f"{INBOX}job.json", json.dumps({"email": "a@example.com"}).encode())
    logic.handle(manifest_envelope(), world.ports, test_pipeline())
    (failed,) = world.bus.of_type(JobFailed)
    assert failed.stage == "ingest" and "zero.jpg" in failed.message


def test_manifest_outside_the_inbox_is_ignored(world):
    logic.handle(manifest_envelope(key="jobs/x/sfm/job.json"), world.ports, test_pipeline())
    assert world.table.items == {}


def test_a_job_json_in_a_sub_folder_of_an_inbox_is_not_a_manifest(world):
    world.store.put_bytes(f"{INBOX}DCIM/job.json", json.dumps({"email": "a@example.com"}).encode())
    logic.handle(manifest_envelope(key="inbox/roof/DCIM/job.json"), world.ports, test_pipeline())
    assert world.table.items == {}


def test_a_caller_never_sees_or_cancels_another_callers_job(world):
    job = submit(world)
    with pytest.raises(NotFoundError):
        logic.get_job_view(job.job_id, BOB, world.ports, test_pipeline())
    with pytest.raises(NotFoundError):
        logic.cancel_job(job.job_id, BOB, world.ports)
    with pytest.raises(NotFoundError):
        logic.get_job_view("0" * 20, ALICE, world.ports, test_pipeline())
    assert logic.list_jobs(BOB, world.ports, test_pipeline()) == []


def test_status_view_has_an_eta_and_no_links_before_success(world):
    job = submit(world)
    view = logic.get_job_view(job.job_id, ALICE, world.ports, test_pipeline())
    assert view["state"] == "submitted" and view["eta_s"] > 0 and view["links"] == {}


def test_cancel_is_idempotent_and_tells_the_user_once(world):
    job = submit(world)
    logic.cancel_job(job.job_id, ALICE, world.ports)
    logic.cancel_job(job.job_id, ALICE, world.ports)
    assert world.table.get(job.job_id).state is JobState.CANCELLED
    assert len(world.bus.of_type(JobFailed)) == 1
    assert world.bus.of_type(JobCancelRequested) == []  # nothing was running yet


def test_the_job_view_shows_training_progress_while_it_runs(world):
    """Training's outputs reach the bucket when it ends; SageMaker syncs its checkpoint folder
    while it runs, where the program keeps a copy of progress.json (shared/stage.py)."""
    from datetime import UTC, datetime

    from shared.jobs import StageRecord
    from shared.layout import checkpoint_uri

    job = submit(world)
    assert logic.get_job_view(job.job_id, ALICE, world.ports, test_pipeline())["progress"] == {}
    job.stages["train"] = StageRecord(status="running", run_name="r", started_at=datetime.now(UTC))
    progress = {"phase": "train", "step": 9000, "total": 30000, "eta_s": 2400.0, "psnr": 24.1}
    assert logic.job_view(job, world.ports, test_pipeline())["progress"] == {}  # not synced yet
    uri = checkpoint_uri(BUCKET, job.job_id) + "progress.json"
    world.store.put_bytes(uri, b'{"phase": "tr')  # caught mid-upload
    assert logic.job_view(job, world.ports, test_pipeline())["progress"] == {}
    world.store.put_bytes(uri, json.dumps(progress).encode())
    assert logic.job_view(job, world.ports, test_pipeline())["progress"] == {"train": progress}
    job.stages["train"] = StageRecord(status="succeeded", run_name="r", started_at=datetime.now(UTC))
    assert logic.job_view(job, world.ports, test_pipeline())["progress"] == {}  # it reports when it ends
