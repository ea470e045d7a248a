"""A ``.pt`` feature file cut short inside a valid zip is refused before torch makes a tensor."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from backpack.data._pt import check_pt_sizes
from backpack.data.features import read_feature_file
from backpack.errors import DataError

torch = pytest.importorskip("torch")


def _save(path: Path, tensor: object) -> Path:
    torch.save(tensor, path)
    return path


def _rewrite(src: Path, dest: Path, change: object) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info))  # type: ignore[operator]
            if data is not None:
                zout.writestr(info.filename, data)
    return dest


def test_valid_files_pass(tmp_path: Path) -> None:
    x = torch.arange(60, dtype=torch.float32).reshape(12, 5)
    for name, t in (("plain", x), ("half", x.half()), ("view", x[2:7]), ("t", x.t().contiguous())):
        path = _save(tmp_path / f"{name}.pt", t)
        check_pt_sizes(path)
        np.testing.assert_array_equal(read_feature_file(path), t.float().numpy())


@pytest.mark.parametrize("keep", [0, 4, 239])
def test_storage_cut_short_is_refused(tmp_path: Path, keep: int) -> None:
    good = _save(tmp_path / "good.pt", torch.ones(12, 5))

    def cut(name: str, data: bytes) -> bytes:
        return data[:keep] if "/data/" in name and not name.endswith(".pkl") else data

    bad = _rewrite(good, tmp_path / "bad.pt", cut)
    with pytest.raises(
        DataError, match=r"bad.pt.*cut short or missing. Expected 240 bytes. Got " + str(keep)
    ):
        read_feature_file(bad)


def test_missing_storage_and_foreign_content(tmp_path: Path) -> None:
    good = _save(tmp_path / "good.pt", torch.ones(3, 4))
    gone = _rewrite(good, tmp_path / "gone.pt", lambda n, d: None if "/data/" in n and n[-1].isdigit() else d)
    with pytest.raises(DataError, match="no entry"):
        check_pt_sizes(gone)
    odd = _save(tmp_path / "odd.pt", {"x": torch.ones(2, 2), "f": 1.5})
    check_pt_sizes(odd)  # a dict is not refused here (read_feature_file wants one tensor and says so)
    with pytest.raises(DataError, match="expected a float tensor"):
        read_feature_file(odd)
