"""Temporal graph engine (DGL, and a native-torch twin) and the GraphSAGE backbone.

Importing this package never imports DGL: the DGL engine loads only when asked for
(``get_engine("dgl")``, or ``"auto"`` where DGL is installed).
"""

from backpack.backbone.engine import ENGINES, GraphEngine, dgl_available, engine_names, get_engine
from backpack.backbone.graph import GraphBatch, GraphSample
from backpack.backbone.layers import PositionalEncoding, SAGELayer, TRNEncoder
from backpack.backbone.model import BACKBONES, MLPBackbone, TemporalBackbone, backbone_names, build_backbone
from backpack.backbone.native import NativeEngine

__all__ = [
    "BACKBONES",
    "ENGINES",
    "GraphBatch",
    "GraphEngine",
    "GraphSample",
    "MLPBackbone",
    "NativeEngine",
    "PositionalEncoding",
    "SAGELayer",
    "TRNEncoder",
    "TemporalBackbone",
    "backbone_names",
    "build_backbone",
    "dgl_available",
    "engine_names",
    "get_engine",
]
