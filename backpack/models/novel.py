"""The novel-task model of EgoPack (paper section 3.3): RUN's backbone and heads, a new head
H_{K+1} for the novel task and the cross-task interaction with the backpack's prototypes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from backpack.errors import ConfigError
from backpack.models.interaction import CrossTaskInteraction, PrototypeSource
from backpack.tasks.heads import TaskHead
from backpack.tasks.registry import get_task


def check_store_against_run(
    run_tasks: Mapping[str, int],
    store_tasks: Mapping[str, PrototypeSource],
    novel: str,
    where: str = "the store",
) -> None:
    """Refuse a store that cannot serve a model whose heads are ``run_tasks`` {name: D_k}.

    Raises :class:`ConfigError` when the store shares no task with the run, holds a task the run
    has no head for, holds the novel task already, or has prototypes of another size than the head.
    """
    if novel in store_tasks:
        raise ConfigError(
            f"The task {novel!r} is already in the backpack ({where}, tasks {sorted(store_tasks)}). "
            f"Learn another task, or pass --replace to learn it again over the stored one."
        )
    if not set(store_tasks) & set(run_tasks):
        raise ConfigError(
            f"The store ({where}) has none of the run's tasks. Expected some of {sorted(run_tasks)}. "
            f"Got {sorted(store_tasks)}."
        )
    missing = sorted(set(store_tasks) - set(run_tasks))
    if missing:
        raise ConfigError(
            f"The run has no head for the store task(s) {missing} ({where}). Expected heads "
            f"{sorted(store_tasks)}. Got {sorted(run_tasks)}. Use the run the store was built from."
        )
    for name, view in store_tasks.items():
        if int(view.dim) != int(run_tasks[name]):
            raise ConfigError(
                f"Invalid prototype size for task {name!r} in {where}. Expected {run_tasks[name]} "
                f"(the run's head feature dim). Got {view.dim} (prototype dim)."
            )


class NovelTaskModel(nn.Module):
    """Learn task ``novel`` on top of a multi-task model, with (EgoPack) or without (MTL+FT) a backpack.

    logits = H_{K+1}(units) + sum over backpack tasks t of classifier_t(refine_t(H_t.mlp(units)))

    Parameters
    ----------
    base : MultiTaskModel
        RUN's model (backbone + heads); trained further, jointly with the new parts.
    novel : str
        The registered task to learn (its units and loss come from the task registry).
    outputs : Mapping[str, int]
        The novel task's outputs, e.g. ``{"state": 2}``.
    store_tasks : Mapping[str, TaskView] or None
        The backpack's tasks; ``None`` (or ``k = 0``) gives the MTL+FT baseline: the new head alone.
    k, depth : int
        Nearest prototypes per layer and number of interaction layers (eq. 3).
    feat_dim : int
        D_{K+1}, width of the new head's features.

    Shapes: forward(task, batch) -> {output: logits [M, C]}, M = rows of the novel task's units.
    """

    def __init__(
        self,
        base: Any,
        novel: str,
        outputs: Mapping[str, int],
        store_tasks: Mapping[str, PrototypeSource] | None = None,
        k: int = 4,
        depth: int = 2,
        feat_dim: int = 256,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.base = base
        self.novel = novel
        self.task = get_task(novel)
        self.outputs = {o: int(c) for o, c in outputs.items()}
        in_dim = int(base.backbone.out_dim)
        # Created before the interaction, so the same seed gives the same head with or without it.
        self.head = TaskHead(in_dim, feat_dim, self.outputs, dropout=dropout)
        self.interaction: CrossTaskInteraction | None = None
        if store_tasks is not None and k > 0:
            run_dims = {t: int(h.feat_dim) for t, h in base.heads.items()}
            check_store_against_run(run_dims, store_tasks, novel)
            self.interaction = CrossTaskInteraction(store_tasks, self.outputs, k=k, depth=depth)
        elif k < 0:
            raise ConfigError(f"Invalid value for 'k'. Expected an int >= 0. Got {k}.")

    @property
    def tasks(self) -> dict[str, Any]:
        return {self.novel: self.task}

    def _units(self, task: str, batch: Any) -> Tensor:
        if task != self.novel:
            raise ConfigError(f"Unknown task {task!r} for this model. Expected one of: {self.novel}.")
        return self.task.units(batch, self.base.backbone(batch))

    def forward(self, task: str, batch: Any) -> dict[str, Tensor]:
        units = self._units(task, batch)
        logits = self.head(units)[1]
        if self.interaction is None:
            return logits
        feats = {t: self.base.heads[t].mlp(units) for t in self.interaction.tasks}
        _, votes = self.interaction(feats)
        # every backpack task casts a vote: pre-softmax logits are summed (paper section 3.3)
        return {o: lg + sum(v[o] for v in votes.values()) for o, lg in logits.items()}

    def features_for_prototypes(self, batch: Any) -> tuple[Tensor, Tensor]:
        """AR units of ``batch`` and the new head's features on them (the novel task's prototypes)."""
        units = get_task("ar").units(batch, self.base.backbone(batch))
        return units, self.head.mlp(units)

    def __repr__(self) -> str:
        inter = (
            "none" if self.interaction is None else f"k={self.interaction.k}, depth={self.interaction.depth}"
        )
        return f"NovelTaskModel(novel={self.novel!r}, interaction={inter})"


__all__ = ["NovelTaskModel", "check_store_against_run"]
