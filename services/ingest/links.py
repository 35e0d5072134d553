"""`GET /links/<token>`: turn a link token from an email into a freshly presigned S3 URL.

The token (shared/links.py) is checked against our secret; only objects under `jobs/` of our own
bucket are served. The answer is a redirect to a one-hour presigned URL, signed now with the
function's current credentials, so it works however old the email is (up to the token's expiry).
"""

from __future__ import annotations

from shared.layout import JOBS, split_uri
from shared.links import LinkMalformed, resolve_beside, verify
from shared.ports import ObjectStore

DIRECT_LINK_S = 3600  # lifetime of the presigned URL a link redirects to


def open_link(token: str, secret: bytes, store: ObjectStore, bucket: str, now: int, path: str | None = None) -> str:
    """The presigned URL the token's object is served from (or, with `path`, the object at that
    relative path beside the manifest the token names: shared/links.py `resolve_beside`).

    Raises `LinkExpired` (410), or another `LinkError` (404) for a token that is malformed,
    tampered with, or names an object outside `s3://<bucket>/jobs/`.
    """
    uri = verify(secret, token, now)
    if path is not None:
        uri = resolve_beside(uri, path)
    token_bucket, key = split_uri(uri)
    if token_bucket != bucket or not key.startswith(JOBS):
        raise LinkMalformed("the link names an object outside this deployment's job outputs")
    return store.link(uri, DIRECT_LINK_S)
