"""Backbone layers, one per file: GraphSAGE (eq. 1-2), positional encoding, TRN encoder."""

from backpack.backbone.layers.positional import PositionalEncoding
from backpack.backbone.layers.sage import SAGELayer
from backpack.backbone.layers.trn import TRNEncoder

__all__ = ["PositionalEncoding", "SAGELayer", "TRNEncoder"]
