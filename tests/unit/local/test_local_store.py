"""FileObjectStore: s3://<bucket>/<key> <-> <root>/<bucket>/<key>, with S3's semantics."""

from __future__ import annotations

import pytest

from shared.adapters.local import FileObjectStore
from shared.errors import NotFoundError


@pytest.fixture
def store(tmp_path) -> FileObjectStore:
    return FileObjectStore(tmp_path)


def test_put_then_get_round_trips_and_lands_at_the_mapped_path(store, tmp_path):
    store.put_bytes("s3://bkt/jobs/j/sfm/metrics.json", b"{}")
    assert (tmp_path / "bkt/jobs/j/sfm/metrics.json").read_bytes() == b"{}"
    assert store.get_bytes("s3://bkt/jobs/j/sfm/metrics.json") == b"{}"


def test_put_is_atomic_and_leaves_no_temporary_files(store, tmp_path):
    store.put_bytes("s3://bkt/a/b.bin", b"x" * 1000)
    store.put_bytes("s3://bkt/a/b.bin", b"y" * 10)
    assert sorted(p.name for p in (tmp_path / "bkt/a").iterdir()) == ["b.bin"]
    assert store.get_bytes("s3://bkt/a/b.bin") == b"y" * 10


def test_missing_object_raises_not_found_and_heads_as_none(store):
    with pytest.raises(NotFoundError):
        store.get_bytes("s3://bkt/nothing")
    assert store.head("s3://bkt/nothing") is None


def test_list_uses_key_prefix_semantics(store):
    for key in ("inbox/ab/1.jpg", "inbox/ab/sub/2.jpg", "inbox/abc/3.jpg", "jobs/x"):
        store.put_bytes(f"s3://bkt/{key}", b"1")
    assert [o.uri for o in store.list("s3://bkt/inbox/ab/")] == [
        "s3://bkt/inbox/ab/1.jpg",
        "s3://bkt/inbox/ab/sub/2.jpg",
    ]
    assert len(store.list("s3://bkt/inbox/ab")) == 3
    assert store.list("s3://bkt/none/") == []


def test_identical_content_has_identical_etags_and_different_content_does_not(store):
    store.put_bytes("s3://bkt/a", b"same")
    store.put_bytes("s3://bkt/b", b"same")
    store.put_bytes("s3://bkt/c", b"diff")
    etags = {o.uri[-1]: o.etag for o in store.list("s3://bkt/")}
    assert etags["a"] == etags["b"] != etags["c"]


def test_read_range_returns_the_requested_bytes(store):
    store.put_bytes("s3://bkt/r", bytes(range(100)))
    assert store.read_range("s3://bkt/r", 10, 5) == bytes(range(10, 15))


def test_keys_that_escape_the_root_are_refused(store):
    with pytest.raises(ValueError):
        store.put_bytes("s3://bkt/../../etc/passwd", b"x")
    with pytest.raises(ValueError):
        store.get_bytes("s3://../x")


def test_link_is_a_file_url_or_a_localhost_url_when_served(tmp_path):
    assert FileObjectStore(tmp_path).link("s3://bkt/a b.sog", 60) == (tmp_path / "bkt/a b.sog").as_uri()
    served = FileObjectStore(tmp_path, link_base_url="http://127.0.0.1:8765/files/")
    assert served.link("s3://bkt/a b.sog", 60) == "http://127.0.0.1:8765/files/bkt/a%20b.sog"


def test_every_put_is_reported_like_an_s3_object_created_event(tmp_path):
    seen = []
    store = FileObjectStore(tmp_path, on_created=lambda *args: seen.append(args))
    store.put_bytes("s3://bkt/inbox/x/job.json", b"{}")
    assert seen[0][:3] == ("bkt", "inbox/x/job.json", 2)
