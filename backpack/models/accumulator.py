"""Streaming per-(verb, noun) means of task features: the prototypes of the backpack."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import torch
from torch import Tensor

from backpack.errors import ConfigError, DataError, invalid


class PrototypeAccumulator:
    """Float64 sums and counts per (verb, noun) key and task, of a fixed key set.

    The key set is fixed up front (the (verb, noun) pairs of the AR train annotations), so the
    state has a fixed shape ``[P, D_k]`` whatever the number of clips: memory is bounded by the
    number of prototypes, and a data-parallel build only needs an all-reduce (sum) of
    :attr:`sums` and :attr:`counts` (see :meth:`merge` for the single-process equivalent).

    Parameters
    ----------
    keys : iterable of (verb, noun)
        The prototype keys; duplicates are dropped, order is sorted (deterministic ids).
    dims : Mapping[str, int]
        Feature size of each task, e.g. ``{"ar": 256, "lta": 256}``.

    Shapes: update(keys [M, 2], {task: [M, D_task]}); finalize() -> keys [P, 2] int32,
    {task: [P, D_task] float32}, support [P] int64.
    """

    def __init__(self, keys: Iterable[tuple[int, int]], dims: Mapping[str, int]) -> None:
        uniq = sorted({(int(v), int(n)) for v, n in keys})
        if not uniq:
            raise DataError("No (verb, noun) pairs to build prototypes from: the AR train split is empty.")
        if not dims:
            raise ConfigError("PrototypeAccumulator needs at least one task. Got none.")
        self.keys = torch.tensor(uniq, dtype=torch.int64)  # [P, 2]
        self._stride = int(self.keys[:, 1].max()) + 1
        codes = self.keys[:, 0] * self._stride + self.keys[:, 1]
        self._codes, self._order = torch.sort(codes)
        self.dims = {t: int(d) for t, d in dims.items()}
        self.sums = {t: torch.zeros(len(uniq), d, dtype=torch.float64) for t, d in self.dims.items()}
        self.counts = torch.zeros(len(uniq), dtype=torch.int64)

    @property
    def num_prototypes(self) -> int:
        return int(self.keys.shape[0])

    def state_nbytes(self) -> int:
        """Bytes held by the running state (independent of how many clips were seen)."""
        return sum(s.numel() * s.element_size() for s in self.sums.values()) + self.counts.numel() * 8

    def index_of(self, keys: Tensor) -> Tensor:
        """Row ids [M] of ``keys`` [M, 2]; unknown keys raise :class:`DataError`."""
        keys = keys.to(torch.int64).cpu()
        codes = keys[:, 0] * self._stride + keys[:, 1]
        pos = torch.searchsorted(self._codes, codes).clamp(max=len(self._codes) - 1)
        bad = (self._codes[pos] != codes) | (keys[:, 1] >= self._stride) | (keys < 0).any(dim=1)
        if bool(bad.any()):
            first = keys[bad.nonzero()[0, 0]].tolist()
            raise DataError(
                f"(verb, noun) pair {tuple(first)} is not among the {self.num_prototypes} prototype keys."
            )
        return self._order[pos]

    def update(self, keys: Tensor, feats: Mapping[str, Tensor]) -> None:
        """Add features ``{task: [M, D]}`` of ``M`` samples labelled ``keys`` [M, 2]."""
        if set(feats) != set(self.dims):
            raise ConfigError(
                invalid("tasks", "PrototypeAccumulator.update", sorted(self.dims), sorted(feats))
            )
        rows = self.index_of(keys)
        for task, f in feats.items():
            if f.dim() != 2 or f.shape != (rows.shape[0], self.dims[task]):
                raise ConfigError(
                    invalid(
                        "features", f"task {task!r}", f"[{rows.shape[0]}, {self.dims[task]}]", list(f.shape)
                    )
                )
            self.sums[task].index_add_(0, rows, f.detach().to("cpu", torch.float64))
        self.counts += torch.bincount(rows, minlength=self.num_prototypes)

    def merge(self, other: PrototypeAccumulator) -> None:
        """Add another shard's state (what an all-reduce of sums and counts does across ranks)."""
        if not torch.equal(self.keys, other.keys) or self.dims != other.dims:
            raise ConfigError("Cannot merge prototype accumulators with different keys or tasks.")
        for task in self.sums:
            self.sums[task] += other.sums[task]
        self.counts += other.counts

    def finalize(self, drop_empty: bool = True) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """Means per key: (keys [P, 2] int32, {task: [P, D] float32}, support [P] int64).

        Keys never seen are dropped (``drop_empty``) since a mean over no sample is undefined.
        """
        keep = self.counts > 0 if drop_empty else torch.ones_like(self.counts, dtype=torch.bool)
        if not bool(keep.any()):
            raise DataError("No sample reached the prototype accumulator: nothing to build.")
        denom = self.counts[keep].clamp(min=1).to(torch.float64)[:, None]
        protos = {t: (s[keep] / denom).to(torch.float32).numpy() for t, s in self.sums.items()}
        return self.keys[keep].to(torch.int32).numpy(), protos, self.counts[keep].numpy().astype(np.int64)


__all__ = ["PrototypeAccumulator"]
