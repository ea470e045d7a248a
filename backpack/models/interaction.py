"""Cross-task interaction (EgoPack, paper section 3.3): a plain module any model can use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from backpack.errors import ConfigError, invalid
from backpack.models.interaction_layer import PrototypeRefinement
from backpack.models.knn import nearest, torch_path_for, uses_torch_knn


class PrototypeSource(Protocol):
    """What the interaction needs from a store task (``backpack.store.TaskView`` provides it)."""

    name: str
    dim: int
    count: int
    prototypes: np.ndarray

    def search(self, queries: Any, k: int) -> tuple[Any, Any]: ...


class CrossTaskInteraction(nn.Module):
    """Refine each backpack task's features with its frozen prototypes, then vote for the novel task.

    For every task ``t`` of the store and each of ``depth`` layers, the ``k`` nearest prototypes
    (cosine, through the store's ``TaskView.search``) of the *current* features are looked up and
    the features updated with eq. (3). Between layers a LeakyReLU; no normalisation across the
    batch (each node is refined on its own, so results do not depend on batch composition).
    A per-task linear classifier then maps the refined features to the novel task's outputs.

    Parameters
    ----------
    store_tasks : Mapping[str, TaskView]
        The backpack's tasks, e.g. ``{n: bp.task(n) for n in bp.task_names}``.
    outputs : Mapping[str, int]
        The novel task's outputs and their number of classes, e.g. ``{"state": 2}``.
    k : int
        Prototypes retrieved per node and layer; 0 means no refinement (the classifiers see f).
    depth : int
        Number of refinement layers.

    Shapes: forward({task: f [M, D_task]}) -> ({task: [M, D_task]}, {task: {output: [M, C]}}).
    After a forward, ``last_neighbours[task]`` holds the retrieved ids, [depth, M, k].

    Examples
    --------
    On random tensors, with any opened store (no backbone needed):

    >>> bp = Backpack.open("store/")                                       # doctest: +SKIP
    >>> inter = CrossTaskInteraction({t: bp.task(t) for t in bp.task_names}, {"state": 2}, k=4, depth=2)
    >>> refined, logits = inter({t: torch.randn(32, bp.task(t).dim) for t in bp.task_names})
    >>> votes = sum(lg["state"] for lg in logits.values())                 # [32, 2]
    """

    def __init__(
        self,
        store_tasks: Mapping[str, PrototypeSource],
        outputs: Mapping[str, int],
        k: int = 4,
        depth: int = 2,
        negative_slope: float = 0.01,
        zero_votes: bool = True,
    ) -> None:
        super().__init__()
        if not store_tasks:
            raise ConfigError("CrossTaskInteraction needs at least one store task. Got none.")
        if not outputs or any(int(c) < 1 for c in outputs.values()):
            raise ConfigError(
                invalid("outputs", "CrossTaskInteraction", "{name: classes >= 1}", dict(outputs))
            )
        if not isinstance(k, int) or k < 0:
            raise ConfigError(invalid("k", "CrossTaskInteraction", "an int >= 0", k))
        if not isinstance(depth, int) or depth < 1:
            raise ConfigError(invalid("depth", "CrossTaskInteraction", "an int >= 1", depth))
        for name, view in store_tasks.items():
            if k > int(view.count):
                raise ConfigError(
                    f"Invalid value for 'k'. The store task {name!r} has {view.count} prototypes, "
                    f"fewer than k = {k}. Use --k {view.count} or less."
                )
        self.k, self.depth, self.negative_slope, self.zero_votes = k, depth, negative_slope, zero_votes
        self.dims = {name: int(view.dim) for name, view in store_tasks.items()}
        self.outputs = {o: int(c) for o, c in outputs.items()}
        self._views = dict(store_tasks)  # searched, never trained
        for name, view in store_tasks.items():
            protos = torch.from_numpy(np.array(view.prototypes, dtype=np.float32))  # a private, writable copy
            if protos.dim() != 2 or protos.shape[1] != self.dims[name]:
                raise ConfigError(
                    invalid(
                        "prototypes", f"store task {name!r}", f"[P, {self.dims[name]}]", list(protos.shape)
                    )
                )
            # Frozen, on the model's device, not saved with the model: the store is the source of truth.
            self.register_buffer(f"prototypes_{name}", protos, persistent=False)
            if uses_torch_knn(view):  # exact index: the same ids from one GEMM + topk in torch (knn.py)
                self.register_buffer(f"unit_{name}", F.normalize(protos, dim=1), persistent=False)
        self.layers = nn.ModuleDict(
            {n: nn.ModuleList([PrototypeRefinement(d) for _ in range(depth)]) for n, d in self.dims.items()}
        )
        self.classifiers = nn.ModuleDict(
            {
                n: nn.ModuleDict({o: nn.Linear(d, c) for o, c in self.outputs.items()})
                for n, d in self.dims.items()
            }
        )
        if zero_votes:
            self._zero_votes()
        self.last_neighbours: dict[str, Tensor] = {}

    @property
    def tasks(self) -> list[str]:
        return list(self.dims)

    def prototypes(self, task: str) -> Tensor:
        """The frozen prototypes of ``task`` [P, D] on the module's device."""
        return getattr(self, f"prototypes_{task}")

    def reset_parameters(self) -> None:
        for layers in self.layers.values():
            for layer in layers:
                layer.reset_parameters()
        for heads in self.classifiers.values():
            for lin in heads.values():
                lin.reset_parameters()
        if self.zero_votes:
            self._zero_votes()

    def _zero_votes(self) -> None:
        # The votes start at exactly 0: a fresh EgoPack model predicts what the new head alone
        # (MTL+FT) does, and random votes of untrained classifiers add no noise to the first steps.
        for heads in self.classifiers.values():
            for lin in heads.values():
                nn.init.zeros_(lin.weight)
                nn.init.zeros_(lin.bias)

    def neighbours(self, task: str, f: Tensor) -> Tensor:
        """Ids [M, k] of the ``k`` prototypes of ``task`` nearest (cosine) to ``f`` [M, D].

        One batched search per call; the query is detached (the selection is not differentiable).
        """
        unit = getattr(self, f"unit_{task}", None)
        if unit is not None and torch_path_for(f):
            return nearest(f, unit, self.k, f"the k-NN of store task {task!r}")
        _, ids = self._views[task].search(f.detach(), self.k)
        ids = torch.as_tensor(ids)
        return ids.to(device=f.device, dtype=torch.long)

    def refine(self, task: str, f: Tensor) -> tuple[Tensor, Tensor]:
        """Apply the ``depth`` layers of ``task`` to ``f``; returns (refined, ids [depth, M, k])."""
        protos = self.prototypes(task)
        chosen = []
        for i, layer in enumerate(self.layers[task]):
            ids = self.neighbours(task, f)  # re-selected for the current features at every layer
            chosen.append(ids)
            f = layer(f, protos, ids)
            if i < self.depth - 1:
                f = F.leaky_relu(f, self.negative_slope)
        return f, torch.stack(chosen)

    def forward(self, feats: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, dict[str, Tensor]]]:
        missing = [t for t in self.dims if t not in feats]
        if missing:
            raise ConfigError(
                f"Missing features for store task(s) {missing} in CrossTaskInteraction. "
                f"Expected {self.tasks}. Got {sorted(feats)}."
            )
        refined: dict[str, Tensor] = {}
        logits: dict[str, dict[str, Tensor]] = {}
        self.last_neighbours = {}
        for task, dim in self.dims.items():
            f = feats[task]
            if f.dim() != 2 or f.shape[1] != dim:
                raise ConfigError(
                    f"Invalid features for task {task!r} in CrossTaskInteraction. Expected [M, {dim}] "
                    f"(prototype dim {dim}). Got {list(f.shape)} (feature dim {f.shape[-1]})."
                )
            if self.k > 0:
                f, ids = self.refine(task, f)
                self.last_neighbours[task] = ids
            refined[task] = f
            logits[task] = {o: lin(f) for o, lin in self.classifiers[task].items()}
        return refined, logits

    def extra_repr(self) -> str:
        return f"tasks={self.tasks}, outputs={self.outputs}, k={self.k}, depth={self.depth}"


__all__ = ["CrossTaskInteraction", "PrototypeSource"]
