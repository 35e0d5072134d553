"""A delivered model far below what good photos give says so, and why, everywhere a user looks."""

import json

from services.ingest.logic import job_view
from services.notify import logic as notify
from services.notify.emails import Delivery, success_email
from services.notify.page import render_html
from services.notify.report import build_report
from shared.causes import CauseCode, advice_for
from shared.layout import stage_uri
from shared.quality import POOR_PSNR_DB, POOR_REGISTRATION, assess_quality
from spaceport.photos import photo_notes, quality_notes
from tests.support.fakes import BUCKET, FakeWorld
from tests.support.sagemaker import METRICS
from tests.unit.backbone.test_notify_logic import JOB_ID, PIPELINE, STARTED, done_job, success

BLURRED = ["IMG_2.JPG", "IMG_4.JPG", "IMG_6.JPG"]
SHAKEN_SFM = {**METRICS["sfm"], "images_in": 16, "images_registered": 14, "registration_ratio": 0.875,
              "capture": {"dark": [], "blurred": BLURRED, "few_features": [], "focal_tags_ignored": []}}


def test_good_figures_are_not_poor_whatever_the_capture_checks_say():
    assert not assess_quality(SHAKEN_SFM, {"psnr": 26.0}).poor
    assert not assess_quality(METRICS["sfm"], METRICS["train"]).poor


def test_low_psnr_is_poor_and_the_capture_checks_say_why():
    verdict = assess_quality(SHAKEN_SFM, {"psnr": POOR_PSNR_DB - 1.5})
    assert verdict.poor
    assert verdict.reasons[0].startswith("held-out PSNR is 20.5 dB, below 22 dB")
    assert any("3 photos are blurred" in r and "IMG_4.JPG" in r for r in verdict.reasons)
    assert verdict.advice == [advice_for(CauseCode.BLURRED_IMAGES)]


def test_few_photos_placed_is_poor_even_at_a_good_psnr():
    sfm = {**METRICS["sfm"], "images_in": 20, "images_registered": 14, "registration_ratio": 0.7}
    verdict = assess_quality(sfm, {"psnr": 28.0})
    assert 0.7 < POOR_REGISTRATION and verdict.poor
    assert "only 14 of 20 photos (70%)" in verdict.reasons[0]
    assert verdict.advice == [advice_for(CauseCode.LOW_REGISTRATION)]


def test_poor_without_capture_findings_gets_general_advice():
    verdict = assess_quality(METRICS["sfm"], {"psnr": 15.0})
    assert verdict.poor and len(verdict.reasons) == 1 and "higher preset" in verdict.advice[0]


def poor_world() -> FakeWorld:
    world = FakeWorld()
    world.table.create(done_job())
    metrics = {"sfm": SHAKEN_SFM, "train": {**METRICS["train"], "psnr": 19.0}, "compress": METRICS["compress"]}
    for stage, body in metrics.items():
        world.store.put_bytes(stage_uri(BUCKET, JOB_ID, stage) + "metrics.json", json.dumps(body).encode())
    return world


def test_a_poor_model_is_delivered_but_the_email_and_report_do_not_say_ready():
    world = poor_world()
    notify.handle(success(), world.ports, PIPELINE)
    (email,) = world.mailer.sent
    assert "ready" not in email.subject and "quality is poor" in email.subject
    for body in (email.text, email.html):
        assert "held-out PSNR is 19.0 dB" in body and "IMG_4.JPG" in body and "Hold still" in body
        assert "Open it in the browser" in body  # still delivered
    prefix = stage_uri(BUCKET, JOB_ID, "notify")
    report = json.loads(world.store.get_bytes(prefix + "report.json"))
    assert report["quality"]["assessment"]["poor"] is True
    assert report["sfm"]["capture"]["blurred"] == BLURRED
    page = world.store.get_bytes(prefix + "report.html").decode()
    assert "quality is poor" in page and "3 photos are blurred" in page


def test_a_good_model_with_flagged_photos_is_ready_and_names_them():
    job = done_job()
    report = build_report(job, {"sfm": SHAKEN_SFM, "train": METRICS["train"]}, {}, STARTED)
    assert report["quality"]["assessment"] == {"poor": False, "reasons": [], "advice": []}
    email = success_email(job, report, {"viewer": "v"}, Delivery("links", "s3://bucket/inbox/site/"))
    assert "ready" in email.subject and "3 photos are blurred" in email.text
    assert "3 photos are blurred" in render_html(report)


def test_a_local_delivery_says_poor_too():
    job = done_job()
    report = build_report(job, {"sfm": SHAKEN_SFM, "train": {**METRICS["train"], "psnr": 19.0}}, {}, STARTED)
    email = success_email(job, report, {}, Delivery("files", "/tmp/inbox", viewer_command="spaceport view x"))
    assert "quality is poor" in email.subject and "Hold still" in email.text and "ready" not in email.text


def test_status_and_cli_show_the_assessment_and_the_capture_checks():
    world = poor_world()
    job = done_job()
    job.stages["sfm"].metrics = SHAKEN_SFM
    job.stages["train"].metrics = {**METRICS["train"], "psnr": 19.0}
    view = job_view(job, world.ports, PIPELINE)
    assert view["quality"]["poor"] and any("capture check: 3 photos are blurred" in n for n in photo_notes(view))
    lines = quality_notes(view)
    assert lines[0] == "the model's quality is poor:" and any("19.0 dB" in line for line in lines)
    job.stages["train"].metrics = {}
    assert job_view(job, world.ports, PIPELINE)["quality"] is None


def test_one_flagged_photo_reads_in_the_singular():
    from shared.quality import capture_findings

    sentences = capture_findings({"capture": {"dark": ["A.JPG"], "few_features": ["B.JPG"],
                                              "focal_tags_ignored": ["C.JPG"], "blurred": ["D.JPG", "E.JPG"]}})
    assert sentences == [
        "1 photo is dark (underexposed): A.JPG",
        "1 photo shows few features to match: B.JPG",
        "1 photo had implausible focal-length tags (ignored; the focal length was estimated): C.JPG",
        "2 photos are blurred (camera shake or focus): D.JPG, E.JPG",
    ]


def test_ignored_focal_tags_are_reported_with_why():
    """A user saw only 'implausible focal-length tags' while the stage knew the tag and the range."""
    from shared.quality import capture_findings

    sfm = {"capture": {"focal_tags_ignored": ["A.JPG", "B.JPG"],
                       "focal_tag_reasons": ["FocalLengthIn35mmFilm 1 mm is outside 8-2000 mm"]}}
    assert capture_findings(sfm) == [
        "2 photos had implausible focal-length tags (ignored; the focal length was estimated) "
        "(FocalLengthIn35mmFilm 1 mm is outside 8-2000 mm): A.JPG, B.JPG"
    ]
