"""The S3 server goes away in the middle of a publish, then comes back on the same port.

A private moto server (state is shared in-process, so data survives a stop/start) is stopped at
seeded random moments of a 3 MB publish and once exactly at the commit (the manifest's
conditional PUT). After each outage: the publish failed, the store lists the same versions, every
version verifies, and the next publish succeeds once the server is back.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from backpack.errors import BackpackError
from backpack.store import Backpack
from backpack.store.backends.s3 import S3Backend
from tests.reliability.rel_common import content_problems, new_store, publish

pytestmark = pytest.mark.s3


class Outage:
    """A moto server that can be stopped and restarted on the same port."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._cls = ThreadedMotoServer
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        self.host, self.port = self.server.get_host_and_port()
        self.up = True

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        if self.up:
            self.server.stop()
            self.up = False

    def start(self) -> None:
        if not self.up:
            self.server = self._cls(ip_address="127.0.0.1", port=self.port, verbose=False)
            self.server.start()
            self.up = True


@pytest.fixture(scope="module")
def outage(s3_server: str) -> Iterator[Outage]:
    import s3fs  # s3_server above: credentials in the environment

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(s3fs.S3FileSystem, "retries", 1)  # s3fs's own retry loop (not an option)
        o = Outage()
        try:
            yield o
        finally:
            o.stop()


def _options(endpoint: str) -> dict[str, Any]:
    # Fail fast while the server is down (s3fs and botocore would otherwise retry for ~20 s).
    return {
        "endpoint_url": endpoint,
        "key": "testing",
        "secret": "testing",
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1, "read_timeout": 5},
    }


def _outages(outage: Outage, n_random: int) -> tuple[list[BaseException], str]:
    import boto3

    bucket = f"outage-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=outage.endpoint).create_bucket(Bucket=bucket)
    url, opts = f"s3://{bucket}/store", _options(outage.endpoint)
    new_store(url, storage_options=opts).close()
    rng = random.Random(7)
    errors: list[BaseException] = []
    seed = 10
    for moment in [rng.uniform(0.05, 0.6) for _ in range(n_random)] + ["commit"]:
        before = Backpack.open(url, storage_options=opts).versions()
        writer = Backpack.open(url, mode="a", storage_options=opts)
        if moment == "commit":
            real = S3Backend.create_exclusive

            def at_commit(
                self: S3Backend, key: str, data: bytes, real=real
            ) -> None:  # bound now: the patch replaces it
                if key.startswith("versions/"):
                    outage.stop()
                return real(self, key, data)

            patch = pytest.MonkeyPatch()
            patch.setattr(S3Backend, "create_exclusive", at_commit)
        else:
            patch = None
            threading.Timer(moment, outage.stop).start()
        finished = False
        try:
            publish(writer, seed, big=True)
            finished = True  # the publish beat the outage: then it must be listed and complete
        except Exception as exc:  # noqa: BLE001 -- what kind is checked by test_outage_error_is_clear
            errors.append(exc)
        finally:
            if patch is not None:
                patch.undo()
            time.sleep(0.9) if patch is None else None  # let a late timer fire before restarting
            outage.start()
        seed += 1
        bp = Backpack.open(url, storage_options=opts)
        expected = before + [before[-1] + 1] if finished else before
        assert moment != "commit" or not finished
        assert bp.versions() == expected, f"outage at {moment}: versions {bp.versions()}, expected {expected}"
        assert content_problems(bp) == []
        assert publish(Backpack.open(url, mode="a", storage_options=opts), seed) == expected[-1] + 1
        seed += 1
    return errors, url


@pytest.fixture(scope="module")
def outcome(outage: Outage) -> tuple[list[BaseException], str]:
    """One random outage and one at the commit (the consistency checks run inside)."""
    return _outages(outage, 1)


def test_store_stays_consistent_and_next_publish_succeeds(outcome: tuple[list[BaseException], str]) -> None:
    errors, _ = outcome
    assert len(errors) >= 1  # the commit outage always fails its publish; the checks after each passed
    print("\nS3 outages: 2 (1 random, 1 at commit); versions lost or partial: 0")


@pytest.mark.slow
def test_many_outages(outage: Outage) -> None:
    errors, _ = _outages(outage, 8)
    assert len(errors) >= 5


def test_outage_error_is_clear(outcome: tuple[list[BaseException], str]) -> None:
    """Each failed publish says the store could not be reached, naming it (not a bare botocore error,
    nor an error raised while cleaning up that hides the cause)."""
    errors, url = outcome
    for exc in errors:
        assert isinstance(exc, BackpackError), f"{type(exc).__name__}: {exc}"
        assert url.split("/")[2] in str(exc), str(exc)
