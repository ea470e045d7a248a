"""Fixtures of the store tests: seeded task data and the backends a conformance test runs on.

Backends
--------
``LOCATIONS`` maps a backend kind to a function ``(request, tmp_path) -> (url, storage_options)``
giving an *empty, writable* location of that kind. ``READ_KINDS`` are the kinds the read-only
conformance tests run on (``zip`` is built by exporting a local store); ``WRITE_KINDS`` the kinds
that can publish. ``memory`` is a test-only backend (memory_backend.py) that goes through the
generic zarr adapter. S3 runs the same classes by subclassing them with its own fixtures
(test_s3_conformance.py); adding it here instead would be::

    LOCATIONS["s3"] = lambda request, tmp: (
        request.getfixturevalue("s3_url"), request.getfixturevalue("s3_storage_options"))
    READ_KINDS.append(pytest.param("s3", marks=pytest.mark.s3))
    WRITE_KINDS.append(pytest.param("s3", marks=pytest.mark.s3))

(``s3_url`` and ``s3_storage_options`` come from tests/conftest.py, the local moto server.)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backpack.store import Backpack, register_backend
from tests.store.memory_backend import MemoryBackend
from tests.store.store_data import Reference, populate

# An in-memory backend (tests only): exercises the generic zarr adapter and backend registry.
register_backend("mem", MemoryBackend)

Location = Callable[[pytest.FixtureRequest, Path], "tuple[str, dict[str, Any] | None]"]
LOCATIONS: dict[str, Location] = {
    "local": lambda request, tmp: (str(tmp / "store"), None),
    "memory": lambda request, tmp: (f"mem://{uuid.uuid4().hex}", None),
}
READ_KINDS: list[Any] = ["local", "zip", "memory"]
WRITE_KINDS: list[Any] = ["local", "memory"]


@pytest.fixture(autouse=True)
def _private_array_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Remote reads go through a content-addressed cache (backpack/store/_cache.py): give every
    test its own, so no test reads another's arrays (or the user's ~/.cache)."""
    monkeypatch.setenv("BACKPACK_CACHE_DIR", str(tmp_path / "array-cache"))


@pytest.fixture(params=WRITE_KINDS)
def writable_url(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, Any] | None]:
    """An empty location on each backend that can publish: (url, storage_options)."""
    return LOCATIONS[request.param](request, tmp_path)


@pytest.fixture(params=READ_KINDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Reference:
    """The reference store (see :class:`Reference`) on each readable backend kind."""
    kind = request.param
    if kind == "zip":
        src = str(tmp_path / "src")
        tasks = populate(src, None)
        out = tmp_path / "bundle.zip"
        Backpack.open(src).export(out)
        return Reference(str(out), None, tasks)
    url, options = LOCATIONS[kind](request, tmp_path)
    return Reference(url, options, populate(url, options))
