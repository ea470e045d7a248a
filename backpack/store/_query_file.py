"""Query vectors from a ``.npy`` file, checked against the file before anything is allocated."""

from __future__ import annotations

import os

import numpy as np

from backpack.errors import BackpackError

MAX_QUERY_BYTES = 2**32  # 4 GiB of query vectors is not a query


def load_query_vectors(path: str | os.PathLike[str]) -> np.ndarray:
    """A [Q, D] or [D] float array from ``path``; a file that is not a ``.npy``, or whose header
    claims more data than the file holds, is a :class:`~backpack.errors.BackpackError`."""
    where = f"--vectors {str(path)!r}"
    try:
        with open(path, "rb") as f:
            try:
                major, _minor = np.lib.format.read_magic(f)
                if major == 1:
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
                else:
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            except (ValueError, EOFError, SyntaxError) as exc:
                raise BackpackError(f"Cannot read {where}: not a .npy file ({exc}).") from None
            header_end = f.tell()
            size = os.fstat(f.fileno()).st_size
            if dtype.hasobject or dtype.kind not in "fiu":
                raise BackpackError(f"Invalid value for 'dtype' in {where}. Expected numbers. Got {dtype}.")
            if len(shape) not in (1, 2):
                raise BackpackError(
                    f"Invalid value for 'shape' in {where}. Expected [Q, D] or [D]. Got {shape}."
                )
            claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if claimed > MAX_QUERY_BYTES or claimed != size - header_end:
                raise BackpackError(
                    f"Invalid value for 'shape' in {where}. Expected a shape the file's "
                    f"{size - header_end} data bytes hold. Got {shape} ({claimed} bytes)."
                )
            data = np.fromfile(f, dtype=dtype, count=int(np.prod(shape)))
    except OSError as exc:
        raise BackpackError(f"Cannot read {where}: {exc.strerror or exc}.") from None
    return data.reshape(shape, order="F" if fortran else "C")
