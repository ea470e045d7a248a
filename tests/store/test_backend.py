"""The backend layer: URL dispatch, key safety, local temp files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backpack.errors import BackpackError, NotFoundError
from backpack.store import Backpack, open_backend
from backpack.store.backends.base import check_key
from backpack.store.backends.local import LocalBackend
from backpack.store.backends.zip import ZipBackend


def test_dispatch(tmp_path: Path) -> None:
    assert isinstance(open_backend(tmp_path), LocalBackend)
    local = open_backend(f"file://{tmp_path}", "a")
    assert isinstance(local, LocalBackend) and local.root == tmp_path and not local.read_only
    with pytest.raises(NotFoundError, match="No bundle"):
        open_backend(tmp_path / "missing.zip")
    with pytest.raises(
        BackpackError, match=r"'URL scheme'.*Expected one of \[.*'file'.*'s3'.*'zip'\]. Got 'gopher'"
    ):
        open_backend("gopher://x/y")
    with pytest.raises(BackpackError, match=r"'mode'.*Expected 'r' or 'a'. Got 'w'"):
        open_backend(tmp_path, "w")


@pytest.mark.parametrize("key", ["../x", "/abs", "a/../b", "a//b", "a\\b", "", "./a", "a/.."])
def test_unsafe_keys(key: str) -> None:
    with pytest.raises(BackpackError, match="'key'"):
        check_key(key)


def test_local_listing_hides_temp_files(tmp_path: Path) -> None:
    b = LocalBackend(str(tmp_path), read_only=False)
    b.write("versions/00000001.json", b"{}")
    (tmp_path / "versions" / ".tmp-00000002.json.abc").write_bytes(b"{")
    (tmp_path / "versions" / "x.partial").write_bytes(b"{")
    assert b.list("versions/") == ["versions/00000001.json"]
    assert b.disk_usage("versions/") == 2 and b.size("versions/00000001.json") == 2


def test_zip_backend_capabilities(tmp_path: Path) -> None:
    bp = Backpack.create(tmp_path / "s", verbs=["a"], nouns=["b"])
    with bp.new_version() as v:
        v.add_task("ar", np.ones((1, 2)), [[0, 0]], [1])
    z = open_backend(bp.export(tmp_path / "s.zip"))
    assert isinstance(z, ZipBackend)
    assert not (z.supports_writes or z.supports_deletes)
    assert z.read_only and z.local_path() is None
    z.close()
