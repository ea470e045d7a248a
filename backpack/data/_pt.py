"""Checks of a ``.pt`` file read as a zip, before ``torch.load`` makes any tensor.

``torch.save`` writes a zip: ``<dir>/data.pkl`` (a pickle naming each storage by a key, its type
and its element count, and each tensor by storage, offset, size and stride) and one entry
``<dir>/data/<key>`` of raw bytes per storage. torch 2.2.1 accepts an entry shorter than its
storage and reads past it (other heap data, or a crash). Here the pickle is walked with a
restricted unpickler that builds nothing (no torch needed) and every storage's entry must hold
exactly ``count x itemsize`` bytes, every tensor must fit inside its storage.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

from backpack.errors import DataError

_ITEMSIZE = {
    "DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "LongStorage": 8,
    "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1,
    "ComplexFloatStorage": 8, "ComplexDoubleStorage": 16, "UntypedStorage": 1,
}  # fmt: skip
MAX_PICKLE_BYTES = 16 * 2**20


class _Storage(tuple):
    """(type name, key, element count) of a storage the pickle refers to."""


class _Tensor(tuple):
    """(storage, offset, size, stride) of a tensor the pickle builds."""


def _rebuild(storage: Any, offset: Any, size: Any, stride: Any, *rest: Any) -> _Tensor:
    return _Tensor((storage, offset, tuple(size), tuple(stride)))


class _Walker(pickle.Unpickler):
    def __init__(self, data: bytes, where: str) -> None:
        super().__init__(io.BytesIO(data))
        self.where = where
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild
        if module == "torch" and name in _ITEMSIZE:
            return name
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise DataError(
            f"Invalid feature file {self.where}: unexpected content {module}.{name} (expected one tensor)."
        )

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and pid[1] in _ITEMSIZE):
            raise DataError(f"Invalid feature file {self.where}: unexpected storage record {str(pid)[:80]}.")
        _, kind, key, _location, numel = pid
        if not isinstance(numel, int) or numel < 0:
            raise DataError(f"Invalid feature file {self.where}: storage {key!r} claims {numel!r} elements.")
        storage = _Storage((kind, str(key), numel))
        self.storages[str(key)] = storage
        return storage


def check_pt_sizes(path: str | Path) -> None:
    """Refuse a zip ``.pt`` whose storages or tensors claim more bytes than the file holds.

    Files in torch's legacy (non-zip) format are left to ``torch.load``.

    Raises
    ------
    DataError
        Naming the file and the storage: expected vs present bytes.
    """
    where = repr(str(path))
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as zf:
            infos = {i.filename: i for i in zf.infolist()}
            pkl = [n for n in infos if n.endswith("data.pkl") and n.count("/") == 1]
            if len(pkl) != 1 or infos[pkl[0]].file_size > MAX_PICKLE_BYTES:
                raise DataError(f"Invalid feature file {where}: expected one data.pkl of a torch.save zip.")
            base = pkl[0][: -len("data.pkl")]
            walker = _Walker(zf.read(pkl[0]), where)
            obj = walker.load()
    except DataError:
        raise
    except Exception as exc:  # BadZipFile, CRC, truncated pickle, RecursionError ...
        raise DataError(f"Invalid feature file {where}: unreadable ({type(exc).__name__}: {exc}).") from None
    for kind, key, numel in walker.storages.values():
        info = infos.get(f"{base}data/{key}")
        want = numel * _ITEMSIZE[kind]
        have = None if info is None else info.file_size
        if have != want:
            raise DataError(
                f"Invalid feature file {where}: storage {key!r} is cut short or missing. "
                f"Expected {want} bytes. Got {have if have is not None else 'no entry'}."
            )
    tensors = [obj] if isinstance(obj, _Tensor) else []
    for storage, offset, size, stride in tensors:
        if any(not isinstance(v, int) or v < 0 for v in (offset, *size, *stride)) or len(size) != len(stride):
            raise DataError(
                f"Invalid feature file {where}: tensor size {size} stride {stride} offset {offset}."
            )
        need = 0 if 0 in size else offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1
        if need > storage[2]:
            raise DataError(
                f"Invalid feature file {where}: a tensor of size {list(size)} needs {need} elements "
                f"of its storage. Got {storage[2]}."
            )
