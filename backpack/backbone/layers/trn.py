"""TRN-style node encoder: S sub-segment features of a node, concatenated, into a small MLP."""

from __future__ import annotations

from torch import Tensor, nn

from backpack.backbone.layers._check import positive_int, probability
from backpack.errors import ConfigError, invalid


# Sec. 4.1: "TRN [77] to temporally aggregate features from the three sub-segments of each input"
class TRNEncoder(nn.Module):
    """Concatenate the S sub-segment features of every node and map them with a 2-layer MLP.

    Parameters
    ----------
    in_dim : int
        Feature size of one sub-segment (1536 for Omnivore Swin-L).
    hidden : int
        Output size.
    sub_segments : int
        S, the number of sub-segments per node.
    dropout : float
        Dropout between the two linear layers.

    Shapes: x [N, S, in_dim] -> [N, hidden].
    """

    def __init__(self, in_dim: int, hidden: int, sub_segments: int = 3, dropout: float = 0.0) -> None:
        super().__init__()
        self.in_dim = positive_int(in_dim, "in_dim", "TRNEncoder")
        self.hidden = positive_int(hidden, "hidden", "TRNEncoder")
        self.sub_segments = positive_int(sub_segments, "sub_segments", "TRNEncoder")
        self.dropout = probability(dropout, "dropout", "TRNEncoder")
        self.fc1 = nn.Linear(sub_segments * in_dim, hidden)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(self.dropout)
        self.fc2 = nn.Linear(hidden, hidden)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise both linear layers."""
        self.fc1.reset_parameters()
        self.fc2.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or tuple(x.shape[1:]) != (self.sub_segments, self.in_dim):
            raise ConfigError(
                invalid(
                    "x.shape", "TRNEncoder input", f"[N, {self.sub_segments}, {self.in_dim}]", list(x.shape)
                )
            )
        return self.fc2(self.drop(self.act(self.fc1(x.flatten(1)))))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.sub_segments}x{self.in_dim} -> {self.hidden})"
