"""Object storage for segments: a folder and a real S3 server behave alike."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.objectstore import LocalStore, ObjectMissing, S3Store, store_from_url


@pytest.fixture(params=["folder", "s3"])
def store(request, tmp_path):
    if request.param == "folder":
        return LocalStore(tmp_path / "store")
    return store_from_url(request.getfixturevalue("s3_store_url"))


def test_files_go_and_come_back_whole(store, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)  # past boto3's multipart threshold
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    store.put_file("segments/r/one/data.bin", source)
    target = tmp_path / "out" / "data.bin"
    store.get_file("segments/r/one/data.bin", target)
    assert target.read_bytes() == data
    assert [p.name for p in target.parent.iterdir()] == ["data.bin"]  # no .part
    store.put_bytes("segments/r/one/segment.json", b"{}")
    assert store.get_bytes("segments/r/one/segment.json") == b"{}"


def test_a_missing_object_is_named(store, tmp_path):
    with pytest.raises(ObjectMissing, match="segments/r/none.arrow"):
        store.get_file("segments/r/none.arrow", tmp_path / "x")
    with pytest.raises(ObjectMissing, match="segments/r/none.arrow"):
        store.get_bytes("segments/r/none.arrow")
    assert not (tmp_path / "x").exists()
    assert not store.exists("segments/r/none.arrow")


def test_list_delete_and_exists(store):
    for key in ("a/2", "a/1", "b/1"):
        store.put_bytes(key, key.encode())
    assert store.list("a/") == ["a/1", "a/2"]
    assert store.exists("b/1")
    store.delete(["a/1", "a/missing"])
    assert store.list("") == ["a/2", "b/1"]


def test_a_folder_store_refuses_keys_that_leave_it(tmp_path):
    store = LocalStore(tmp_path / "store")
    for key in ("../x", "/etc/passwd", "a//b"):
        with pytest.raises(ValueError, match="not a relative path"):
            store.put_bytes(key, b"x")


def test_store_urls(tmp_path, monkeypatch):
    assert store_from_url(f"file://{tmp_path}").root == Path(tmp_path)
    assert store_from_url("file://var/segments").root == Path("var/segments")
    assert store_from_url(str(tmp_path)).root == Path(tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    s3 = store_from_url("s3://bucket/some/prefix?endpoint=http://127.0.0.1:9")
    assert isinstance(s3, S3Store)
    assert (s3.bucket, s3.prefix) == ("bucket", "some/prefix/")
    with pytest.raises(ValueError, match="credentials do not belong in the URL"):
        store_from_url("s3://bucket/p?endpoint=http://x&secret_key=abc")
    with pytest.raises(ValueError, match="not ftp://"):
        store_from_url("ftp://host/path")
