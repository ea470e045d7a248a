"""Shared test fixtures: a local S3 server (moto) on 127.0.0.1 for the ``s3`` tests.

The server runs once per test session in a thread. Credentials, region and endpoint are put in
the environment (``AWS_ENDPOINT_URL`` too), so every S3 client made during the tests -- in this
process or in the subprocesses it starts -- talks to the local server and never to any other
address.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator

import pytest

S3_BUCKET = "backpack-tests"

_S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    # No instance-metadata lookups (they would try 169.254.169.254).
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="session", autouse=True)
def _no_real_aws() -> Iterator[None]:
    """Until a test asks for ``s3_server``, S3 clients point at a closed local port, with fake keys.

    So a test that forgot the fixture fails fast instead of reaching AWS with real credentials.
    """
    with pytest.MonkeyPatch.context() as mp:
        for name, value in dict(
            _S3_ENV, AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_ENDPOINT_URL_S3="http://127.0.0.1:9"
        ).items():
            mp.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            mp.delenv(name, raising=False)
        yield


@pytest.fixture(scope="session")
def s3_server(_no_real_aws: None) -> Iterator[str]:
    """Start moto's S3 server on 127.0.0.1 (a free port), create ``S3_BUCKET``; yield the endpoint URL."""
    from moto.server import ThreadedMotoServer

    # werkzeug logs one line per request on stderr: far too chatty for thousands of requests.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = dict(_S3_ENV, AWS_ENDPOINT_URL=endpoint, AWS_ENDPOINT_URL_S3=endpoint)
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        # Proxies configured on the machine must not see (or divert) the local traffic.
        no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY", ""), "127.0.0.1", "localhost"]))
        mp.setenv("NO_PROXY", no_proxy)
        mp.setenv("no_proxy", no_proxy)
        import boto3

        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=S3_BUCKET)
        try:
            yield endpoint
        finally:
            server.stop()


@pytest.fixture
def s3_storage_options(s3_server: str) -> dict[str, str]:
    """fsspec/s3fs storage options for the local server (explicit, though the env has them too)."""
    return {"endpoint_url": s3_server, "key": "testing", "secret": "testing"}


@pytest.fixture
def s3_url(s3_server: str) -> str:
    """A fresh, empty ``s3://bucket/prefix`` URL on the local server, unique to each test."""
    return f"s3://{S3_BUCKET}/{uuid.uuid4().hex}"


# --- tiny model-side fixtures shared by tests/tasks and tests/training -------------------------------

# small enough that every task builds its graphs in well under a second and a 2-epoch run takes seconds
TINY_DATA = dict(
    dim=32, num_verbs=6, num_nouns=8, lta_videos=(3, 2), oscc_clips=(32, 16), video_seconds=(60.0, 90.0)
)


@pytest.fixture
def torch_one_thread() -> Iterator[None]:
    """Tiny models run as fast on one thread, and 2-thread OpenMP spin-waits badly on a busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> os.PathLike[str]:
    """A tiny synthetic dataset in the Ego4D layout (seed 0; read-only for tests)."""
    from backpack.data import SIZES, write_synthetic
    from backpack.data.synthetic import with_overrides

    size = with_overrides(SIZES["small"], **TINY_DATA)
    return write_synthetic(tmp_path_factory.mktemp("tiny") / "data", seed=0, size=size)
