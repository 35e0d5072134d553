"""The template is valid CloudFormation/SAM (cfn-lint), and the test loader reads its short tags."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.template import TEMPLATE_PATH, load, parse


def _cfn_lint_command() -> str:
    """cfn-lint from the same environment as the tests (dev extra), else from PATH."""
    beside = Path(sys.executable).parent / "cfn-lint"
    found = str(beside) if beside.exists() else shutil.which("cfn-lint")
    assert found, "cfn-lint is not installed (pip install -e '.[dev]')"
    return found


def _cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_cfn_lint_command(), "--format", "parseable", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_template_passes_cfn_lint() -> None:
    result = _cfn_lint(TEMPLATE_PATH)
    assert result.returncode == 0, f"cfn-lint findings:\n{result.stdout}{result.stderr}"


def test_cfn_lint_harness_reports_a_broken_template(tmp_path: Path) -> None:
    # GIVEN a SAM template with a misspelt property and a Ref to nothing
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Queue:\n"
        "    Type: AWS::SQS::Queue\n"
        "    Properties:\n"
        "      VisibilityTimeOut: 30\n"
        "      RedrivePolicy:\n"
        "        deadLetterTargetArn: !GetAtt Missing.Arn\n"
        "        maxReceiveCount: 3\n",
        encoding="utf-8",
    )
    # WHEN it is linted THEN the harness sees the failure
    result = _cfn_lint(broken)
    assert result.returncode != 0
    assert "VisibilityTimeOut" in result.stdout and "Missing" in result.stdout


def test_loader_expands_short_tags_to_the_long_form() -> None:
    parsed = parse(
        "A: !Ref Bucket\n"
        "B: !GetAtt Queue.Arn\n"
        "C: !Sub '${Bucket.Arn}/inbox/*'\n"
        "D: !Select [0, !Split ['@', !Ref Email]]\n"
        "E: !If [HasAlarm, [!Ref Topic], !Ref AWS::NoValue]\n"
        "F: !Not [!Equals [!Ref AlarmEmail, '']]\n"
    )
    assert parsed["A"] == {"Ref": "Bucket"}
    assert parsed["B"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    assert parsed["C"] == {"Fn::Sub": "${Bucket.Arn}/inbox/*"}
    assert parsed["D"] == {"Fn::Select": [0, {"Fn::Split": ["@", {"Ref": "Email"}]}]}
    assert parsed["E"] == {"Fn::If": ["HasAlarm", [{"Ref": "Topic"}], {"Ref": "AWS::NoValue"}]}
    assert parsed["F"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}


def test_template_is_a_sam_template_with_resources() -> None:
    template = load()
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    assert template["Resources"]
