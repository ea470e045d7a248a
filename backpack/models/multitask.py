"""The multi-task model M = backbone M_t + one head H_k per task (paper Sec. 3.2, hard sharing)."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from backpack.backbone.graph import GraphBatch
from backpack.errors import ConfigError
from backpack.tasks.base import Task
from backpack.tasks.heads import TaskHead
from backpack.tasks.registry import get_task


class MultiTaskModel(nn.Module):
    """A shared temporal backbone and one :class:`~backpack.tasks.heads.TaskHead` per task.

    Shapes: forward(task, batch) -> {output: logits [M, C]} where M = rows of ``task.units``.

    Parameters
    ----------
    backbone : module mapping a GraphBatch to node features [N, backbone.out_dim].
    tasks : task name -> Task.
    taxonomy : the label vocabulary (gives the number of verbs and nouns).
    feat_dim : D_k, width of every head's task features.
    dropout : dropout inside the heads.
    """

    def __init__(
        self,
        backbone: nn.Module,
        tasks: dict[str, Task],
        taxonomy: Any,
        feat_dim: int = 256,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if not tasks:
            raise ConfigError("A MultiTaskModel needs at least one task. Expected 1 or more. Got 0.")
        self.backbone = backbone
        self.tasks = dict(tasks)
        self.taxonomy = taxonomy
        in_dim = int(backbone.out_dim)
        self.heads = nn.ModuleDict(
            {
                name: TaskHead(in_dim, feat_dim, t.outputs(taxonomy), dropout=dropout)
                for name, t in tasks.items()
            }
        )

    def _task(self, task: str) -> Task:
        if task not in self.tasks:
            raise ConfigError(
                f"Unknown task {task!r} for this model. Expected one of: {', '.join(self.tasks)}."
            )
        return self.tasks[task]

    def forward(self, task: str, batch: GraphBatch) -> dict[str, Tensor]:
        """Logits of ``task`` for its units in ``batch``."""
        units = self._task(task).units(batch, self.backbone(batch))
        return self.heads[task](units)[1]

    def __repr__(self) -> str:
        return f"MultiTaskModel(tasks={list(self.tasks)}, backbone={self.backbone!r})"


def build_model(
    tasks: list[str],
    taxonomy: Any,
    in_dim: int,
    *,
    model: str = "graph",
    hidden: int = 256,
    layers: int = 2,
    feat_dim: int = 256,
    engine: str = "auto",
    dropout: float = 0.1,
    sub_segments: int = 3,
    standardize: bool = False,
) -> MultiTaskModel:
    """Build the multi-task model of ``tasks`` (``model`` = "graph" or the "mlp" baseline).

    ``sub_segments`` is the number of feature slots per node (1 for the ``"mean"`` node input);
    ``standardize`` adds input statistics buffers (set them with ``backbone.set_input_stats``).
    """
    from backpack.backbone import build_backbone

    backbone = build_backbone(
        model,
        in_dim=in_dim,
        hidden=hidden,
        layers=layers,
        sub_segments=sub_segments,
        engine=engine,
        dropout=dropout,
        standardize=standardize,
    )
    return MultiTaskModel(
        backbone, {t: get_task(t) for t in tasks}, taxonomy, feat_dim=feat_dim, dropout=dropout
    )
