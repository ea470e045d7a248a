"""A figure's footer names its store as the user knows it (``name@version``), never an absolute path."""

from __future__ import annotations

import pytest

from backpack.pipeline.figures import short_store


@pytest.mark.parametrize(
    "url,version,expected",
    [
        ("/home/me/work/store", 3, "store@3"),
        ("/home/me/work/store/", 3, "store@3"),
        ("store/", 1, "store@1"),
        ("file:///data/backpacks/egopack", 2, "egopack@2"),
        ("/tmp/bundles/store.zip", 4, "store.zip@4"),
        ("s3://bucket/team/egopack", 7, "s3://bucket/team/egopack@7"),
        ("s3://bucket/team/egopack/", None, "s3://bucket/team/egopack"),
    ],
)
def test_short_store(url: str, version: int | None, expected: str) -> None:
    assert short_store(url, version) == expected
