"""Checks of a deserialised approximate FAISS index against its manifest (kind and stored ids)."""

from __future__ import annotations

from typing import Any

import numpy as np

from backpack.errors import IntegrityError
from backpack.store.manifest import IndexSpec


def check_approx_contents(index: Any, spec: IndexSpec, count: int, where: str) -> None:
    """An approximate index must be of the declared kind and refer only to rows 0..count-1.

    Search returns the stored ids (IVF) or graph neighbours (HNSW) as row numbers: one out of
    range would index past the task's keys. Checking them is one pass over the ids.
    """
    import faiss

    if spec.type == "flat":
        return
    wanted = faiss.IndexIVFFlat if spec.type == "ivf" else faiss.IndexHNSWFlat
    if not isinstance(index, wanted):
        raise IntegrityError(
            f"FAISS index of {where} is not of the kind its manifest claims. "
            f"Expected {wanted.__name__}. Got {type(index).__name__}."
        )
    if spec.type == "ivf":
        lists = index.invlists
        if index.nlist < 1 or ("nlist" in spec.params and index.nlist != spec.params["nlist"]):
            raise IntegrityError(
                f"FAISS index of {where} has {index.nlist} lists. Expected {spec.params.get('nlist')}."
            )
        parts = [
            faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
            for i in range(index.nlist)
            if lists.list_size(i)
        ]
        ids = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        bad = ids.size != count or (ids.size and (ids.min() < 0 or ids.max() >= count))
    else:
        ids = faiss.vector_to_array(index.hnsw.neighbors)
        bad = ids.size and (ids.min() < -1 or ids.max() >= count)
    if bad:
        raise IntegrityError(
            f"FAISS index of {where} refers to rows outside the task's {count} rows "
            f"(ids {int(ids.min()) if ids.size else 'none'}..{int(ids.max()) if ids.size else 'none'}, "
            f"{ids.size} stored)."
        )


def _check_flat_layout(data: np.ndarray, dim: int, count: int, where: str) -> None:
    """Refuse flat-index bytes whose header or vector size disagrees with the manifest.

    A checksum only proves the bytes are the writer's; a hostile writer can claim an 8 GiB
    vector that faiss would allocate before noticing the bytes are missing. The flat layout
    is a fixed header (as faiss writes it for an empty index) plus ``count * dim`` floats.
    """
    import faiss

    empty = np.asarray(faiss.serialize_index(faiss.IndexFlatIP(dim)), dtype=np.uint8)
    head = len(empty)
    expected = empty.copy()
    # header: fourcc, d (int32), ntotal (int64) at byte 8, ..., codes size (uint64) in the last 8
    expected[8:16] = np.frombuffer(np.int64(count).tobytes(), np.uint8)
    expected[head - 8 : head] = np.frombuffer(np.uint64(count * dim).tobytes(), np.uint8)
    if data.shape[0] != head + 4 * count * dim or not np.array_equal(data[:head], expected):
        raise IntegrityError(
            f"FAISS index of {where} does not have the flat layout its manifest claims. "
            f"Expected {head + 4 * count * dim} bytes for {count} x {dim}. Got {data.shape[0]} bytes."
        )
