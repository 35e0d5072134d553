"""Link tokens (shared/links.py), the store that makes them, and the redirect logic."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from services.ingest.links import DIRECT_LINK_S, open_link
from shared.adapters.aws import SecretsManagerSecret, TokenLinkStore
from shared.links import (
    MAX_LINK_LIFETIME_S,
    LinkError,
    LinkExpired,
    LinkMalformed,
    LinkTampered,
    is_linkable,
    link_url,
    sign,
    verify,
)
from tests.support.fakes import MemoryStore

SECRET = b"k" * 32
NOW = 1_800_000_000
URI = "s3://spaceport-bucket/jobs/abcdefghjkmnpqrstvwx/compress/model.sog"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(secret: bytes, payload: bytes) -> str:
    """A token with a valid MAC over any payload (what only a secret holder could make)."""
    signed = f"v1.{_b64(payload)}"
    return f"{signed}.{_b64(hmac.new(secret, signed.encode(), hashlib.sha256).digest())}"


def test_a_token_round_trips_to_its_uri_until_it_expires():
    token = sign(SECRET, URI, NOW + 3600, now=NOW)
    assert verify(SECRET, token, NOW) == URI
    assert verify(SECRET, token, NOW + 3599) == URI
    with pytest.raises(LinkExpired) as expired:
        verify(SECRET, token, NOW + 3600)
    assert expired.value.expired_at == NOW + 3600


def test_a_token_is_one_url_safe_path_segment():
    token = sign(SECRET, "s3://b-1/jobs/x y/ü+%/model.sog", NOW + 60, now=NOW)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert verify(SECRET, token, NOW) == "s3://b-1/jobs/x y/ü+%/model.sog"
    assert link_url("https://api.example.com/v1/", token) == f"https://api.example.com/v1/links/{token}"


def test_expiry_is_at_most_seven_days_after_signing():
    assert verify(SECRET, sign(SECRET, URI, NOW + MAX_LINK_LIFETIME_S, now=NOW), NOW) == URI
    with pytest.raises(ValueError, match="7 days"):
        sign(SECRET, URI, NOW + MAX_LINK_LIFETIME_S + 1, now=NOW)
    with pytest.raises(ValueError, match="7 days"):
        sign(SECRET, URI, NOW, now=NOW)


def test_a_token_claiming_more_than_seven_days_is_refused():
    token = forge(SECRET, f"{NOW + MAX_LINK_LIFETIME_S + 10}\n{URI}".encode())
    with pytest.raises(LinkMalformed):
        verify(SECRET, token, NOW)


@pytest.mark.parametrize(
    "uri",
    [
        "s3://spaceport-bucket/inbox/roof/IMG_1.jpg",
        "s3://spaceport-bucket/jobs/",
        "s3://spaceport-bucket/jobs/../inbox/roof/IMG_1.jpg",
        "s3://spaceport-bucket/jobs/a//model.sog",
        "s3://spaceport-bucket/jobs/a/./model.sog",
        "s3://spaceport-bucket/jobsx/a/model.sog",
        "s3://Bad_Bucket/jobs/a/model.sog",
        "https://spaceport-bucket.s3.amazonaws.com/jobs/a/model.sog",
        "s3://spaceport-bucket/jobs/a/model.sog\nx",
    ],
)
def test_only_job_outputs_can_be_signed_or_verified(uri: str):
    assert not is_linkable(uri)
    with pytest.raises(ValueError, match="jobs/"):
        sign(SECRET, uri, NOW + 60, now=NOW)
    with pytest.raises(LinkMalformed):
        verify(SECRET, forge(SECRET, f"{NOW + 60}\n{uri}".encode()), NOW)


def test_any_change_to_a_token_is_detected():
    token = sign(SECRET, URI, NOW + 3600, now=NOW)
    version, payload, mac = token.split(".")
    longer = _b64(f"{NOW + 7200}\n{URI}".encode())
    other = _b64(f"{NOW + 3600}\n{URI.replace('model.sog', 'model.ply')}".encode())
    flipped = ("A" if mac[0] != "A" else "B") + mac[1:]
    for changed in (f"v1.{longer}.{mac}", f"v1.{other}.{mac}", f"{version}.{payload}.{flipped}"):
        with pytest.raises(LinkTampered):
            verify(SECRET, changed, NOW)
    with pytest.raises(LinkTampered):
        verify(b"x" * 32, token, NOW)  # made with another secret


@pytest.mark.parametrize(
    "token",
    ["", "v1", "v1..", "v2.YQ.YQ", "v1.YQ", "v1.YQ.YQ.YQ", "v1.Y+Q.YQ", "v1.YQ=.YQ", "v1.YR.YQ",
     "v1." + "A" * 3000],
    ids=["empty", "version", "empty parts", "v2", "2 parts", "4 parts", "plus", "pad", "uncanonical", "long"],
)
def test_malformed_tokens_are_refused_before_any_mac_check(token: str):
    with pytest.raises(LinkMalformed):
        verify(SECRET, token, NOW)


def test_link_errors_are_not_found_errors_with_expired_distinguished():
    assert issubclass(LinkExpired, LinkError) and issubclass(LinkTampered, LinkError)
    from shared.errors import NotFoundError

    assert issubclass(LinkError, NotFoundError)


def test_a_short_secret_is_refused():
    with pytest.raises(ValueError, match="32 bytes"):
        sign(b"short", URI, NOW + 60, now=NOW)


# ---------------------------------------------------------------- the store and the redirect


class CountingSecrets:
    def __init__(self) -> None:
        self.calls = 0

    def get_secret_value(self, SecretId: str) -> dict[str, str]:  # noqa: N803 - boto3's name
        self.calls += 1
        return {"SecretString": "s" * 64, "ARN": SecretId}


def test_the_secret_is_fetched_once_and_links_are_tokens_to_the_api():
    secrets = CountingSecrets()
    secret = SecretsManagerSecret(secrets, "arn:aws:secretsmanager:us-east-1:1:secret:x")
    store = TokenLinkStore(MemoryStore(), secret.value, "https://api.example.com/v1", clock=lambda: NOW)
    assert secrets.calls == 0  # nothing fetched until a link is made
    first, second = store.link(URI, 3600), store.link(URI, 7 * 24 * 3600)
    assert secrets.calls == 1
    for url in (first, second):
        assert url.startswith("https://api.example.com/v1/links/v1.")
        assert verify(b"s" * 64, url.rsplit("/", 1)[1], NOW) == URI
    with pytest.raises(ValueError):
        store.link(URI, 7 * 24 * 3600 + 1)


def test_the_token_store_delegates_everything_but_links():
    inner = MemoryStore()
    store = TokenLinkStore(inner, lambda: SECRET, "https://api.example.com/v1")
    store.put_bytes(URI, b"PK", "application/zip")
    assert inner.get_bytes(URI) == b"PK" and store.get_bytes(URI) == b"PK"
    assert [o.uri for o in store.list(URI.rsplit("/", 1)[0] + "/")] == [URI]
    assert store.head(URI) is not None and store.read_range(URI, 1, 1) == b"K"
    assert store.direct is inner


def test_open_link_presigns_the_named_object_for_an_hour():
    store = MemoryStore()
    location = open_link(sign(SECRET, URI, NOW + 60, now=NOW), SECRET, store, "spaceport-bucket", NOW)
    assert location == store.link(URI, DIRECT_LINK_S)


def test_open_link_refuses_another_buckets_object():
    token = sign(SECRET, URI.replace("spaceport-bucket", "other-bucket"), NOW + 60, now=NOW)
    with pytest.raises(LinkMalformed):
        open_link(token, SECRET, MemoryStore(), "spaceport-bucket", NOW)


LOD_META = "s3://spaceport-bucket/jobs/abcdefghjkmnpqrstvwx/compress/lod/lod-meta.json"


def test_a_streamed_models_link_ends_in_its_manifest_name_so_relative_files_resolve():
    # GIVEN the link of a streamed model's lod-meta.json
    store = TokenLinkStore(MemoryStore(), lambda: SECRET, "https://api.example.com/v1", clock=lambda: NOW)
    url = store.link(LOD_META, 3600)
    assert url.endswith("/lod-meta.json") and link_url("https://a/", "T", URI) == "https://a/links/T"
    token = url.split("/links/")[1].split("/")[0]
    # WHEN a viewer asks for the files the manifest names, relative to that URL
    direct = MemoryStore()
    for path, key in [("lod-meta.json", "lod/lod-meta.json"), ("0_0/meta.json", "lod/0_0/meta.json"),
                      ("3_1/means_l.webp", "lod/3_1/means_l.webp")]:  # fmt: skip
        # THEN each opens the object at that path beside the manifest
        location = open_link(token, SECRET, direct, "spaceport-bucket", NOW, path)
        assert location == direct.link(LOD_META.replace("lod/lod-meta.json", key), DIRECT_LINK_S)


@pytest.mark.parametrize("path", ["../model.sog", "0_0/../../model.sog", "", "0_0//meta.json", "./x", "a\\..\\b"])
def test_a_manifest_link_opens_nothing_outside_its_folder(path: str):
    token = sign(SECRET, LOD_META, NOW + 60, now=NOW)
    with pytest.raises(LinkMalformed):
        open_link(token, SECRET, MemoryStore(), "spaceport-bucket", NOW, path)


def test_a_link_to_any_other_file_opens_no_other_files():
    token = sign(SECRET, URI, NOW + 60, now=NOW)  # model.sog
    with pytest.raises(LinkMalformed, match="lod-meta.json"):
        open_link(token, SECRET, MemoryStore(), "spaceport-bucket", NOW, "metrics.json")
