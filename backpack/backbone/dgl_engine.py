"""The DGL graph engine: message passing with DGL's built-in functions on one batched DGLGraph.

This module imports DGL at import time; ``get_engine`` imports it only when DGL is asked for.
The DGL wheels on PyPI are CPU-only: on a device this DGL cannot use (e.g. CUDA), a strict engine
(``get_engine("dgl")``) raises a ConfigError, while the one ``"auto"`` picks falls back to the native
engine (same results, see the parity tests) with one warning.
"""

from __future__ import annotations

import logging
import os

os.environ.setdefault("DGLBACKEND", "pytorch")

import dgl  # noqa: E402
import dgl.function as fn  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from backpack.backbone.engine import GraphEngine  # noqa: E402
from backpack.backbone.graph import GraphBatch  # noqa: E402
from backpack.backbone.native import NativeEngine  # noqa: E402
from backpack.errors import ConfigError  # noqa: E402

log = logging.getLogger(__name__)
_DEVICE_OK: dict[str, bool] = {"cpu": True}


def dgl_supports(device: torch.device) -> bool:
    """Whether this DGL build can hold graphs on ``device`` (probed once per device type)."""
    if device.type not in _DEVICE_OK:
        try:
            ids = torch.zeros(1, dtype=torch.long, device=device)
            dgl.graph((ids, ids), num_nodes=1, device=device)
            _DEVICE_OK[device.type] = True
        except Exception:  # noqa: BLE001 - DGLError "Device API cuda is not enabled", driver errors, ...
            _DEVICE_OK[device.type] = False
    return _DEVICE_OK[device.type]


def dgl_graph(batch: GraphBatch) -> dgl.DGLGraph:
    """The batch as one DGLGraph (built once per batch, on the batch's device, kept in ``batch.cache``)."""
    g = batch.cache.get("dgl.graph")
    if g is None:
        g = dgl.graph((batch.src, batch.dst), num_nodes=batch.num_nodes, device=batch.src.device)
        batch.cache["dgl.graph"] = g
    return g  # type: ignore[return-value]


def _segments(batch: GraphBatch) -> tuple[Tensor | None, Tensor]:
    """(permutation grouping nodes by graph, or None when already grouped; node count per graph)."""
    cached = batch.cache.get("dgl.segments")
    if cached is None:
        sizes = torch.bincount(batch.graph, minlength=batch.num_graphs)
        grouped = batch.num_nodes < 2 or bool((batch.graph[1:] >= batch.graph[:-1]).all())
        order = None if grouped else torch.argsort(batch.graph, stable=True)
        cached = (order, sizes)
        batch.cache["dgl.segments"] = cached
    return cached  # type: ignore[return-value]


class DGLEngine(GraphEngine):
    """Graph engine on DGL: ``update_all(copy_u, mean)`` for neighbour means, segment max/mean pooling.

    Shapes: h [N, C] -> mean_neighbours [N, C]; max_pool / mean_pool [num_graphs, C].
    """

    name = "dgl"

    def __init__(self, strict: bool = True) -> None:
        self.strict = strict
        self._fallback = NativeEngine()
        self._warned: set[str] = set()

    def _unsupported(self, device: torch.device) -> bool:
        """True when ``device`` needs the native fallback; raises instead when strict."""
        if dgl_supports(device):
            return False
        if self.strict:
            raise ConfigError(
                f"Graph engine 'dgl' cannot run on device {str(device)!r}: this DGL build "
                f"({dgl.__version__}) has no support for it. Use --graph-engine native (or auto), "
                "or install a DGL build for that device."
            )
        if device.type not in self._warned:
            self._warned.add(device.type)
            log.warning(
                "DGL %s has no %s support; the native engine runs the graphs there.",
                dgl.__version__,
                device.type,
            )
        return True

    def mean_neighbours(self, batch: GraphBatch, h: Tensor) -> Tensor:
        if self._unsupported(h.device):
            return self._fallback.mean_neighbours(batch, h)
        g = dgl_graph(batch)
        with g.local_scope():
            g.srcdata["h"] = h
            g.update_all(fn.copy_u("h", "m"), fn.mean("m", "h"))  # isolated nodes get 0
            return g.dstdata["h"]

    def _pool(self, batch: GraphBatch, h: Tensor, reducer: str) -> Tensor:
        if self._unsupported(h.device):
            pool = self._fallback.max_pool if reducer == "max" else self._fallback.mean_pool
            return pool(batch, h)
        order, sizes = _segments(batch)
        if order is not None:
            h = h.index_select(0, order)
        return dgl.ops.segment_reduce(sizes, h, reducer)  # empty segments give 0

    def __repr__(self) -> str:
        return "DGLEngine()" if self.strict else "DGLEngine(strict=False)"

    def __reduce__(self) -> tuple[object, tuple[str]]:
        # the engine "auto" picked unpickles as "auto" (native where DGL is missing)
        from backpack.backbone.engine import get_engine

        return (get_engine, ("dgl" if self.strict else "auto",))

    def max_pool(self, batch: GraphBatch, h: Tensor) -> Tensor:
        return self._pool(batch, h, "max")

    def mean_pool(self, batch: GraphBatch, h: Tensor) -> Tensor:
        return self._pool(batch, h, "mean")
