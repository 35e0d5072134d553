"""The photo cases of issue #10 that the cloud ingest sees, under moto: files land in
`inbox/<name>/**` (any depth), the manifest last; the ingest Lambda accepts the set (and names what
it left out) or refuses it by email. Readability by decoding is the SfM stage's (see
tests/unit/sfm/test_photo_corpus.py, which runs the same corpus through ingest and SfM)."""

from __future__ import annotations

import json

import pytest

from shared.causes import CauseCode
from shared.jobs import JobState
from tests.e2e.test_cloud_choreography import only_job, sent_emails
from tests.support.aws_env import SpaceportAws
from tests.support.lambda_pump import Pump
from tests.support.photo_files import encode, jpeg, motion_photo, texture


def upload(env: SpaceportAws, files: dict[str, bytes], name: str = "site") -> None:
    s3 = env.client("s3")
    for key, body in files.items():
        s3.put_object(Bucket=env.bucket, Key=f"inbox/{name}/{key}", Body=body)
    manifest = json.dumps({"email": "pilot@example.com"}).encode()
    s3.put_object(Bucket=env.bucket, Key=f"inbox/{name}/job.json", Body=manifest)


def plain(count: int = 8, name: str = "IMG_{:04d}.jpg", first_seed: int = 0) -> dict[str, bytes]:
    return {name.format(k): jpeg(first_seed + k) for k in range(count)}


CASES = {
    "motion photos": ({f"MVIMG_{k}.jpg": motion_photo(k) for k in range(8)}, 8, ()),
    "sync copies": (
        {**plain(), "IMG_0001 (1).jpg": jpeg(1), "IMG_0002 (1).jpg": jpeg(2)},
        8,
        ("IMG_0001 (1).jpg (= IMG_0001.jpg)", "IMG_0002 (1).jpg (= IMG_0002.jpg)"),
    ),
    "LZW TIFF": ({f"T_{k}.tif": encode(texture(k), "TIFF", compression="tiff_lzw") for k in range(8)}, 8, ()),
    "DJI card layout": (
        {f"DCIM/{100 + k // 4}MEDIA/DJI_{k % 4:04d}.JPG": jpeg(k) for k in range(8)},
        8,
        (),
    ),
    "sub-folder with a space": ({**plain(4), **plain(4, "second pass/P_{}.jpg", first_seed=10)}, 8, ()),
    "masks beside the photos": (
        {**plain(), **{f"masks/IMG_{k:04d}.png": encode(texture(k)[..., 0], "PNG") for k in range(8)}},
        8,
        (),
    ),
    "RAW next to JPEGs, videos, hidden files": (
        {**plain(), "IMG_0001.DNG": b"II*\x00" + b"\x00" * 60, "DJI_0001.MP4": b"\x00" * 64, ".DS_Store": b"x"},
        8,
        ("IMG_0001.DNG", "DJI_0001.MP4", ".DS_Store"),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_ingest_lambda_accepts_what_the_cli_and_sfm_accept(case, cloud: SpaceportAws):
    files, count, mentions = CASES[case]
    upload(cloud, files)
    Pump(cloud).run(consumers=("ingest",))
    job = only_job(cloud)
    assert job.state is JobState.SUBMITTED and job.photo_count == count, job.failure
    text = " ".join(job.warnings)
    for mention in mentions:
        assert mention in text, text
    listed = cloud.client("s3").list_objects_v2(Bucket=cloud.bucket, Prefix="inbox/site/")["KeyCount"]
    assert listed == len(files) + 1  # nothing written, moved or deleted in the inbox


def test_a_set_of_raw_files_only_is_refused_by_email_with_the_reason(cloud: SpaceportAws):
    upload(cloud, {f"DJI_{k:04d}.DNG": b"II*\x00" + bytes([k]) * 60 for k in range(9)})
    Pump(cloud).run(consumers=("ingest", "notify"))
    job = only_job(cloud)
    assert job.state is JobState.FAILED and job.failure.cause is CauseCode.UNREADABLE_IMAGES
    (email,) = sent_emails()
    assert "DJI_0000.DNG" in email.body and "RAW" in email.body and "s3://" not in job.failure.message


def test_a_job_json_inside_a_sub_folder_does_not_start_a_second_job(cloud: SpaceportAws):
    files = {**plain(), "DCIM/job.json": json.dumps({"email": "pilot@example.com"}).encode()}
    upload(cloud, files)
    Pump(cloud).run(consumers=("ingest",))
    assert only_job(cloud).photo_count == 8


def test_a_drone_video_alone_is_a_cloud_job_and_its_proxy_is_named(cloud: SpaceportAws):
    from tests.support.videos import video_bytes

    srt = b"1\n00:00:00,000 --> 00:00:00,100\n[latitude: 47.1] [longitude: 8.2] [altitude: 450.0]\n"
    upload(cloud, {"DCIM/100MEDIA/DJI_0001.MP4": video_bytes(".mp4"), "DCIM/100MEDIA/DJI_0001.SRT": srt,
                   "DCIM/100MEDIA/DJI_0001.LRV": video_bytes(".mp4", frames=3)})
    Pump(cloud).run(consumers=("ingest",))
    job = only_job(cloud)
    assert job.state is JobState.SUBMITTED and (job.photo_count, job.video_count) == (0, 1), job.failure
    assert any("DJI_0001.LRV" in w for w in job.warnings)


def test_a_download_page_saved_as_a_video_is_refused_by_email(cloud: SpaceportAws):
    upload(cloud, {"flight.mp4": b"<!DOCTYPE html><title>Sign in</title>" * 20})
    Pump(cloud).run(consumers=("ingest", "notify"))
    job = only_job(cloud)
    assert job.state is JobState.FAILED and job.failure.cause is CauseCode.UNREADABLE_VIDEO
    (email,) = sent_emails()
    assert "flight.mp4" in email.body and "MP4" in email.body
