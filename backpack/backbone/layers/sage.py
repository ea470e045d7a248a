"""GraphSAGE layer with a projected, non-linear neighbour aggregation (eq. 1-2 of the paper)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from backpack.backbone.engine import GraphEngine
from backpack.backbone.graph import GraphBatch
from backpack.backbone.layers._check import positive_int
from backpack.errors import ConfigError, invalid

_ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


# eq. (1): f_i' = W_r f_i + W g_i + b;  eq. (2): g_i = mean_{j in N(i)} phi(W_p f_j + b_p)
class SAGELayer(nn.Module):
    """GraphSAGE with neighbour projection, as in eq. (1)-(2).

    Parameters
    ----------
    in_dim, out_dim : int
        Node feature sizes before and after the layer.
    activation : str
        The non-linearity phi applied to projected neighbours (``relu``, ``leaky_relu``, ``gelu``,
        ``tanh``); ReLU as in PyG's ``SAGEConv(project=True)``.

    Shapes: h [N, in_dim] -> [N, out_dim]; the batch's edges (src -> dst) define N(i) as the
    in-neighbours of i; an isolated node gets g_i = 0.
    """

    def __init__(self, in_dim: int, out_dim: int, activation: str = "relu") -> None:
        super().__init__()
        self.in_dim = positive_int(in_dim, "in_dim", "SAGELayer")
        self.out_dim = positive_int(out_dim, "out_dim", "SAGELayer")
        if activation not in _ACTIVATIONS:
            raise ConfigError(
                invalid("activation", "SAGELayer", f"one of {sorted(_ACTIVATIONS)}", repr(activation))
            )
        self.activation = activation
        self.proj = nn.Linear(in_dim, in_dim)  # W_p, b_p
        self.phi = _ACTIVATIONS[activation]()
        self.lin_neigh = nn.Linear(in_dim, out_dim)  # W, b
        self.lin_root = nn.Linear(in_dim, out_dim, bias=False)  # W_r
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise every weight (PyTorch's default Linear init)."""
        self.proj.reset_parameters()
        self.lin_neigh.reset_parameters()
        self.lin_root.reset_parameters()

    def forward(self, h: Tensor, batch: GraphBatch, engine: GraphEngine) -> Tensor:
        if h.dim() != 2 or h.shape[1] != self.in_dim:
            raise ConfigError(invalid("h.shape", "SAGELayer input", f"[N, {self.in_dim}]", list(h.shape)))
        g = engine.mean_neighbours(batch, self.phi(self.proj(h)))  # eq. (2)
        # eq. (1); addmm fuses W_r f with the neighbour term instead of a separate add
        return torch.addmm(self.lin_neigh(g), h, self.lin_root.weight.t())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_dim}, {self.out_dim}, phi={self.activation})"
