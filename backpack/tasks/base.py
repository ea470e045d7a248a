"""The abstract :class:`Task`: what every Ego4D task must say about its graphs, units and metrics.

A task turns annotations into :class:`~backpack.backbone.graph.GraphSample` s (Fig. 3 of the paper),
picks the *units* it predicts from the backbone output (nodes, future nodes or pooled graphs),
and owns its loss and metrics. Targets are always aligned row by row with the units.
"""

from __future__ import annotations

import weakref
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from backpack.errors import ConfigError, invalid
from backpack.tasks.metrics import IGNORE_INDEX

if TYPE_CHECKING:
    from backpack.backbone.graph import GraphBatch, GraphSample

# Built samples per dataset object, in memory only: {id(ds): (weakref(ds), {key: samples})}.
_SAMPLE_CACHE: dict[int, tuple[weakref.ref, dict[tuple, list]]] = {}


def _cache_for(ds: object) -> dict[tuple, list]:
    entry = _SAMPLE_CACHE.get(id(ds))
    if entry is not None and entry[0]() is ds:
        return entry[1]
    store: dict[tuple, list] = {}
    key = id(ds)
    _SAMPLE_CACHE[key] = (weakref.ref(ds), store)
    weakref.finalize(ds, _SAMPLE_CACHE.pop, key, None)
    return store


def clear_sample_cache() -> None:
    """Forget every built sample (tests use it to time or re-run graph building)."""
    _SAMPLE_CACHE.clear()


