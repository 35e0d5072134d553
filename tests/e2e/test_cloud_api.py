"""The HTTP API through the real Powertools resolver, on moto resources built from the template."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

from tests.support.aws_env import DEFAULT_REGION, SpaceportAws
from tests.support.lambda_pump import LambdaContext, Pump, cold_start
from tests.support.photos import jpeg_bytes

ALICE = "arn:aws:iam::123456789012:user/alice"
BOB = "arn:aws:iam::123456789012:user/bob"


@pytest.fixture(autouse=True)
def api_function_environment(cloud: SpaceportAws):
    cold_start(cloud, "IngestApiFunction")


def call(method: str, path: str, caller: str | None, body: Any = None) -> tuple[int, dict[str, Any]]:
    from services.ingest.handler import api_handler

    identity = {"userArn": caller, "caller": caller, "sourceIp": "127.0.0.1"} if caller else {"sourceIp": "127.0.0.1"}
    event = {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"content-type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "httpMethod": method,
            "identity": identity,
            "path": path,
            "protocol": "HTTP/1.1",
            "requestId": "r",
            "requestTimeEpoch": 0,
            "resourcePath": path,
            "stage": "prod",
        },
        "body": None if body is None else (body if isinstance(body, str) else json.dumps(body)),
        "isBase64Encoded": False,
    }
    response = api_handler(event, LambdaContext("IngestApiFunction"))
    return response["statusCode"], json.loads(response["body"] or "{}")


def upload(env: SpaceportAws, name: str, count: int = 8) -> None:
    for i in range(count):
        env.client("s3").put_object(Bucket=env.bucket, Key=f"inbox/{name}/{i}.jpg", Body=jpeg_bytes(i + 100))


def test_post_get_delete_for_the_owner(cloud: SpaceportAws, monkeypatch: pytest.MonkeyPatch):
    from shared.adapters.sagemaker import SageMakerLauncher

    stopped: list[tuple[str, str]] = []  # moto 5.2 has no StopProcessingJob: record the call instead
    monkeypatch.setattr(SageMakerLauncher, "stop", lambda self, stage, name: stopped.append((stage, name)))
    upload(cloud, "roof")
    status, created = call("POST", "/jobs", ALICE, {"inbox": "roof", "email": "alice@example.com"})
    assert status == 201 and created["state"] == "submitted" and created["eta_s"] > 0
    job_id = created["job_id"]
    status, seen = call("GET", f"/jobs/{job_id}", ALICE)
    assert status == 200 and seen["job_id"] == job_id
    status, listed = call("GET", "/jobs", ALICE)
    assert status == 200 and [j["job_id"] for j in listed["jobs"]] == [job_id]
    Pump(cloud).run(consumers=("sfm",))
    cold_start(cloud, "IngestApiFunction")
    status, cancelled = call("DELETE", f"/jobs/{job_id}", ALICE)
    assert status == 200 and cancelled["state"] == "cancelled"
    Pump(cloud).run(consumers=("sfm",))
    assert stopped == [("sfm", f"spaceport-sfm-{job_id}-a1")]
    cold_start(cloud, "IngestApiFunction")
    assert call("DELETE", f"/jobs/{job_id}", ALICE)[0] == 200  # idempotent


def test_unauthenticated_calls_are_rejected(cloud: SpaceportAws):
    assert call("GET", "/jobs", None)[0] == 401
    assert call("POST", "/jobs", None, {"inbox": "x", "email": "a@example.com"})[0] == 401


def test_another_callers_job_is_invisible_and_cannot_be_cancelled(cloud: SpaceportAws):
    upload(cloud, "roof")
    _, created = call("POST", "/jobs", ALICE, {"inbox": "roof", "email": "alice@example.com"})
    assert call("GET", f"/jobs/{created['job_id']}", BOB)[0] == 404
    assert call("DELETE", f"/jobs/{created['job_id']}", BOB)[0] == 404
    assert call("GET", "/jobs", BOB)[1] == {"jobs": []}


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"inbox": "roof", "email": "bad"}, 422, "email"),
        ({"inbox": "roof", "email": "a@example.com\r\nBcc: x@example.com"}, 422, "email"),
        ({"inbox": "../../etc", "email": "a@example.com"}, 400, "inbox name"),
        ({"inbox": "s3://another-bucket/inbox/roof/", "email": "a@example.com"}, 400, "another-bucket"),
        ({"inbox": "roof", "email": "a@example.com", "options": {"sh_degree": 7}}, 422, "sh_degree"),
        ({"inbox": "roof", "email": "a@example.com", "surprise": 1}, 422, "surprise"),
        ({"inbox": "empty", "email": "a@example.com"}, 400, "found 0 photos"),
        ("{not json", 422, ""),
    ],
)
def test_bad_requests_get_a_4xx_with_the_reason(cloud: SpaceportAws, body, status, says):
    upload(cloud, "roof")
    got, answer = call("POST", "/jobs", ALICE, body)
    assert got == status
    assert says in json.dumps(answer)


def test_unknown_job_id_is_404_and_malformed_is_422(cloud: SpaceportAws):
    assert call("GET", "/jobs/00000000000000000000", ALICE)[0] == 404
    assert call("GET", "/jobs/NOT-A-JOB", ALICE)[0] == 422


def test_presigned_links_expire_within_seven_days(cloud: SpaceportAws):
    from shared.lambda_support import ports_from_env

    link = ports_from_env().store.link(f"s3://{cloud.bucket}/jobs/x/compress/model.sog", 7 * 24 * 3600)
    assert "X-Amz-Expires=604800" in link
    with pytest.raises(ValueError):
        ports_from_env().store.link(f"s3://{cloud.bucket}/k", 7 * 24 * 3600 + 1)


def test_many_jobs_submitted_at_once_all_reach_a_final_state(cloud: SpaceportAws, capsys):
    """Load: many jobs through the API, each driven to success; none lost or duplicated.

    10 here (CI time); bench/cloud_load.py runs more and reports the time."""
    from shared.adapters.aws import S3ObjectStore
    from shared.adapters.dynamo import DynamoJobTable
    from tests.support.sagemaker import finish_stage

    count = int(os.environ.get("SPACEPORT_LOAD_JOBS", "10"))
    started = time.perf_counter()
    ids = []
    for n in range(count):
        upload(cloud, f"site{n}")
        cold_start(cloud, "IngestApiFunction")
        status, created = call("POST", "/jobs", ALICE, {"inbox": f"site{n}", "email": "alice@example.com"})
        assert status == 201
        ids.append(created["job_id"])
    pump = Pump(cloud)
    table = DynamoJobTable(cloud.client("dynamodb"), cloud.table)
    store = S3ObjectStore(cloud.client("s3"))
    events = cloud.client("events")
    for stage in ("sfm", "train", "compress"):
        pump.run(rounds=20)
        for job_id in ids:
            record = table.get(job_id).stages[stage]
            envelope = finish_stage(store, stage, record.output_uri, record.run_name)
            events.put_events(Entries=[{"Source": envelope.source, "DetailType": envelope.detail_type,
                                        "Detail": json.dumps(envelope.detail), "EventBusName": "default"}])
    pump.run(rounds=20)
    states = [table.get(job_id).state.value for job_id in ids]
    assert states == ["succeeded"] * count
    assert len(set(ids)) == count
    from moto.ses.models import ses_backends

    assert len(ses_backends["123456789012"][DEFAULT_REGION].sent_messages) == count
    with capsys.disabled():
        print(f"\nload: {count} jobs through API + 5 services in {time.perf_counter() - started:.1f} s, "
              f"{pump.invocations} Lambda invocations, all succeeded, {count} emails")
