"""A browser page can read a job output through an emailed link: fetch(link) -> the API's 302 ->
the bucket. Headless Chromium against three local origins standing in for the viewer, the API and
S3; the bucket answers CORS the way S3 evaluates the template's CorsRules.

What this pins down: after a redirect to a third origin the browser sends `Origin: null`, so a
bucket rule allowing only the viewer's origin would block the viewer, and the template's extra
"null" origin is what lets it through. Needs the Debian `chromium` package; skips without it.
"""

from __future__ import annotations

import fnmatch
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws_env import offline_resolver
from tests.support.template import load

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from cdp import Browser  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MODEL = b"PK-model-bytes"


def s3_cors_answer(rules: list[dict[str, Any]], origin: str | None, method: str) -> str | None:
    """Access-Control-Allow-Origin as S3 sets it: the first rule whose origin pattern (at most one
    `*`) and method match; `*` for a bare `*` origin, else the request's Origin echoed."""
    if origin is None:
        return None
    for rule in rules:
        if method not in rule["AllowedMethods"]:
            continue
        for allowed in rule["AllowedOrigins"]:
            if fnmatch.fnmatchcase(origin, allowed):
                return "*" if allowed == "*" else origin
    return None


class Origins:
    """Three local HTTP origins: the viewer page, the API (302), the bucket (CORS as S3)."""

    def __init__(self, viewer_origin_only: bool = False) -> None:
        self.seen_at_bucket: list[str | None] = []
        self.viewer_origin_only = viewer_origin_only  # drop the template's other allowed origins
        self._servers = [self._serve(self._viewer), self._serve(self._api), self._serve(self._bucket)]

    def url(self, index: int) -> str:
        return f"http://127.0.0.1:{self._servers[index].server_address[1]}"

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def _serve(self, respond: Any) -> ThreadingHTTPServer:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                respond(self)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def _viewer(self, request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "text/html")
        request.end_headers()
        request.wfile.write(b"<html><body>viewer</body></html>")

    def _api(self, request: BaseHTTPRequestHandler) -> None:
        from services.ingest.handler import LINK_HEADERS

        request.send_response(302)
        request.send_header("Location", f"{self.url(2)}/jobs/x/compress/model.sog?X-Amz-Signature=abc")
        for name, value in LINK_HEADERS.items():
            request.send_header(name, value)
        request.end_headers()

    def _bucket(self, request: BaseHTTPRequestHandler) -> None:
        origin = request.headers.get("Origin")
        self.seen_at_bucket.append(origin)
        rule = bucket_cors_rule(viewer_origin=self.url(0))
        if self.viewer_origin_only:
            rule["AllowedOrigins"] = [self.url(0)]
        allow = s3_cors_answer([rule], origin, "GET")
        request.send_response(200)
        request.send_header("Content-Type", "application/octet-stream")
        if allow is not None:
            request.send_header("Access-Control-Allow-Origin", allow)
        request.end_headers()
        request.wfile.write(MODEL)


def bucket_cors_rule(viewer_origin: str) -> dict[str, Any]:
    """The template's one bucket CORS rule, resolved with `ViewerOrigin` set."""
    rules = load()["Resources"]["Bucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    (rule,) = offline_resolver(parameters={"ViewerOrigin": viewer_origin})(rules)
    return dict(rule)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    opened = Browser(CHROMIUM, tmp_path / "profile")
    try:
        yield opened
    finally:
        opened.close()


def fetch_through_link(browser: Browser, origins: Origins) -> str:
    """In a page of the viewer's origin: fetch the link, follow the 302, read the body."""
    session = browser.open(origins.url(0) + "/")
    expression = (
        f"fetch('{origins.url(1)}/links/token').then(r => r.text())"
        ".then(t => 'read:' + t, e => 'blocked:' + e.message)"
    )
    for _ in range(100):  # the page commits asynchronously after Page.navigate
        here = {"expression": "location.origin", "returnByValue": True}
        if browser.call("Runtime.evaluate", here, session=session)["result"].get("value") == origins.url(0):
            break
        time.sleep(0.1)
    run = {"expression": expression, "awaitPromise": True, "returnByValue": True}
    reply = browser.call("Runtime.evaluate", run, session=session)
    return str(reply["result"]["value"])


def test_the_template_cors_rule_lets_the_viewer_read_through_the_redirect(browser: Browser):
    origins = Origins()  # the template's rule as it stands
    try:
        assert fetch_through_link(browser, origins) == "read:" + MODEL.decode()
        assert origins.seen_at_bucket == ["null"]  # the tainted origin after a cross-origin redirect
    finally:
        origins.close()


def test_the_viewer_origin_alone_would_block_the_redirected_fetch(browser: Browser):
    origins = Origins(viewer_origin_only=True)
    try:
        assert fetch_through_link(browser, origins).startswith("blocked:")
        assert origins.seen_at_bucket == ["null"]
    finally:
        origins.close()
