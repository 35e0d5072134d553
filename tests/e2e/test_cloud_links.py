"""Emailed links outlive the function's credentials: notify sends `<api>/links/<token>` URLs, and
`GET /links/<token>` (public, through the real API handler) redirects to a fresh presigned URL.

Resources, the link secret included, are built from infra/template.yaml in moto; the functions
run with the environment the template gives them (tests/support/lambda_pump.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
from moto.ses.models import ses_backends

from shared.adapters.dynamo import DynamoJobTable
from shared.jobs import Job, JobState
from shared.links import sign
from tests.support.aws_env import ACCOUNT_ID, DEFAULT_REGION, TEST_API_ID, SpaceportAws
from tests.support.cloud_play import play_sagemaker
from tests.support.lambda_pump import LambdaContext, Pump, cold_start
from tests.support.photos import jpeg_bytes

ALICE = "arn:aws:iam::123456789012:user/alice"
API_HOST = f"{TEST_API_ID}.execute-api.{DEFAULT_REGION}.amazonaws.com"
EMAILED_LINK = re.compile(rf"https://{re.escape(API_HOST)}/v1/links/([A-Za-z0-9._-]+)")




def api(method: str, path: str, caller: str | None = None, body: Any = None) -> dict[str, Any]:
    """One API Gateway (REST, proxy) request through the real API handler; the raw response."""
    from services.ingest.handler import api_handler

    identity: dict[str, str] = {"sourceIp": "127.0.0.1"}
    if caller:
        identity |= {"userArn": caller, "caller": caller}
    event = {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"content-type": "application/json", "Host": API_HOST},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": TEST_API_ID,
            "domainName": API_HOST,
            "httpMethod": method,
            "identity": identity,
            "path": f"/v1{path}",
            "protocol": "HTTP/1.1",
            "requestId": "r",
            "requestTimeEpoch": 0,
            "resourcePath": path,
            "stage": "v1",
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }
    return api_handler(event, LambdaContext("IngestApiFunction"))


def open_link(env: SpaceportAws, token: str, path: str = "") -> dict[str, Any]:
    """GET /links/<token>[/<path>] without any identity; the response with `headers` flattened."""
    cold_start(env, "IngestApiFunction")
    response = api("GET", f"/links/{token}" + (f"/{path}" if path else ""))
    # The REST resolver answers in multiValueHeaders (API Gateway merges both forms).
    multi = {name: values[-1] for name, values in (response.get("multiValueHeaders") or {}).items()}
    return {**response, "headers": {**multi, **(response.get("headers") or {})}}


def secret_of(env: SpaceportAws) -> bytes:
    found = env.client("secretsmanager").get_secret_value(SecretId=env.refs["LinkSecret"])
    return found["SecretString"].encode()


def run_job_through_the_api(env: SpaceportAws) -> Job:
    """POST /jobs as alice, play SageMaker for the three stages, deliver until the email is out."""
    s3 = env.client("s3")
    for i in range(8):
        s3.put_object(Bucket=env.bucket, Key=f"inbox/roof/{i}.jpg", Body=jpeg_bytes(i + 100))
    cold_start(env, "IngestApiFunction")
    created = api("POST", "/jobs", ALICE, {"inbox": "roof", "email": "alice@example.com"})
    assert created["statusCode"] == 201, created["body"]
    job_id = json.loads(created["body"])["job_id"]
    table = DynamoJobTable(env.client("dynamodb"), env.table)
    pump = Pump(env)
    for stage in ("sfm", "train", "compress"):
        pump.run()
        play_sagemaker(env, stage, job=table.get(job_id))
    pump.run()
    job = table.get(job_id)
    assert job is not None and job.state is JobState.SUCCEEDED
    return job


def emailed_links() -> tuple[str, dict[str, str]]:
    """(the email body, link name -> URL) of the one email sent."""
    (email,) = ses_backends[ACCOUNT_ID][DEFAULT_REGION].sent_messages
    names = dict(re.findall(r'<li><a href="([^"]+)">([^<]+)</a>', email.body))  # a size may follow
    return email.body, {name: url for url, name in names.items()}


def token_of(url: str) -> str:
    match = EMAILED_LINK.fullmatch(url)
    assert match, f"not a link through the API: {url}"
    return match.group(1)


def presigned_key(location: str) -> tuple[str, str, dict[str, list[str]]]:
    """(bucket, key, query) of a virtual-hosted presigned S3 URL."""
    parts = urlsplit(location)
    bucket = parts.netloc.split(".s3.")[0]
    return bucket, unquote(parts.path.lstrip("/")), parse_qs(parts.query)


def test_emailed_links_redirect_to_a_fresh_presigned_url_of_the_right_object(cloud: SpaceportAws):
    # GIVEN a job that succeeded and its email
    job = run_job_through_the_api(cloud)
    body, links = emailed_links()
    assert set(links) >= {"viewer", "model.sog", "model.ply", "report.html", "report.json", "preview.png"}
    assert "X-Amz-" not in body  # nothing in the email is signed with the function's credentials
    viewer = urlsplit(links["viewer"])
    assert parse_qs(viewer.query)["load"] == [links["model.sog"]]
    for name, uri in job.outputs.items():
        # WHEN each link is opened, without any AWS identity
        response = open_link(cloud, token_of(links[name]))
        # THEN it is a 302 to a one-hour SigV4 URL of exactly that object, not cached, CORS-readable
        assert response["statusCode"] == 302, response["body"]
        headers = response["headers"]
        assert headers["Cache-Control"] == "no-store" and headers["Access-Control-Allow-Origin"] == "*"
        bucket, key, query = presigned_key(headers["Location"])
        assert f"s3://{bucket}/{key}" == uri
        assert query["X-Amz-Expires"] == ["3600"] and query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    # AND the redirect target serves the object's bytes
    location = open_link(cloud, token_of(links["model.sog"]))["headers"]["Location"]
    assert requests.get(location, timeout=10).content == b"PK"


def test_job_view_links_are_tokens_on_the_url_the_caller_used(cloud: SpaceportAws):
    job = run_job_through_the_api(cloud)
    cold_start(cloud, "IngestApiFunction")
    view = json.loads(api("GET", f"/jobs/{job.job_id}", ALICE)["body"])
    assert set(view["links"]) == set(job.outputs)
    response = open_link(cloud, token_of(view["links"]["model.ply"]))
    assert response["statusCode"] == 302
    assert presigned_key(response["headers"]["Location"])[1] == f"jobs/{job.job_id}/train/model.ply"


def test_a_tampered_or_foreign_token_is_404(cloud: SpaceportAws):
    secret = secret_of(cloud)
    good = sign(secret, f"s3://{cloud.bucket}/jobs/{'a' * 20}/compress/model.sog", int(time.time()) + 600)
    assert open_link(cloud, good)["statusCode"] == 302
    version, payload, mac = good.split(".")
    other_payload = base64.urlsafe_b64encode(
        f"{int(time.time()) + 600}\ns3://{cloud.bucket}/jobs/{'b' * 20}/compress/model.sog".encode()
    ).rstrip(b"=").decode()
    flipped_mac = ("A" if mac[0] != "A" else "B") + mac[1:]
    for token in (
        f"{version}.{other_payload}.{mac}",  # another object under the same signature
        f"{version}.{payload}.{flipped_mac}",
        sign(b"another deployment's secret, 32+ bytes long", f"s3://{cloud.bucket}/jobs/x/train/model.ply",
             int(time.time()) + 600),
        "not-a-token",
        good + "x",
    ):
        response = open_link(cloud, token)
        assert response["statusCode"] == 404, token
        assert "Location" not in response["headers"]
        assert response["headers"]["Access-Control-Allow-Origin"] == "*"


def test_a_streamed_models_link_opens_the_files_its_manifest_names(cloud: SpaceportAws):
    # GIVEN the link to a streamed model's lod-meta.json, as the email gives it
    lod = f"s3://{cloud.bucket}/jobs/{'a' * 20}/compress/lod/"
    token = sign(secret_of(cloud), lod + "lod-meta.json", int(time.time()) + 600)
    # WHEN the viewer asks for the manifest and the chunk files relative to that link
    for path in ("lod-meta.json", "0_0/meta.json", "2_1/quats.webp"):
        response = open_link(cloud, token, path)
        # THEN each is a redirect to exactly that object, readable cross-origin
        assert response["statusCode"] == 302, (path, response["body"])
        bucket, key, _ = presigned_key(response["headers"]["Location"])
        assert f"s3://{bucket}/{key}" == lod + path
        assert response["headers"]["Access-Control-Allow-Origin"] == "*"
    # AND nothing outside the model's folder, nor beside any other linked file, opens
    assert open_link(cloud, token, "../model.sog")["statusCode"] == 404
    sog = sign(secret_of(cloud), f"s3://{cloud.bucket}/jobs/{'a' * 20}/compress/model.sog", int(time.time()) + 600)
    assert open_link(cloud, sog, "metrics.json")["statusCode"] == 404


def test_an_expired_token_is_410_gone(cloud: SpaceportAws):
    secret = secret_of(cloud)
    past = int(time.time()) - 8 * 24 * 3600
    token = sign(secret, f"s3://{cloud.bucket}/jobs/{'a' * 20}/compress/model.sog", past + 3600, now=past)
    response = open_link(cloud, token)
    assert response["statusCode"] == 410
    assert "Location" not in response["headers"] and json.loads(response["body"])["error"] == "gone"


def _forged(secret: bytes, uri: str) -> str:
    """A token for `uri` with a valid MAC, made without `sign` (which refuses such uris)."""
    payload = base64.urlsafe_b64encode(f"{int(time.time()) + 600}\n{uri}".encode()).rstrip(b"=").decode()
    mac = hmac.new(secret, f"v1.{payload}".encode(), hashlib.sha256).digest()
    return f"v1.{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def test_a_token_cannot_name_uploads_or_another_bucket(cloud: SpaceportAws):
    secret = secret_of(cloud)
    cloud.client("s3").put_object(Bucket=cloud.bucket, Key="inbox/roof/0.jpg", Body=b"photo")
    with pytest.raises(ValueError, match="jobs/"):
        sign(secret, f"s3://{cloud.bucket}/inbox/roof/0.jpg", int(time.time()) + 600)
    for uri in (
        f"s3://{cloud.bucket}/inbox/roof/0.jpg",
        f"s3://{cloud.bucket}/jobs/../inbox/roof/0.jpg",
    ):
        assert open_link(cloud, _forged(secret, uri))["statusCode"] == 404, uri
    elsewhere = f"s3://other-bucket/jobs/{'a' * 20}/compress/model.sog"
    other_bucket = sign(secret, elsewhere, int(time.time()) + 600)
    assert open_link(cloud, other_bucket)["statusCode"] == 404


def test_only_the_link_route_answers_without_an_identity(cloud: SpaceportAws):
    cold_start(cloud, "IngestApiFunction")
    assert api("GET", "/jobs")["statusCode"] == 401
    assert api("GET", f"/jobs/{'a' * 20}")["statusCode"] == 401
