"""Messages that work when pasted, and errors a person can read: the executable the user ran,
`--data-dir` when it is not the default, one sentence per bad setting, no folder made by `status`."""

from __future__ import annotations

import io
import os
import shlex
import sys
from datetime import UTC, datetime

import pytest

from shared.jobs import Job, StageRecord
from shared.options import JobOptions
from shared.threads import apply_cpu_thread_defaults, default_thread_count
from spaceport import cli
from spaceport.commands.hints import command_hint, invoked_program, validation_sentences
from spaceport.progress import ProgressView
from tests.support.photos import jpeg_bytes


def test_a_venv_script_not_on_path_is_named_as_typed(monkeypatch, tmp_path):
    script = tmp_path / ".venv/bin/spaceport"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert invoked_program(".venv/bin/spaceport") == ".venv/bin/spaceport"


def test_spaceport_on_path_is_named_plainly(monkeypatch, tmp_path):
    script = tmp_path / "spaceport"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert invoked_program(str(script)) == "spaceport"


def test_python_dash_m_keeps_the_interpreter(monkeypatch):
    program = invoked_program("/repo/spaceport/cli.py")
    assert program.endswith(" -m spaceport.cli")
    assert shlex.split(program)[0] in (sys.executable, os.path.relpath(sys.executable))


def test_hints_carry_a_data_dir_that_is_not_the_default(monkeypatch, tmp_path):
    monkeypatch.setenv("SPACEPORT_DATA_DIR", str(tmp_path / "default"))
    odd = tmp_path / "my data"
    assert command_hint(odd, "resume", "j" * 20).endswith(f"resume {'j' * 20} --data-dir '{odd}'")
    assert "--data-dir" not in command_hint(tmp_path / "default", "resume", "j" * 20)


def test_validation_errors_are_one_sentence_per_flag_without_urls():
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        JobOptions(max_image_size=100, steps=5)
    sentences = validation_sentences(info.value.errors())
    assert sentences == ["--max-image-size 100: must be at least 256.", "--steps 5: must be at least 100."]
    assert not any("http" in s or "pydantic" in s for s in sentences)


