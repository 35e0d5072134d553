"""A COLMAP model uploaded with the photos (inbox/<name>/sparse/0/) is not part of the photo set:
ingest counts and checks only the photos, and the SfM stage imports the model."""

from __future__ import annotations

from services.ingest import logic
from services.ingest.logic import SubmitRequest
from shared.layout import INBOX_COLMAP_MODEL
from tests.support.fakes import BUCKET, FakeWorld, test_pipeline
from tests.support.photos import jpeg_bytes

INBOX = f"s3://{BUCKET}/inbox/roof/"


def test_a_photo_set_with_a_colmap_model_counts_only_the_photos():
    world = FakeWorld()
    for i in range(10):
        world.store.put_bytes(f"{INBOX}IMG_{i:03d}.jpg", jpeg_bytes(i))
    for name in ("cameras", "images", "points3D"):
        world.store.put_bytes(f"{INBOX}{INBOX_COLMAP_MODEL}0/{name}.bin", b"\x00" * 16)
    job = logic.submit_job(SubmitRequest(inbox="roof", email="a@example.com"), "me", world.ports, test_pipeline())
    assert job.photo_count == 10 and job.options.sfm_mode == "auto"
