"""S3 backend specifics on the local moto server: URLs, conditional PUT, fresh listings, errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from backpack.errors import BackpackError, ConflictError, NotAStoreError, NotFoundError, ReadOnlyError
from backpack.store import Backpack, open_backend
from backpack.store.backends.s3 import S3Backend, split_s3_url
from tests.store.store_data import NOUNS, VERBS, add, make_task

pytestmark = pytest.mark.s3


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://b/p", ("b", "p")),
        ("s3://b", ("b", "")),
        ("s3://b/a/b/", ("b", "a/b")),
        ("S3://b/x", ("b", "x")),
    ],
)
def test_split_url(url: str, expected: tuple[str, str]) -> None:
    assert split_s3_url(url) == expected


@pytest.mark.parametrize("url", ["s3://", "s3:///prefix", "http://b/p", "s3://b/../x", "s3://user@b/p"])
def test_split_url_refuses_bad_urls(url: str) -> None:
    with pytest.raises(BackpackError, match="Invalid value for 'URL'"):
        split_s3_url(url)


def test_dispatch_and_prefix(s3_url: str, s3_storage_options: dict[str, Any]) -> None:
    b = open_backend(s3_url, "a", s3_storage_options)
    assert isinstance(b, S3Backend) and not b.read_only
    b.write("k.json", b"x")
    # The key lives under the prefix, nowhere else in the bucket.
    bucket, prefix = split_s3_url(s3_url)
    assert b.fs.cat_file(f"{bucket}/{prefix}/k.json") == b"x"
    sibling = open_backend(s3_url + "-other", "r", s3_storage_options)
    assert sibling.list("") == [] and not sibling.exists("k.json")


def test_conditional_put_keeps_the_first_value(s3_url: str, s3_storage_options: dict[str, Any]) -> None:
    a = open_backend(s3_url, "a", s3_storage_options)
    b = open_backend(s3_url, "a", s3_storage_options)
    a.create_exclusive("versions/00000001.json", b"first")
    with pytest.raises(ConflictError, match="already exists"):
        b.create_exclusive("versions/00000001.json", b"second")
    assert b.read("versions/00000001.json") == b"first"


def test_listing_is_never_stale(s3_url: str, s3_storage_options: dict[str, Any]) -> None:
    reader = open_backend(s3_url, "r", s3_storage_options)
    writer = open_backend(s3_url, "a", s3_storage_options)
    assert reader.list("versions/") == []
    for i in range(1, 4):
        writer.create_exclusive(f"versions/{i:08d}.json", b"{}")
        assert reader.list("versions/") == [f"versions/{j:08d}.json" for j in range(1, i + 1)]
    writer.delete("versions/00000002.json")
    assert reader.list("versions/") == ["versions/00000001.json", "versions/00000003.json"]


def test_directory_prefix_is_not_a_key(s3_url: str, s3_storage_options: dict[str, Any]) -> None:
    b = open_backend(s3_url, "a", s3_storage_options)
    b.write("data/t/zarr.json", b"{}")
    assert not b.exists("data/t") and b.exists("data/t/zarr.json")
    with pytest.raises(NotFoundError):
        b.read("data/t")
    with pytest.raises(NotFoundError):
        b.size("data/t")


def test_sizes_and_disk_usage(s3_url: str, s3_storage_options: dict[str, Any]) -> None:
    b = open_backend(s3_url, "a", s3_storage_options)
    b.write("d/a", b"12345")
    b.write("d/sub/b", b"123")
    b.write("e", b"1")
    assert b.size("d/a") == 5 and b.disk_usage("d/") == 8 and b.disk_usage("") == 9


def test_read_only_handle(s3_url: str, s3_storage_options: dict[str, Any]) -> None:
    b = open_backend(s3_url, "r", s3_storage_options)
    for call in (lambda: b.write("x", b""), lambda: b.create_exclusive("x", b""), lambda: b.delete("x")):
        with pytest.raises(ReadOnlyError, match="read-only"):
            call()
    assert b.list("") == []


def test_missing_bucket(s3_server: str, s3_storage_options: dict[str, Any]) -> None:
    with pytest.raises(NotAStoreError, match="is not a backpack store"):
        Backpack.open("s3://no-such-bucket-xyz/store", storage_options=s3_storage_options)
    with pytest.raises(NotFoundError, match="Bucket 'no-such-bucket-xyz'"):
        Backpack.create(
            "s3://no-such-bucket-xyz/store", verbs=VERBS, nouns=NOUNS, storage_options=s3_storage_options
        )


def test_bad_storage_option(s3_url: str) -> None:
    with pytest.raises(BackpackError, match="storage_options.*no_such_option"):
        open_backend(s3_url, "r", {"no_such_option": 1})


def test_options_default_to_the_environment(s3_url: str, s3_storage_options: dict[str, Any]) -> None:
    # tests/conftest.py puts endpoint and credentials in AWS_* variables, as a user would.
    bp = Backpack.create(s3_url, verbs=VERBS, nouns=NOUNS)
    with bp.new_version(message="env") as v:
        add(v, "ar", make_task(1))
    again = Backpack.open(s3_url, storage_options=s3_storage_options)
    assert again.versions() == [1] and again.manifest.message == "env"


def test_corrupted_object_is_named(s3_url: str, s3_storage_options: dict[str, Any]) -> None:
    bp = Backpack.create(s3_url, verbs=VERBS, nouns=NOUNS, storage_options=s3_storage_options)
    data = make_task(4)
    with bp.new_version() as v:
        add(v, "ar", data)
    backend = open_backend(s3_url, "a", s3_storage_options)
    chunk = [k for k in backend.list(bp.manifest.tasks["ar"].path + "prototypes/") if "/c/" in k][0]
    raw = bytearray(backend.read(chunk))
    raw[len(raw) // 2] ^= 0x01
    backend.write(chunk, bytes(raw))
    problems = Backpack.open(s3_url, storage_options=s3_storage_options).verify()
    assert len(problems) == 1
    assert "version 1" in problems[0] and "'ar'" in problems[0] and "'prototypes'" in problems[0]


def test_search_on_s3_matches_local(s3_url: str, s3_storage_options: dict[str, Any], tmp_path: Any) -> None:
    data = make_task(7, count=60, dim=12)
    for url, opts in ((s3_url, s3_storage_options), (str(tmp_path / "local"), None)):
        bp = Backpack.create(url, verbs=VERBS, nouns=NOUNS, storage_options=opts)
        with bp.new_version() as v:
            add(v, "ar", data)
    q = np.random.default_rng(0).normal(size=(5, 12)).astype(np.float32)
    s_remote, i_remote = Backpack.open(s3_url, storage_options=s3_storage_options).task("ar").search(q, 4)
    s_local, i_local = Backpack.open(tmp_path / "local").task("ar").search(q, 4)
    np.testing.assert_array_equal(i_remote, i_local)
    np.testing.assert_allclose(s_remote, s_local, rtol=1e-6)


def test_access_denied_names_store_and_key(s3_server: str, s3_storage_options: dict[str, Any]) -> None:
    """A bucket policy denying writes: the data write fails with a house error; nothing changes."""
    import json
    import uuid

    import boto3

    bucket = f"deny-{uuid.uuid4().hex[:10]}"
    client = boto3.client("s3", endpoint_url=s3_server)
    client.create_bucket(Bucket=bucket)
    url = f"s3://{bucket}/st"
    bp = Backpack.create(url, verbs=VERBS, nouns=NOUNS, storage_options=s3_storage_options)
    client.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": ["s3:PutObject"],
                        "Resource": f"arn:aws:s3:::{bucket}/*",
                    }
                ],
            }
        ),
    )
    with pytest.raises(BackpackError) as info:
        with bp.new_version() as v:
            add(v, "ar", make_task(1))
    msg = str(info.value)
    assert "Access denied" in msg and url in msg and "'data/ar-" in msg
    with pytest.raises(BackpackError, match="Access denied"):
        open_backend(url, "a", s3_storage_options).create_exclusive("versions/00000001.json", b"{}")
    assert Backpack.open(url, storage_options=s3_storage_options).versions() == []


def test_unreachable_server_is_a_clear_error(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Connection failures (botocore errors, not OSError) become StoreErrors naming store and key;
    ``exists`` raises instead of answering False (which would hide versions)."""
    import logging

    import boto3
    import s3fs
    from moto.server import ThreadedMotoServer

    from backpack.errors import StoreError

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="outage")
    monkeypatch.setattr(s3fs.S3FileSystem, "retries", 1)  # s3fs's own retry loop
    opts = {
        "endpoint_url": endpoint,
        "key": "testing",
        "secret": "testing",
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1},
    }
    backend = open_backend("s3://outage/st", "a", opts)
    backend.write("versions/00000001.json", b"{}")
    server.stop()
    calls = {
        "read": lambda: backend.read("versions/00000001.json"),
        "write": lambda: backend.write("x.json", b"1"),
        "create": lambda: backend.create_exclusive("versions/00000002.json", b"{}"),
        "list": lambda: backend.list("versions/"),
        "check": lambda: backend.exists("versions/00000001.json"),
    }
    for action, call in calls.items():
        with pytest.raises(StoreError) as info:
            call()
        assert f"Cannot {action}" in str(info.value) and "'s3://outage/st'" in str(info.value)
