"""The unified temporal backbone of Sec. 3.2 (and the paper's MLP baseline), built by name."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from backpack.backbone.engine import GraphEngine, get_engine
from backpack.backbone.graph import GraphBatch
from backpack.backbone.layers import PositionalEncoding, SAGELayer, TRNEncoder
from backpack.backbone.layers._check import positive_int, probability
from backpack.errors import ConfigError


class _Backbone(nn.Module):
    """Shared frame: TRN encoder + positional encoding -> L blocks -> residual around the blocks.

    Every block is ``layer -> LayerNorm (over each node's own features) -> LeakyReLU -> dropout``;
    subclasses choose the layer. The engine is a plain attribute (not a parameter): it can be
    swapped (``model.engine = "native"``) without touching the weights.
    """

    kind = "abstract"

    def __init__(
        self,
        in_dim: int,
        hidden: int = 256,
        layers: int = 2,
        sub_segments: int = 3,
        engine: str | GraphEngine | None = None,
        dropout: float = 0.1,
        standardize: bool = False,
    ) -> None:
        super().__init__()
        where = f"{type(self).__name__}"
        # optional input standardisation; the statistics are buffers, so they travel with the weights
        self.standardize = bool(standardize)
        if self.standardize:
            self.register_buffer("input_mean", torch.zeros(in_dim))
            self.register_buffer("input_std", torch.ones(in_dim))
        self.in_dim = positive_int(in_dim, "in_dim", where)
        self.hidden = positive_int(hidden, "hidden", where)
        self.num_layers = positive_int(layers, "layers", where)
        self.sub_segments = positive_int(sub_segments, "sub_segments", where)
        self.dropout = probability(dropout, "dropout", where)
        self.engine = engine  # type: ignore[assignment]  # resolved by the setter
        self.encoder = TRNEncoder(in_dim, hidden, sub_segments, dropout=self.dropout)
        self.pos_enc = PositionalEncoding(hidden)
        self.layers = nn.ModuleList(self._make_layer() for _ in range(layers))
        # nn.LayerNorm(hidden) normalises each node's own channels (the reference code normalised
        # over the whole mini-batch at once, mixing graphs).
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))
        self.act = nn.LeakyReLU()
        self.drop = nn.Dropout(self.dropout)

    def _make_layer(self) -> nn.Module:
        raise NotImplementedError

    def _apply_layer(self, layer: nn.Module, h: Tensor, batch: GraphBatch) -> Tensor:
        raise NotImplementedError

    @property
    def engine(self) -> GraphEngine:
        """The graph engine used for message passing and by task heads for pooling."""
        return self.__dict__["_engine"]

    @engine.setter
    def engine(self, value: str | GraphEngine | None) -> None:
        self.__dict__["_engine"] = get_engine(value)

    @property
    def out_dim(self) -> int:
        """Size of the output node features (= hidden)."""
        return self.hidden

    def reset_parameters(self) -> None:
        """Re-initialise every sub-module."""
        self.encoder.reset_parameters()
        for layer, norm in zip(self.layers, self.norms):
            layer.reset_parameters()  # type: ignore[operator]
            norm.reset_parameters()

    def embed(self, batch: GraphBatch) -> Tensor:
        """h0 = TRN(x) + PE(pos), the input of the first block. Shapes: [N, hidden]."""
        x = batch.x
        if self.standardize:
            x = (x - self.input_mean) / self.input_std
        return self.encoder(x) + self.pos_enc(batch.pos)

    def set_input_stats(self, mean: Tensor, std: Tensor) -> None:
        """Per-channel statistics of the training inputs (``standardize=True`` only). Shapes: [in_dim]."""
        if not self.standardize:
            raise ConfigError(f"{type(self).__name__} was built without standardize=True.")
        self.input_mean.copy_(mean.to(self.input_mean))
        self.input_std.copy_(std.clamp_min(1e-6).to(self.input_std))

    def forward(self, batch: GraphBatch) -> Tensor:
        h0 = self.embed(batch)
        h = h0
        for layer, norm in zip(self.layers, self.norms):
            h = self.drop(self.act(norm(self._apply_layer(layer, h, batch))))
        return h0 + h  # residual around the whole GNN (Sec. 3.2)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(in_dim={self.in_dim}, hidden={self.hidden}, layers={self.num_layers}, "
            f"sub_segments={self.sub_segments}, engine={self.engine.name!r}, dropout={self.dropout:g})"
        )


class TemporalBackbone(_Backbone):
    """The unified temporal backbone M_t (Sec. 3.2): L GraphSAGE layers of eq. (1)-(2).

    Parameters
    ----------
    in_dim : int
        Feature size of one sub-segment (1536 for Omnivore Swin-L).
    hidden : int
        Node feature size D_t inside and after the backbone.
    layers : int
        L, the number of GraphSAGE blocks.
    sub_segments : int
        S, sub-segment features per node (TRN input).
    engine : {"auto", "dgl", "native"} or GraphEngine or None
        Message-passing engine; None means "auto" (DGL when importable).
    dropout : float
        Dropout after every block and inside the TRN encoder.

    Shapes: batch.x [N, S, in_dim], batch.pos [N] -> h [N, hidden].
    """

    kind = "graph"

    def _make_layer(self) -> nn.Module:
        return SAGELayer(self.hidden, self.hidden)

    def _apply_layer(self, layer: nn.Module, h: Tensor, batch: GraphBatch) -> Tensor:
        return layer(h, batch, self.engine)


class MLPBackbone(_Backbone):
    """The paper's MLP baseline: the same frame as :class:`TemporalBackbone` without message passing.

    Each block is a node-wise Linear layer (eq. (1) without the neighbour term), so nodes never see
    each other; the engine is kept only so task heads can pool graphs the same way.

    Shapes: batch.x [N, S, in_dim], batch.pos [N] -> h [N, hidden].
    """

    kind = "mlp"

    def _make_layer(self) -> nn.Module:
        return nn.Linear(self.hidden, self.hidden)

    def _apply_layer(self, layer: nn.Module, h: Tensor, batch: GraphBatch) -> Tensor:
        return layer(h)


BACKBONES: dict[str, Callable[..., _Backbone]] = {"graph": TemporalBackbone, "mlp": MLPBackbone}


def backbone_names() -> list[str]:
    """The kinds ``build_backbone`` accepts."""
    return sorted(BACKBONES)


def build_backbone(kind: str = "graph", **kwargs: object) -> _Backbone:
    """Build the backbone called ``kind`` (``"graph"`` or ``"mlp"``) with ``kwargs``.

    Raises
    ------
    ConfigError
        For an unknown kind (the message lists the valid ones) or a bad argument.
    """
    if kind not in BACKBONES:
        raise ConfigError(f"Unknown backbone {kind!r}. Expected one of: {', '.join(backbone_names())}.")
    return BACKBONES[kind](**kwargs)  # type: ignore[arg-type]
