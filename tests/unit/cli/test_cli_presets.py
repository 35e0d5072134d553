"""`spaceport presets`, the preset table in --help and the docs, and the question before a long CPU run."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from shared.options import JobOptions, Preset, resolve
from spaceport import cli
from spaceport.commands import presets
from spaceport.estimate import cpu_estimate

REPO = Path(__file__).resolve().parents[3]


def test_presets_lists_size_steps_cap_sh_and_times(capsys):
    assert cli.main(["presets"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    for text in ("preview", "320 px", "1,500", "20,000", "standard", "1,000,000", "quality", "T4", "2 CPU cores"):
        assert text in out


def test_run_help_shows_the_preset_table(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    out = capsys.readouterr().out
    assert "preview    320 px,  1,500 steps" in out and "--steps" in out and "--sh-degree" in out


def test_docs_carry_the_current_preset_table():
    assert presets.markdown_table() in (REPO / "docs/local.md").read_text(), "run: spaceport presets --markdown"


def test_cpu_estimates_grow_with_preset_steps_and_size():
    preview = cpu_estimate(resolve(JobOptions(preset=Preset.PREVIEW)), 30, 4000)
    longer = cpu_estimate(resolve(JobOptions(preset=Preset.PREVIEW, steps=6000)), 30, 4000)
    standard = cpu_estimate(resolve(JobOptions(preset=Preset.STANDARD)), 30, 4000)
    assert preview.high_minutes < 30 < standard.low_s / 60
    assert longer.high_s > 3 * (preview.high_s - 120)
    small_photos = cpu_estimate(resolve(JobOptions(preset=Preset.STANDARD)), 30, 640)
    assert small_photos.high_s < standard.high_s  # photos are never upsampled


class Keyboard(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_long_cpu_run_asks_in_a_terminal_and_no_starts_nothing(monkeypatch, capsys):
    monkeypatch.setattr(presets, "on_cuda", lambda: False)
    monkeypatch.setattr("sys.stdin", Keyboard("n\n"))
    with pytest.raises(cli.CliError) as info:
        presets.confirm_long_cpu_run(JobOptions(preset=Preset.STANDARD), 30, 4000, assume_yes=False)
    assert info.value.code == cli.EXIT_OK
    assert "no CUDA GPU" in capsys.readouterr().err


def test_yes_or_a_script_goes_on_after_the_warning(monkeypatch, capsys):
    monkeypatch.setattr(presets, "on_cuda", lambda: False)
    monkeypatch.setattr("sys.stdin", Keyboard(""))
    presets.confirm_long_cpu_run(JobOptions(preset=Preset.STANDARD), 30, 4000, assume_yes=True)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal
    presets.confirm_long_cpu_run(JobOptions(preset=Preset.STANDARD), 30, 4000, assume_yes=False)
    assert capsys.readouterr().err.count("warning: no CUDA GPU") == 2


def test_a_short_cpu_run_or_a_gpu_asks_nothing(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", Keyboard(""))
    monkeypatch.setattr(presets, "on_cuda", lambda: False)
    presets.confirm_long_cpu_run(JobOptions(preset=Preset.PREVIEW), 30, 4000, assume_yes=False)
    monkeypatch.setattr(presets, "on_cuda", lambda: True)
    presets.confirm_long_cpu_run(JobOptions(preset=Preset.QUALITY), 30, 4000, assume_yes=False)
    assert capsys.readouterr().err == ""
