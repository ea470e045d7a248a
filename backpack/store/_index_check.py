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
