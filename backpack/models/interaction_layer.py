"""The cross-task interaction layer of EgoPack (paper section 3.3)."""

from __future__ import annotations

from torch import Tensor, nn

from backpack.errors import ConfigError, invalid


class PrototypeRefinement(nn.Module):
    """Refine task features with the max of their nearest frozen prototypes.

    Eq. (3): ``f' = W_r f + W max_{p_j in kNN(f)} p_j``.

    The layer does not search: the caller passes the ids of the neighbours selected for the
    *current* features (see :class:`~backpack.learner.CrossTaskInteraction`), so that the
    neighbours are re-selected at every layer.

    Parameters
    ----------
    dim : int
        Feature size ``D_k`` of the task (features and prototypes share it).
    bias : bool
        Add a bias to the root branch ``W_r f``.

    Shapes: f [M, D], prototypes [P, D], neighbours [M, k] (int ids into prototypes) -> [M, D].
    """

    def __init__(self, dim: int, bias: bool = True) -> None:
        super().__init__()
        if not isinstance(dim, int) or dim < 1:
            raise ConfigError(invalid("dim", "PrototypeRefinement", "a positive int", dim))
        self.dim = dim
        self.lin_root = nn.Linear(dim, dim, bias=bias)  # W_r
        self.lin_proto = nn.Linear(dim, dim, bias=False)  # W
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """W_r starts as the identity and W small, so a fresh layer barely moves the features.

        The heads come pre-trained from the multi-task run; starting near ``f' = f`` keeps their
        features meaningful for the classifiers while W learns how much of the prototypes to mix in.
        """
        nn.init.eye_(self.lin_root.weight)
        if self.lin_root.bias is not None:
            nn.init.zeros_(self.lin_root.bias)
        nn.init.xavier_uniform_(self.lin_proto.weight, gain=0.1)

    def forward(self, f: Tensor, prototypes: Tensor, neighbours: Tensor) -> Tensor:
        if f.dim() != 2 or f.shape[1] != self.dim:
            raise ConfigError(invalid("features", "PrototypeRefinement", f"[M, {self.dim}]", list(f.shape)))
        if prototypes.dim() != 2 or prototypes.shape[1] != self.dim:
            raise ConfigError(
                invalid("prototypes", "PrototypeRefinement", f"[P, {self.dim}]", list(prototypes.shape))
            )
        if neighbours.dim() != 2 or neighbours.shape[0] != f.shape[0] or neighbours.shape[1] < 1:
            raise ConfigError(
                invalid(
                    "neighbours", "PrototypeRefinement", f"[{f.shape[0]}, k >= 1]", list(neighbours.shape)
                )
            )
        pooled = prototypes[neighbours.long()].amax(dim=1)  # [M, k, D] -> [M, D]; no grad to prototypes
        return self.lin_root(f) + self.lin_proto(pooled)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.dim}, bias={self.lin_root.bias is not None})"


__all__ = ["PrototypeRefinement"]
