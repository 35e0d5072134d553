"""The `spaceport` CLI: --help everywhere, clear errors with documented exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from spaceport import cli

REPO = Path(__file__).resolve().parents[3]
COMMANDS = ("run", "demo", "status", "resume", "view", "submit")


def test_top_level_help_lists_every_command_and_the_exit_codes():
    result = subprocess.run(  # noqa: PLW1510 - the exit code is asserted
        [sys.executable, "-m", "spaceport.cli", "--help"], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout
    assert "exit codes" in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: spaceport " + command in capsys.readouterr().out


def test_unknown_arguments_are_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", "--no-such-flag"])
    assert exit_info.value.code == cli.EXIT_USAGE
    assert cli.main(["run"]) == cli.EXIT_USAGE
    assert "PHOTOS_DIR" in capsys.readouterr().err


def test_run_on_a_missing_folder_is_an_input_error(tmp_path, capsys):
    code = cli.main(["run", str(tmp_path / "nope"), "--data-dir", str(tmp_path / "d"), "--preset", "preview"])
    assert code == cli.EXIT_USAGE
    assert "not a folder" in capsys.readouterr().err


def test_run_on_a_folder_without_photos_says_what_it_looked_for(tmp_path, capsys):
    (tmp_path / "p").mkdir()
    (tmp_path / "p/readme.txt").write_text("x")
    code = cli.main(["run", str(tmp_path / "p"), "--data-dir", str(tmp_path / "d"), "--preset", "preview"])
    assert code == cli.EXIT_USAGE
    assert "no photos" in capsys.readouterr().err


def test_status_of_an_unknown_job_is_an_input_error(tmp_path, capsys):
    assert cli.main(["status", "x" * 20, "--data-dir", str(tmp_path)]) == cli.EXIT_USAGE
    assert "no job" in capsys.readouterr().err


def test_status_lists_nothing_in_a_new_data_dir(tmp_path, capsys):
    assert cli.main(["status", "--data-dir", str(tmp_path)]) == cli.EXIT_OK
    assert "no jobs" in capsys.readouterr().out


def test_cloud_commands_without_an_api_url_are_environment_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SPACEPORT_API_URL", raising=False)
    assert cli.main(["status", "--cloud", "x" * 20, "--api-url", ""]) == cli.EXIT_ENVIRONMENT
    assert "--api-url" in capsys.readouterr().err


def test_default_data_dir_follows_the_environment(monkeypatch, tmp_path):
    from spaceport.runtime import default_data_dir

    monkeypatch.setenv("SPACEPORT_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("SPACEPORT_DATA_DIR")
    assert default_data_dir() == Path.home() / ".spaceport"


def test_view_opens_the_streamed_model_when_the_compress_stage_wrote_one(tmp_path):
    from spaceport.commands.view import viewer_content

    assert viewer_content(tmp_path) is None
    (tmp_path / "compress/lod").mkdir(parents=True)
    (tmp_path / "compress/model.sog").write_bytes(b"sog")
    assert viewer_content(tmp_path) == "compress/model.sog"
    (tmp_path / "compress/lod/lod-meta.json").write_text("{}")
    assert viewer_content(tmp_path) == "compress/lod/lod-meta.json"
