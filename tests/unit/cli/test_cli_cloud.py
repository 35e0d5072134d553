"""`spaceport submit` / `status --cloud`: photos go to the inbox, API calls are SigV4-signed."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from moto import mock_aws

from spaceport import cli
from tests.support.photos import jpeg_bytes


class FakeApi(BaseHTTPRequestHandler):
    requests: list[dict] = []

    def log_message(self, *args) -> None:
        return

    def _reply(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        FakeApi.requests.append(
            {
                "method": "POST",
                "path": self.path,
                "headers": dict(self.headers),
                "body": json.loads(self.rfile.read(length)),
            }
        )
        self._reply({"job_id": "c" * 20, "state": "submitted"})

    def do_GET(self) -> None:
        FakeApi.requests.append({"method": "GET", "path": self.path, "headers": dict(self.headers)})
        self._reply({"job_id": "c" * 20, "state": "train_running"})


@pytest.fixture
def api():
    FakeApi.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/prod"
    server.shutdown()
    server.server_close()


@pytest.fixture
def aws(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIDTEST",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        boto3.client("s3", region_name="eu-west-1").create_bucket(
            Bucket="uploads", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        yield


def test_submit_uploads_the_photos_to_the_inbox_and_posts_a_signed_request(tmp_path, api, aws, capsys):
    photos = tmp_path / "roof"
    photos.mkdir()
    for index in range(8):
        folder = photos / ("second pass" if index >= 6 else "")
        folder.mkdir(exist_ok=True)
        (folder / f"IMG_{index}.jpg").write_bytes(jpeg_bytes(index, 64, 48))
    (photos / "notes.txt").write_text("not a photo")
    code = cli.main(
        [
            "submit",
            str(photos),
            "--email",
            "a@example.com",
            "--name",
            "roof-1",
            "--api-url",
            api,
            "--bucket",
            "uploads",
            "--region",
            "eu-west-1",
        ]
    )
    assert code == cli.EXIT_OK, capsys.readouterr().err
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="uploads")["Contents"]]
    assert sorted(keys) == [f"inbox/roof-1/IMG_{i}.jpg" for i in range(6)] + [
        "inbox/roof-1/second pass/IMG_6.jpg",
        "inbox/roof-1/second pass/IMG_7.jpg",
    ]
    (request,) = FakeApi.requests
    assert request["path"] == "/prod/jobs"
    assert request["body"]["inbox"] == "roof-1" and request["body"]["email"] == "a@example.com"
    auth = request["headers"]["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=")  # moto supplies its own test key
    assert "/eu-west-1/execute-api/aws4_request" in auth
    out = capsys.readouterr().out
    assert f"status --cloud {'c' * 20} --api-url {api}" in out  # pasted, it asks the same API


def test_cloud_status_gets_the_job_with_a_signed_request(api, aws, capsys):
    assert cli.main(["status", "--cloud", "c" * 20, "--api-url", api, "--region", "eu-west-1"]) == cli.EXIT_OK
    (request,) = FakeApi.requests
    assert (request["method"], request["path"]) == ("GET", f"/prod/jobs/{'c' * 20}")
    assert request["headers"]["Authorization"].startswith("AWS4-HMAC-SHA256")
    assert json.loads(capsys.readouterr().out)["state"] == "train_running"


def test_submit_without_a_bucket_says_which_setting_is_missing(tmp_path, api, aws, capsys, monkeypatch):
    monkeypatch.delenv("SPACEPORT_BUCKET", raising=False)
    photos = tmp_path / "p"
    photos.mkdir()
    for index in range(8):
        (photos / f"{index}.jpg").write_bytes(jpeg_bytes(index, 64, 48))
    assert (
        cli.main(["submit", str(photos), "--email", "a@example.com", "--api-url", api])
        == cli.EXIT_ENVIRONMENT
    )
    assert "SPACEPORT_BUCKET" in capsys.readouterr().err
