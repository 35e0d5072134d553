"""Shared fixtures of the end-to-end tests."""

from __future__ import annotations

import pytest
from moto import mock_aws

from tests.support.aws_env import DEFAULT_REGION, build


def _test_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": DEFAULT_REGION,
        "POWERTOOLS_METRICS_NAMESPACE": "SpaceportTest",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch):
    """Spaceport's AWS resources in moto, built from infra/template.yaml."""
    _test_credentials(monkeypatch)
    with mock_aws():
        yield build()


@pytest.fixture
def cloud_spot(monkeypatch: pytest.MonkeyPatch):
    """The same, deployed with TrainUseSpot=true."""
    _test_credentials(monkeypatch)
    with mock_aws():
        yield build(parameters={"TrainUseSpot": "true"})
