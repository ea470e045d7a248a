"""The store conformance suite on S3 (the local moto server of tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.store.store_data import Reference, populate
from tests.store.test_conformance import TestReadConformance as _Read
from tests.store.test_conformance import TestWriteConformance as _Write

pytestmark = pytest.mark.s3


class TestS3ReadConformance(_Read):
    @pytest.fixture
    def backend_url(self, s3_url: str, s3_storage_options: dict[str, Any]) -> Reference:
        return Reference(s3_url, s3_storage_options, populate(s3_url, s3_storage_options))


class TestS3WriteConformance(_Write):
    @pytest.fixture
    def writable_url(self, s3_url: str, s3_storage_options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return s3_url, s3_storage_options