class Task(ABC):
    """One Ego4D task modelled as a temporal graph.

    Subclasses set ``name`` and ``level`` and implement :meth:`outputs`, :meth:`build`,
    :meth:`units`, :meth:`targets` and :meth:`score`.
    """

    name: ClassVar[str]
    level: ClassVar[Literal["node", "graph"]]
    metric_names: ClassVar[tuple[str, ...]]

    # ---------------------------------------------------------------- what the task predicts
    @abstractmethod
    def outputs(self, taxonomy: Any) -> dict[str, int]:
        """Output name -> number of logits, e.g. ``{"verb": 115, "noun": 478}``."""

    @abstractmethod
    def build(
        self, ds: Any, split: str, train: bool, rng: np.random.Generator, node_input: str = "sample"
    ) -> list[GraphSample]:
        """Build every graph of ``split`` (uncached; use :meth:`build_samples`).

        ``node_input`` says how a node's input is formed from its segment's feature rows (one of
        :data:`backpack.data.sampling.NODE_INPUTS`).
        """

    @abstractmethod
    def units(self, batch: GraphBatch, h: Tensor) -> Tensor:
        """Rows the task predicts from backbone features ``h`` [N, C]. Shapes: -> [M, C]."""

    @abstractmethod
    def targets(self, batch: GraphBatch) -> dict[str, Tensor]:
        """Targets aligned with :meth:`units` rows (extra entries carry what the metrics need)."""

    @abstractmethod
    def score(self, logits: dict[str, Tensor], targets: dict[str, Tensor], seed: int = 0) -> dict[str, float]:
        """Metrics from the concatenated logits and targets of a whole split."""

    # ---------------------------------------------------------------- shared behaviour
    def build_samples(
        self,
        ds: Any,
        split: str,
        train: bool,
        seed: int,
        limit: int | None = None,
        *,
        node_input: str = "sample",
        epoch: int | None = None,
    ) -> list[GraphSample]:
        """The graphs of ``split``, built once per (dataset, split, train, seed, limit, node input, epoch).

        ``train`` draws the training augmentation (random rows or crops, seeded), evaluation uses
        every row or the centre ones. ``epoch`` (training only) re-draws it per epoch from
        (seed, epoch), so a resumed run sees the same draws; only the latest epoch of each key is
        kept in memory. ``limit`` keeps only the first ``limit`` samples after a shuffle seeded with
        ``seed`` (few-label novel tasks): the same graphs every epoch, only their draw changes.
        """
        from backpack.data.sampling import check_node_input

        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise ConfigError(invalid("limit", f"task {self.name!r}", "a positive integer", limit))
        check_node_input(node_input, f"task {self.name!r}")
        cache = _cache_for(ds)
        draw = int(epoch) if (train and epoch is not None) else None
        # evaluation graphs do not depend on the seed; a limited subset always does
        base = ((self.name, self.variant()), split, bool(train), int(seed) if train else 0, node_input)
        full_key = base + (draw, None, None)
        key = base + (draw,) + ((limit, int(seed)) if limit is not None else (None, None))
        if key not in cache:
            if draw is not None:  # keep one epoch's draw per key: the others will not be asked again
                for old in [k for k in cache if k[:5] == base and k[5] is not None]:
                    del cache[old]
            if full_key not in cache:
                ids = [int(seed), _stable_id(self.name)] + ([draw] if draw is not None else [])
                cache[full_key] = self.build(ds, split, train, np.random.default_rng(ids), node_input)
            samples = cache[full_key]
            if limit is not None:
                order = np.random.default_rng([int(seed), 7919]).permutation(len(samples))[:limit]
                samples = [samples[i] for i in order]
            cache[key] = samples
        return list(cache[key])

    def loss(self, logits: dict[str, Tensor], batch: GraphBatch) -> Tensor:
        """Sum over the task's outputs of the cross entropy (labels ``-100`` are ignored)."""
        targets = self.targets(batch)
        total = logits[next(iter(logits))].new_zeros(())
        for out, value in logits.items():
            total = total + F.cross_entropy(value, targets[out], ignore_index=IGNORE_INDEX)
        return total

    @torch.no_grad()
    def evaluate(
        self,
        model: Any,
        samples: list[GraphSample],
        *,
        batch_size: int = 32,
        device: str | torch.device = "cpu",
        seed: int = 0,
    ) -> dict[str, float]:
        """Run ``model(task, batch)`` over ``samples`` in order and score the whole split."""
        from backpack.backbone.graph import GraphBatch

        was_training = getattr(model, "training", False)
        if hasattr(model, "eval"):
            model.eval()
        logits: dict[str, list[Tensor]] = {}
        targets: dict[str, list[Tensor]] = {}
        try:
            for i in range(0, len(samples), batch_size):
                batch = GraphBatch.collate(samples[i : i + batch_size]).to(device)
                for k, v in model(self.name, batch).items():
                    logits.setdefault(k, []).append(v.float().cpu())
                for k, v in self.targets(batch).items():
                    targets.setdefault(k, []).append(v.cpu())
        finally:
            if was_training:
                model.train()
        if not logits:
            return self.empty_scores()
        return self.score(
            {k: torch.cat(v) for k, v in logits.items()}, {k: torch.cat(v) for k, v in targets.items()}, seed
        )

    def variant(self) -> tuple:
        """The settings that change what :meth:`build` returns (part of the sample cache key)."""
        return tuple(sorted((k, v) for k, v in vars(self).items() if isinstance(v, (int, float, str, bool))))

    def empty_scores(self) -> dict[str, float]:
        """The metrics of a split without any sample: ``nan`` (tasks that report counts add them as 0)."""
        return {m: float("nan") for m in self.metric_names}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, level={self.level!r})"


def _stable_id(name: str) -> int:
    # hash() of str is salted per process; this keeps the per-task rng stream reproducible
    return int.from_bytes(name.encode()[:8].ljust(8, b"\0"), "little")


class MaskedVerbNounTask(Task):
    """A node-level task whose units are the nodes of ``labels['mask']``, each with a verb and a noun."""

    def units(self, batch: GraphBatch, h: Tensor) -> Tensor:
        return h[batch.labels["mask"]]

    def targets(self, batch: GraphBatch) -> dict[str, Tensor]:
        mask = batch.labels["mask"]
        return {"verb": batch.labels["verb"][mask], "noun": batch.labels["noun"][mask]}
