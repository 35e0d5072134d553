"""The cloud side of the CLI: upload photos to the inbox, call the API signed with SigV4.

API (infra/template.yaml): `POST /jobs` with a SubmitRequest body, `GET /jobs/{id}`; IAM auth, so
every request is signed with the caller's AWS credentials (botocore's SigV4Auth, service
"execute-api").
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from shared.layout import INBOX

_REGION_IN_URL = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com")


class CloudError(Exception):
    """Missing settings, missing credentials, or an API / S3 error."""


def _session(region: str | None) -> Any:
    import boto3

    return boto3.session.Session(region_name=region) if region else boto3.session.Session()


def region_for(api_url: str, region: str | None) -> str:
    if region:
        return region
    found = _REGION_IN_URL.search(api_url)
    if found:
        return found.group(1)
    configured = _session(None).region_name
    if not configured:
        raise CloudError("no AWS region: pass --region or set AWS_REGION")
    return configured


def signed_request(method: str, url: str, region: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = _session(region).get_credentials()
    if credentials is None:
        raise CloudError(
            "no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
        )
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    request = AWSRequest(method=method, url=url, data=data, headers=headers)
    SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
    prepared = urllib.request.Request(url, data=data, method=method, headers=dict(request.headers.items()))
    try:
        with urllib.request.urlopen(prepared, timeout=60) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:500]
        raise CloudError(f"{method} {url}: HTTP {exc.code}: {detail}") from exc
    except urllib.error.URLError as exc:
        raise CloudError(f"{method} {url}: {exc.reason}") from exc


def _require(value: str | None, what: str, flag: str, env: str) -> str:
    if not value:
        raise CloudError(f"no {what}: pass {flag} or set {env}")
    return value.rstrip("/")


def upload_photos(files: dict[str, Path], bucket: str, name: str, region: str | None) -> None:
    """Upload each file (relative path in the photo folder -> local file) to inbox/<name>/<path>."""
    from botocore.exceptions import BotoCoreError, ClientError

    s3 = _session(region).client("s3")
    for relative, photo in files.items():
        try:
            s3.upload_file(str(photo), bucket, f"{INBOX}{name}/{relative}")
        except (BotoCoreError, ClientError) as exc:
            raise CloudError(f"upload of {relative} to s3://{bucket}/{INBOX}{name}/ failed: {exc}") from exc


def submit_cloud(
    photos: dict[str, Path],
    name: str,
    email: str,
    preset: str,
    *,
    api_url: str | None,
    bucket: str | None,
    region: str | None = None,
) -> dict[str, Any]:
    api = _require(api_url, "API url", "--api-url", "SPACEPORT_API_URL")
    bucket = _require(bucket, "bucket", "--bucket", "SPACEPORT_BUCKET")
    region = region_for(api, region)
    upload_photos(photos, bucket, name, region)
    body = {
        "inbox": name,
        "email": email,
        "options": {"preset": preset},
        "client_token": name[:64].replace(".", "_"),
    }
    return signed_request("POST", f"{api}/jobs", region, body)


def cloud_status(api_url: str | None, job_id: str, region: str | None = None) -> dict[str, Any]:
    api = _require(api_url, "API url", "--api-url", "SPACEPORT_API_URL")
    return signed_request("GET", f"{api}/jobs/{job_id}", region_for(api, region))
