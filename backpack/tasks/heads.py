"""Task-specific projection heads H_k (paper Sec. 3.2): an MLP to the task features f^k, then a
linear classifier per output."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from backpack.errors import ConfigError, invalid


class TaskHead(nn.Module):
    """H_k: units [M, in_dim] -> (f^k [M, feat_dim], {output: logits [M, C]}).

    Shapes: units [M, in_dim] -> f^k [M, feat_dim], logits[name] [M, outputs[name]].

    Parameters
    ----------
    in_dim : width of the backbone output.
    feat_dim : D_k, width of the task features (what prototypes are made of).
    outputs : output name -> number of classes.
    dropout : dropout inside the MLP.
    """

    def __init__(self, in_dim: int, feat_dim: int, outputs: dict[str, int], dropout: float = 0.1) -> None:
        super().__init__()
        for field, value in (("in_dim", in_dim), ("feat_dim", feat_dim)):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(invalid(field, "TaskHead", "a positive integer", value))
        if not outputs or any(not isinstance(c, int) or c < 1 for c in outputs.values()):
            raise ConfigError(invalid("outputs", "TaskHead", "a non-empty {name: classes >= 1}", outputs))
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(invalid("dropout", "TaskHead", "a value in [0, 1)", dropout))
        self.in_dim, self.feat_dim, self.outputs = in_dim, feat_dim, dict(outputs)
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, feat_dim),
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Linear(feat_dim, feat_dim),
            nn.LeakyReLU(0.2),
        )
        self.classifier = nn.ModuleDict({name: nn.Linear(feat_dim, c) for name, c in outputs.items()})
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                m.reset_parameters()

    def classify(self, features: Tensor) -> dict[str, Tensor]:
        """Logits of every output from task features f^k [M, feat_dim]."""
        return {name: layer(features) for name, layer in self.classifier.items()}

    def forward(self, units: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        features = self.mlp(units)
        return features, self.classify(features)

    def __repr__(self) -> str:
        return f"TaskHead({self.in_dim} -> {self.feat_dim}, outputs={self.outputs})"


def build_head(task: str, in_dim: int, feat_dim: int, taxonomy: Any, dropout: float = 0.1) -> TaskHead:
    """The head of the registered task ``task`` (its outputs come from the taxonomy)."""
    from backpack.tasks.registry import get_task

    return TaskHead(in_dim, feat_dim, get_task(task).outputs(taxonomy), dropout=dropout)
