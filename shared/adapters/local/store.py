"""The object store as a folder: s3://<bucket>/<key> is <root>/<bucket>/<key>.

A local job's outputs therefore look exactly like a cloud job's. Writes are atomic (a temporary
file renamed into place), so a reader never sees half an object. Like S3, "folders" are only key
prefixes: `list` returns the files under a prefix, and there is no empty folder.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from shared.errors import NotFoundError
from shared.layout import split_uri
from shared.ports import StoredObject

# Called after each put with (bucket, key, size, etag), as S3 sends "Object Created" events.
CreatedHook = Callable[[str, str, int, str], None]


class FileObjectStore:
    def __init__(
        self, root: Path, *, link_base_url: str | None = None, on_created: CreatedHook | None = None
    ):
        self.root = Path(root).resolve()
        self.link_base_url = link_base_url.rstrip("/") if link_base_url else None
        self._on_created = on_created

    def path_of(self, uri: str) -> Path:
        """The local file or folder behind a uri; refuses anything that escapes the root."""
        bucket, key = split_uri(uri)
        if not bucket or "/" in bucket or bucket in {".", ".."}:
            raise ValueError(f"bad bucket in {uri!r}")
        parts = [part for part in key.split("/") if part]
        if any(part in {".", ".."} for part in parts):
            raise ValueError(f"key may not contain '.' or '..' segments: {uri!r}")
        return self.root.joinpath(bucket, *parts)

    def uri_of(self, path: Path) -> str:
        relative = Path(path).resolve().relative_to(self.root)
        bucket, *rest = relative.parts
        return f"s3://{bucket}/{'/'.join(rest)}"

    def get_bytes(self, uri: str) -> bytes:
        path = self.path_of(uri)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise NotFoundError(f"get {uri}: NoSuchKey") from exc

    def read_range(self, uri: str, start: int, length: int) -> bytes:
        path = self.path_of(uri)
        try:
            with path.open("rb") as handle:
                handle.seek(start)
                return handle.read(length)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise NotFoundError(f"get {uri}: NoSuchKey") from exc

    def put_bytes(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self.path_of(uri)
        if uri.endswith("/"):
            raise ValueError(f"cannot put an object at a folder uri: {uri!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if self._on_created is not None:
            bucket, key = split_uri(uri)
            self._on_created(bucket, key, len(data), _etag(path))

    def list(self, prefix_uri: str) -> list[StoredObject]:
        bucket, prefix = split_uri(prefix_uri)
        bucket_root = self.root / bucket
        # Walk only the deepest folder the prefix names, then filter by the full prefix (S3 semantics).
        folder = bucket_root.joinpath(*[p for p in prefix.split("/")[:-1] if p])
        if not folder.is_dir():
            return []
        found = []
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or (path.name.startswith(".") and path.name.endswith(".tmp")):
                continue
            key = path.relative_to(bucket_root).as_posix()
            if key.startswith(prefix):
                found.append(StoredObject(f"s3://{bucket}/{key}", path.stat().st_size, _etag(path)))
        return found

    def head(self, uri: str) -> StoredObject | None:
        path = self.path_of(uri)
        if not path.is_file():
            return None
        return StoredObject(uri, path.stat().st_size, _etag(path))

    def link(self, uri: str, expires_s: int) -> str:
        """A URL a person can open: http://localhost/... when a viewer server is set, else file://."""
        bucket, key = split_uri(uri)
        if self.link_base_url:
            return f"{self.link_base_url}/{quote(bucket)}/{quote(key)}"
        return self.path_of(uri).as_uri()


_ETAGS: dict[tuple[str, int, int], str] = {}


def _etag(path: Path) -> str:
    """The MD5 of the content, as S3 gives for a single-part upload (cached by size and mtime:
    ingest compares etags to find duplicate photos, so they must depend on the content only)."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _ETAGS:
        digest = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _ETAGS[key] = digest.hexdigest()
    return _ETAGS[key]
