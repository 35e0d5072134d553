import pytest

from shared.errors import UserInputError
from shared.layout import (
    is_job_id,
    new_job_id,
    parse_sagemaker_job_name,
    resolve_inbox,
    sagemaker_job_name,
)


def test_job_ids_are_deterministic_for_a_seed_and_random_without():
    assert new_job_id("seed") == new_job_id("seed")
    assert new_job_id() != new_job_id()
    assert is_job_id(new_job_id())


def test_sagemaker_job_names_round_trip_and_fit_the_63_char_limit():
    job_id = new_job_id("x")
    for stage in ("sfm", "train", "compress"):
        name = sagemaker_job_name(stage, job_id, 2)
        assert len(name) <= 63
        assert parse_sagemaker_job_name(name) == (stage, job_id, 2)
    assert parse_sagemaker_job_name("someone-elses-job") is None


@pytest.mark.parametrize("given", ["roof", "inbox/roof", "inbox/roof/", "s3://bkt/inbox/roof/"])
def test_inbox_forms_resolve_to_our_inbox(given):
    assert resolve_inbox("bkt", given) == "s3://bkt/inbox/roof/"


@pytest.mark.parametrize(
    "given",
    ["s3://other-bucket/inbox/roof/", "s3://bkt/jobs/abc/", "../etc", "/etc/passwd", "roof/../../x", "a/b", "", ".."],
)
def test_inbox_outside_our_inbox_is_rejected(given):
    with pytest.raises(UserInputError):
        resolve_inbox("bkt", given)
