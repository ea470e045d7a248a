"""Fixtures of the sharing tests: an S3 server on 127.0.0.1 that counts the requests it serves.

moto keeps its buckets in process-wide state, so this second server (wrapped in a counting WSGI
middleware) serves the same bucket as ``s3_server`` from tests/conftest.py; pointing a store at
its endpoint makes every request it costs visible to the test.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


@dataclass
class RequestLog:
    """Requests (method, path) served by the counting server, in order."""

    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()

    def snapshot(self) -> list[tuple[str, str]]:
        with self.lock:
            return list(self.requests)

    def data_requests(self) -> list[tuple[str, str]]:
        """Requests that read task data (``data/<task>-<id>/...``: zarr metadata and chunks)."""
        return [(m, p) for m, p in self.snapshot() if "/data/" in p]


class _Counting:
    def __init__(self, app: Callable[..., Any], log: RequestLog) -> None:
        self.app, self.log = app, log

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        with self.log.lock:
            self.log.requests.append((environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")))
        return self.app(environ, start_response)


@dataclass
class CountingS3:
    endpoint: str
    log: RequestLog
    bucket: str

    @property
    def storage_options(self) -> dict[str, str]:
        return {"endpoint_url": self.endpoint, "key": "testing", "secret": "testing"}

    def new_url(self) -> str:
        return f"s3://{self.bucket}/{uuid.uuid4().hex}"


SHARING_BUCKET = "backpack-sharing"


@pytest.fixture(scope="session")
def counting_s3(s3_server: str) -> Iterator[CountingS3]:
    """A second moto endpoint on 127.0.0.1 (same process-wide buckets) whose requests are logged.

    Depends on ``s3_server`` for the test credentials and ``NO_PROXY`` in the environment.
    """
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    log = RequestLog()
    wsgi = server._server  # werkzeug's server calls self.app for every request
    wsgi.app = _Counting(wsgi.app, log)
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=SHARING_BUCKET)
    try:
        yield CountingS3(endpoint, log, SHARING_BUCKET)
    finally:
        server.stop()


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh array cache for this test (``BACKPACK_CACHE_DIR``)."""
    path = tmp_path / "array-cache"
    monkeypatch.setenv("BACKPACK_CACHE_DIR", str(path))
    return path
