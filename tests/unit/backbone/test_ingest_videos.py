"""Ingest takes videos by their first bytes and size, with the same quality of refusals as photos."""

import pytest

from services.ingest import logic
from services.ingest.logic import SubmitRequest
from shared.causes import CauseCode
from shared.errors import UserInputError
from shared.events import JobSubmitted
from shared.photo_formats import MAX_VIDEO_BYTES
from shared.ports import StoredObject
from tests.support.fakes import BUCKET, FakeWorld, test_pipeline
from tests.support.photos import jpeg_bytes
from tests.support.videos import video_bytes

INBOX = f"s3://{BUCKET}/inbox/flight/"
ALICE = "arn:aws:iam::111122223333:user/alice"


def submit(world):
    return logic.submit_job(
        SubmitRequest(inbox="flight", email="alice@example.com"), ALICE, world.ports, test_pipeline()
    )


def refusal(world) -> UserInputError:
    with pytest.raises(UserInputError) as caught:
        submit(world)
    return caught.value


def test_one_video_with_its_telemetry_is_a_job():
    world = FakeWorld()
    world.store.put_bytes(f"{INBOX}DCIM/DJI_0001.MP4", video_bytes(".mp4"))
    world.store.put_bytes(f"{INBOX}DCIM/DJI_0001.SRT", b"1\n00:00:00,000 --> 00:00:00,100\n[latitude: 1]\n")
    world.store.put_bytes(f"{INBOX}DCIM/DJI_0001.LRV", video_bytes(".mp4", frames=3))
    job = submit(world)
    assert job.video_count == 1 and job.photo_count == 0
    assert any("DJI_0001.LRV" in w and "low-resolution copy" in w for w in job.warnings)
    event = world.bus.events[-1]
    assert isinstance(event, JobSubmitted) and event.video_count == 1


def test_videos_and_photos_travel_together():
    world = FakeWorld()
    for i in range(3):
        world.store.put_bytes(f"{INBOX}IMG_{i}.jpg", jpeg_bytes(i))
    world.store.put_bytes(f"{INBOX}walk.mov", video_bytes(".mov"))
    job = submit(world)
    assert (job.photo_count, job.video_count) == (3, 1)


def test_a_file_named_as_a_video_that_is_not_one_is_refused_as_unreadable_video():
    world = FakeWorld()
    world.store.put_bytes(f"{INBOX}clip.mp4", b"<html>this is a download error page</html>" * 10)
    error = refusal(world)
    assert error.cause is CauseCode.UNREADABLE_VIDEO and "clip.mp4" in error.message


def test_a_360_video_alone_is_refused_with_the_reason():
    world = FakeWorld()
    world.store.put_bytes(f"{INBOX}VID_001.insv", video_bytes(".mp4"))
    error = refusal(world)
    assert error.cause is CauseCode.UNREADABLE_VIDEO and "360-degree" in error.message


def test_a_video_over_the_size_limit_is_refused_by_its_listed_size():
    world = FakeWorld()
    world.store.put_bytes(f"{INBOX}long.mp4", video_bytes(".mp4"))
    listed = world.store.list  # the listing says 8 GiB + 1 byte; nothing that big is written
    world.store.list = lambda prefix: [
        StoredObject(o.uri, MAX_VIDEO_BYTES + 1, o.etag) for o in listed(prefix)
    ]
    error = refusal(world)
    assert error.cause is CauseCode.VIDEO_TOO_LARGE and "long.mp4" in error.message
