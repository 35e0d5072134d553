"""Progress a user can follow while a stage runs (shared/stage.py ProgressReporter, read_stage_progress)."""

from __future__ import annotations

from shared.layout import CHECKPOINTS
from shared.stage import ProgressReporter, StageName, read_progress, read_stage_progress


def test_training_progress_is_found_in_the_checkpoint_folder_while_its_outputs_are_not_there_yet(tmp_path):
    """Before: training wrote progress.json only into its scratch output folder, which reaches
    jobs/<id>/train/ when the job ends, so `spaceport run` showed nothing for minutes (and hours
    at the standard preset). The copy in the checkpoint folder is synced while it runs."""
    job = tmp_path / "jobs/abc"
    scratch = tmp_path / "opt/ml/spaceport-train-output"
    reporter = ProgressReporter(scratch, phase="load", copies=[job / CHECKPOINTS])
    reporter.update(0, 1500, force=True)
    reporter.update(300, 1500, phase="train", psnr=21.5)
    assert read_progress(scratch)["step"] == 300
    progress = read_stage_progress(job, StageName.TRAIN)
    assert progress["phase"] == "train" and progress["step"] == 300 and progress["psnr"] == 21.5
    (job / "train").mkdir()
    (job / "train/progress.json").write_text('{"phase": "done", "step": 1500, "total": 1500}')
    assert read_stage_progress(job, StageName.TRAIN)["phase"] == "done"  # the uploaded outputs win
    assert read_stage_progress(job, StageName.SFM) is None


def test_copies_are_throttled_but_phase_changes_and_the_last_step_always_go_out(tmp_path):
    reporter = ProgressReporter(tmp_path / "out", phase="train", min_interval_s=0.0,
                                copies=[tmp_path / "copy"], copy_interval_s=3600.0)
    reporter.update(1, 100, force=True)
    reporter.update(2, 100)
    assert read_progress(tmp_path / "out")["step"] == 2
    assert read_progress(tmp_path / "copy")["step"] == 1  # each copy is an S3 upload on SageMaker
    reporter.update(3, 100, phase="evaluate")
    assert read_progress(tmp_path / "copy")["phase"] == "evaluate"
    reporter.update(100, 100)
    assert read_progress(tmp_path / "copy")["step"] == 100
