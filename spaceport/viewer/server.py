"""A small localhost HTTP server for one data dir:

    /                    spaceport/viewer/index.html (frames the viewer; ?load=URL or the job's model)
    /job.json            the job's model, settings and report urls (when serving one job)
    /settings.json       viewer settings (version 2 schema of @playcanvas/supersplat-viewer), with
                         the camera of a training photo when serving a job
    /supersplat/...      the viewer package's static build (npm, installed into .node/)
    /files/<bucket>/...  the local object store (read only), so emailed links open here

The viewer is the maintained npm package `@playcanvas/supersplat-viewer`; nothing here renders.
"""

from __future__ import annotations

import json
import mimetypes
import os
import threading
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

PAGE = Path(__file__).with_name("index.html")
REPO_ROOT = Path(__file__).resolve().parents[2]
VIEWER_PACKAGE = "@playcanvas/supersplat-viewer"
VIEWER_VERSION = "1.36.2"
INSTALL_HINT = f"npm install --prefix .node {VIEWER_PACKAGE}@{VIEWER_VERSION}"

mimetypes.add_type("application/octet-stream", ".sog")
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("image/webp", ".webp")


class ViewerMissing(RuntimeError):
    """The npm viewer package is not installed."""


def find_viewer_package(extra: list[Path] | None = None) -> Path:
    """The package's static `public/` folder: $SPACEPORT_VIEWER_DIR, else .node/ in the repo or cwd."""
    candidates = list(extra or [])
    if os.environ.get("SPACEPORT_VIEWER_DIR"):
        candidates.append(Path(os.environ["SPACEPORT_VIEWER_DIR"]))
    for base in (REPO_ROOT, Path.cwd()):
        candidates.append(base / ".node/node_modules" / VIEWER_PACKAGE / "public")
    for candidate in candidates:
        if (candidate / "index.html").is_file() and (candidate / "index.js").is_file():
            return candidate
    raise ViewerMissing(f"the web viewer is not installed; run: {INSTALL_HINT}")


def viewer_settings(camera: dict[str, Any] | None = None) -> dict[str, Any]:
    """Plain presentation. `camera` (spaceport.viewer.camera.initial_camera) is where the viewer
    opens; without one the viewer frames the whole scene itself."""
    cameras = (
        [{"initial": {"position": camera["position"], "target": camera["target"], "fov": camera["fov"]}}]
        if camera
        else []
    )
    return {
        "version": 2,
        "tonemapping": "none",
        "highPrecisionRendering": False,
        "background": {"color": [0.09, 0.094, 0.11]},
        "postEffectSettings": {
            "sharpness": {"enabled": False, "amount": 0},
            "bloom": {"enabled": False, "intensity": 0.1, "blurLevel": 2},
            "grading": {"enabled": False, "brightness": 1, "contrast": 1, "saturation": 1, "tint": [1, 1, 1]},
            "vignette": {"enabled": False, "intensity": 0.5, "inner": 0.3, "outer": 0.75, "curvature": 1},
            "fringing": {"enabled": False, "intensity": 0.5},
        },
        "animTracks": [],
        "cameras": cameras,
        "annotations": [],
        "startMode": "default",
    }


class ViewerHandler(SimpleHTTPRequestHandler):
    def __init__(
        self,
        *args: Any,
        store_root: Path,
        viewer_dir: Path,
        job: dict[str, Any] | None,
        settings: dict[str, Any] | None = None,
        **kw: Any,
    ):
        self.store_root = store_root
        self.viewer_dir = viewer_dir
        self.job = job
        self.settings = settings or viewer_settings()
        super().__init__(*args, directory=str(viewer_dir), **kw)

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the CLI prints the url

    def do_GET(self) -> None:
        path = unquote(urlsplit(self.path).path)
        if path in ("/", "/index.html"):
            self._send(PAGE.read_bytes(), "text/html; charset=utf-8")
        elif path == "/settings.json":
            self._send(json.dumps(self.settings).encode(), "application/json")
        elif path == "/job.json":
            if self.job is None:
                self.send_error(HTTPStatus.NOT_FOUND, "no job is being served")
            else:
                self._send(json.dumps(self.job).encode(), "application/json")
        elif path.startswith("/supersplat/"):
            self._send_file(self.viewer_dir, path.removeprefix("/supersplat/"))
        elif path.startswith("/files/"):
            self._send_file(self.store_root, path.removeprefix("/files/"))
        else:
            self.send_error(HTTPStatus.NOT_FOUND)

    def do_HEAD(self) -> None:
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED)

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _send_file(self, root: Path, relative: str) -> None:
        root = root.resolve()
        target = (root / relative).resolve()
        if (
            not target.is_relative_to(root)
            or not target.is_file()
            or any(p.startswith(".") for p in target.relative_to(root).parts)
        ):
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        size = target.stat().st_size
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        with target.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                self.wfile.write(chunk)


def make_server(
    store_root: Path,
    job: dict[str, Any] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    viewer_dir: Path | None = None,
    settings: dict[str, Any] | None = None,
) -> ThreadingHTTPServer:
    """A server (not yet serving) for the object store under `store_root`; `port=0` picks one.
    `settings` is what /settings.json serves (default: `viewer_settings()`)."""
    handler = partial(
        ViewerHandler,
        store_root=Path(store_root),
        viewer_dir=viewer_dir or find_viewer_package(),
        job=job,
        settings=settings,
    )
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve_in_background(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="spaceport-viewer", daemon=True)
    thread.start()
    return thread
