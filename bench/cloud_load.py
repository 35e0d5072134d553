"""Load figure for the cloud path under moto: N jobs through the API and all five services.

    SPACEPORT_LOAD_JOBS=50 .venv/bin/python bench/cloud_load.py

Runs the same test as CI (tests/e2e/test_cloud_api.py::test_many_jobs_submitted_at_once_...)
with a larger N and prints the time it took, jobs succeeded and emails sent.
"""

import os
import sys

import pytest

if __name__ == "__main__":
    os.environ.setdefault("SPACEPORT_LOAD_JOBS", "50")
    sys.exit(
        pytest.main(["-q", "-s", "tests/e2e/test_cloud_api.py::test_many_jobs_submitted_at_once_all_reach_a_final_state"])
    )