def test_a_bad_email_is_one_sentence_and_nothing_is_copied(tmp_path, capsys):
    photos = tmp_path / "p"
    photos.mkdir()
    (photos / "a.jpg").write_bytes(b"\xff\xd8")
    code = cli.main(["run", str(photos), "--email", "not an address", "--data-dir", str(tmp_path / "d")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE
    assert err.strip() == "spaceport: --email: not a valid email address: 'not an address'."
    assert not (tmp_path / "d").exists()


def test_a_bad_option_names_the_flag(tmp_path, capsys):
    code = cli.main(["run", str(tmp_path), "--max-image-size", "10", "--data-dir", str(tmp_path / "d")])
    assert code == cli.EXIT_USAGE
    assert capsys.readouterr().err.strip() == "spaceport: --max-image-size 10: must be at least 256."


def test_status_of_a_missing_data_dir_creates_nothing(tmp_path, capsys):
    missing = tmp_path / "missing"
    assert cli.main(["status", "--data-dir", str(missing)]) == cli.EXIT_OK
    assert "no jobs" in capsys.readouterr().out
    assert cli.main(["status", "j" * 20, "--data-dir", str(missing)]) == cli.EXIT_USAGE
    assert cli.main(["view", "j" * 20, "--no-browser", "--data-dir", str(missing)]) == cli.EXIT_USAGE
    assert not missing.exists()


def test_a_busy_data_dir_says_what_to_do(tmp_path, capsys):
    from spaceport.runtime import LocalRuntime

    photos = tmp_path / "p"
    photos.mkdir()
    for k in range(10):
        (photos / f"IMG_{k}.jpg").write_bytes(jpeg_bytes(k, 64, 48))
    holder = LocalRuntime(tmp_path / "d")
    with holder.running():
        code = cli.main(["run", str(photos), "--preset", "preview", "--data-dir", str(tmp_path / "d")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_ENVIRONMENT
    assert "Ctrl-C" in err and "--data-dir" in err and " status --data-dir " in err


def test_thread_defaults_keep_what_the_user_set():
    env = {"OMP_NUM_THREADS": "8"}
    apply_cpu_thread_defaults(env, cores=16)
    assert env == {"OMP_NUM_THREADS": "8", "OMP_WAIT_POLICY": "PASSIVE"}
    assert [default_thread_count(c) for c in (1, 2, 4, 64)] == [1, 1, 2, 2]


def test_the_cli_sets_thread_defaults_before_torch_loads(monkeypatch, tmp_path):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    cli.main(["status", "--data-dir", str(tmp_path / "none")])
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE" and int(os.environ["OMP_NUM_THREADS"]) >= 1


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_draws_bars_and_keeps_each_finished_stage_line(tmp_path):
    now = datetime.now(UTC)
    job = Job(
        job_id="a" * 20, owner="o", email="a@example.com", inbox_uri="s3://b/inbox/x/", options=JobOptions(),
        photo_count=9, photo_bytes=1, created_at=now, updated_at=now,
    )  # fmt: skip
    (tmp_path / "train").mkdir()
    (tmp_path / "train/progress.json").write_text('{"phase": "train", "step": 300, "total": 1500, "psnr": 21.5}')
    job.stages["train"] = StageRecord(status="running", run_name="r", started_at=now)
    out = Terminal()
    view = ProgressView(out)
    view.update(job, tmp_path)
    job.stages["train"] = StageRecord(
        status="succeeded", run_name="r", started_at=now, duration_s=61.0, metrics={"n_gaussians": 20000, "psnr": 25.0}
    )
    view.update(job, tmp_path)
    view.close()
    text = out.getvalue()
    assert "train    done in 1m01s  20000 Gaussians, PSNR 25.00 dB" in text
    assert "[" not in text.replace("\x1b[", "")  # no hand-drawn [####....] bar


def test_a_stage_that_does_not_know_its_total_yet_shows_on_a_terminal(tmp_path):
    """Before: a running stage without progress.json (or with a phase only) crashed the terminal
    view (rich formatted a None total), and with it `spaceport run` and `make demo` in a terminal."""
    now = datetime.now(UTC)
    job = Job(
        job_id="a" * 20, owner="o", email="a@example.com", inbox_uri="s3://b/inbox/x/", options=JobOptions(),
        photo_count=9, photo_bytes=1, created_at=now, updated_at=now,
    )  # fmt: skip
    job.stages["sfm"] = StageRecord(status="running", run_name="r", started_at=now)
    out = Terminal()
    view = ProgressView(out)
    view.update(job, tmp_path)  # no progress.json yet
    (tmp_path / "sfm").mkdir()
    (tmp_path / "sfm/progress.json").write_text('{"phase": "extract"}')
    view.update(job, tmp_path)
    (tmp_path / "sfm/progress.json").write_text('{"phase": "match", "step": 2, "total": 6}')
    view.update(job, tmp_path)
    view.close()
    assert "Traceback" not in out.getvalue()


def failed_job(data_dir, failed_in="train"):
    """A job in a data dir that failed in `failed_in` after the SfM stage succeeded."""
    from shared.causes import CauseCode
    from shared.jobs import FailureInfo, JobState
    from spaceport.runtime import LocalRuntime

    now = datetime.now(UTC)
    job = Job(
        job_id="f" * 20, owner="local", email="a@example.com", inbox_uri="s3://b/inbox/x/", options=JobOptions(),
        photo_count=16, photo_bytes=1, created_at=now, updated_at=now, state=JobState.FAILED,
        failure=FailureInfo(stage=failed_in, cause=CauseCode.OUT_OF_MEMORY, message="killed", advice="smaller"),
    )  # fmt: skip
    job.stages["sfm"] = StageRecord(status="succeeded", run_name="s", started_at=now, duration_s=12.0)
    job.stages[failed_in] = StageRecord(status="failed", run_name="t", started_at=now, duration_s=3.0)
    LocalRuntime(data_dir).table.create(job)
    return job


def test_status_of_a_failed_job_offers_no_viewer_and_later_stages_read_not_run(tmp_path, capsys):
    job = failed_job(tmp_path / "d")
    assert cli.main(["status", job.job_id, "--data-dir", str(tmp_path / "d")]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "viewer:" not in out and " view " not in out
    assert "train    FAILED in 3s" in out and "compress not run" in out and "waiting" not in out
    compress = tmp_path / "d/spaceport/jobs" / job.job_id / "compress"
    compress.mkdir(parents=True)
    (compress / "model.sog").write_bytes(b"PK")  # a model there: `view` can open it, status says so
    assert cli.main(["status", job.job_id, "--data-dir", str(tmp_path / "d")]) == cli.EXIT_OK
    assert "viewer: " in capsys.readouterr().out


def test_status_gives_an_eta_only_while_a_runtime_moves_the_job_on(tmp_path, capsys):
    """A job stopped after sfm (`run --stop-after sfm`) waits for `resume`: no ETA until then."""
    import json

    from shared.jobs import JobState
    from spaceport.runtime import LocalRuntime

    now = datetime.now(UTC)
    job = Job(
        job_id="s" * 20, owner="local", email="a@example.com", inbox_uri="s3://b/inbox/x/", options=JobOptions(),
        photo_count=16, photo_bytes=1, created_at=now, updated_at=now, state=JobState.SFM_DONE,
    )  # fmt: skip
    job.stages["sfm"] = StageRecord(status="succeeded", run_name="s", started_at=now, duration_s=12.0)
    runtime = LocalRuntime(tmp_path / "d")
    runtime.table.create(job)

    def eta() -> float | None:
        assert cli.main(["status", job.job_id, "--json", "--data-dir", str(tmp_path / "d")]) == cli.EXIT_OK
        return json.loads(capsys.readouterr().out)["eta_s"]

    assert eta() is None
    seen = []
    with runtime.running():
        runtime.drive(lambda: bool(seen.append(eta())) or True, job_id=job.job_id)  # as `resume` does
    assert seen[0] > 0
