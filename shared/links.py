"""Link tokens: long-lived, tamper-proof names of one job output, for URLs a person can open.

A token says "this object, until then" and carries an HMAC-SHA256 over exactly that, made with a
secret only our functions know. `GET /links/<token>` checks it and redirects to a presigned S3
URL signed at that moment; so an emailed link lives as long as its token, not as long as the
temporary credentials that happened to sign it (hours for a Lambda role).

    v1.<base64url(payload)>.<base64url(mac)>      payload = b"<expires_at>\\n<s3 uri>"
                                                   mac     = HMAC-SHA256(secret, b"v1." + payload part)

Every part is URL-safe (A-Z a-z 0-9 - _ and the dots), so a token is one path segment.
Only `s3://<bucket>/jobs/...` objects may be named: uploads (`inbox/`) never get a link.

A token naming a manifest (a streamed SOG's `lod-meta.json`) also opens the files beside and below
it: its URL is `<base>/links/<token>/lod-meta.json`, so a viewer that resolves the manifest's file
names (`0_0/meta.json`, then `0_0/means_l.webp`) against that URL asks for
`<base>/links/<token>/0_0/meta.json`, which `resolve_beside` maps to the object next to it.
Pure: no environment, no AWS; `verify` takes `now` (Unix seconds) from its caller.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time

from shared.errors import NotFoundError
from shared.layout import JOBS

VERSION = "v1"
MAX_LINK_LIFETIME_S = 7 * 24 * 3600
MAX_TOKEN_CHARS = 2048
MIN_SECRET_BYTES = 32

# A bucket name (3-63 lower-case letters, digits, dots, hyphens) and a key under jobs/ without
# control characters; `..` and empty segments are refused separately.
_LINKABLE = re.compile(
    r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(" + re.escape(JOBS) + r"[^\x00-\x1f\x7f]+)$"
)
_B64 = re.compile(r"^[A-Za-z0-9_-]+$")


class LinkError(NotFoundError):
    """A token we will not honour. The API answers 404 (410 for `LinkExpired`)."""


class LinkMalformed(LinkError):
    """Not a token of ours: wrong shape, version, encoding, or a payload naming no job output."""


class LinkTampered(LinkError):
    """Well formed, but its MAC does not match: changed, or made with another secret."""


class LinkExpired(LinkError):
    """Genuine, but its time is over."""

    def __init__(self, message: str, expired_at: int) -> None:
        super().__init__(message)
        self.expired_at = expired_at


def is_linkable(uri: str) -> bool:
    """Whether `uri` is an object under `jobs/` of some bucket (the only things we link to)."""
    match = _LINKABLE.match(uri)
    if match is None:
        return False
    segments = match.group(2).split("/")
    return all(segment not in ("", ".", "..") for segment in segments)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict base64url without padding: the canonical encoding only (no second spelling)."""
    if not _B64.match(text):
        raise LinkMalformed("a token part is not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise LinkMalformed("a token part is not base64url") from exc
    if _b64(data) != text:
        raise LinkMalformed("a token part is not canonical base64url")
    return data


def _mac(secret: bytes, signed_text: str) -> bytes:
    return hmac.new(secret, signed_text.encode("ascii"), hashlib.sha256).digest()


def _check_secret(secret: bytes) -> None:
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"a link secret needs at least {MIN_SECRET_BYTES} bytes, not {len(secret)}")


def sign(secret: bytes, uri: str, expires_at: int, *, now: int | None = None) -> str:
    """A token naming `uri` until `expires_at` (Unix seconds), at most 7 days after signing.

    `now` is the signing time (default: the clock); a later or farther expiry is a ValueError.
    """
    _check_secret(secret)
    now = int(time.time()) if now is None else now
    if not is_linkable(uri):
        raise ValueError(f"only objects under s3://<bucket>/{JOBS} can be linked, not {uri!r}")
    if not now < expires_at <= now + MAX_LINK_LIFETIME_S:
        raise ValueError(f"a link expires within 7 days of signing, not {expires_at - now} s after it")
    payload = f"{expires_at}\n{uri}".encode()
    signed_text = f"{VERSION}.{_b64(payload)}"
    return f"{signed_text}.{_b64(_mac(secret, signed_text))}"


def verify(secret: bytes, token: str, now: int) -> str:
    """The uri a genuine, unexpired token names; else `LinkMalformed`, `LinkTampered` or `LinkExpired`."""
    _check_secret(secret)
    if len(token) > MAX_TOKEN_CHARS:
        raise LinkMalformed(f"a token has at most {MAX_TOKEN_CHARS} characters")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise LinkMalformed("not a link token")
    payload, given_mac = _unb64(parts[1]), _unb64(parts[2])
    if not hmac.compare_digest(given_mac, _mac(secret, f"{parts[0]}.{parts[1]}")):
        raise LinkTampered("the link's signature does not match")
    # Only we can reach this point with a payload: a bad one means our own bug, not a forgery.
    expiry_text, newline, uri = payload.decode("utf-8", errors="replace").partition("\n")
    if not newline or not expiry_text.isascii() or not expiry_text.isdigit() or not is_linkable(uri):
        raise LinkMalformed("the link names no job output")
    expires_at = int(expiry_text)
    if now >= expires_at:
        raise LinkExpired(f"the link expired {now - expires_at} s ago", expires_at)
    if expires_at > now + MAX_LINK_LIFETIME_S:
        raise LinkMalformed("the link claims to live longer than 7 days")
    return uri


def link_url(base_url: str, token: str, uri: str | None = None) -> str:
    """The URL a person opens: `<public API base>/links/<token>`, plus `/<name>` for a manifest `uri`."""
    url = f"{base_url.rstrip('/')}/links/{token}"
    return f"{url}/{manifest_name(uri)}" if uri and manifest_name(uri) else url


MANIFESTS = ("lod-meta.json",)  # files that name other files relative to themselves


def manifest_name(uri: str) -> str | None:
    name = uri.rsplit("/", 1)[-1]
    return name if name in MANIFESTS else None


def resolve_beside(uri: str, path: str) -> str:
    """The object at relative `path` ('/'-separated) beside the manifest `uri` a token names.

    Raises `LinkMalformed` when `uri` is no manifest or `path` leaves its folder.
    """
    if manifest_name(uri) is None:
        raise LinkMalformed("only a link to a lod-meta.json opens the files beside it")
    segments = path.split("/")
    if any(part in ("", ".", "..") or "\\" in part for part in segments) or len(path) > MAX_TOKEN_CHARS:
        raise LinkMalformed("not a relative path below the linked file's folder")
    target = uri.rsplit("/", 1)[0] + "/" + path
    if not is_linkable(target):
        raise LinkMalformed("not a relative path below the linked file's folder")
    return target
