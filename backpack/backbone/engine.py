"""Graph engines: the two message-passing primitives the backbone needs, behind one interface.

An engine turns a :class:`~backpack.backbone.graph.GraphBatch` into neighbour means and per-graph
pooling. DGL is the primary engine; :class:`~backpack.backbone.native.NativeEngine` does the same
with plain torch index/scatter operations, so the model also runs where DGL cannot load (torch newer
than 2.2.1). Engines are looked up by name (``get_engine``); they are stateless, and what they
precompute per batch lives in ``batch.cache`` under keys prefixed with the engine name.
"""

from __future__ import annotations

import abc
import importlib
import os
from collections.abc import Callable

from torch import Tensor

from backpack.backbone.graph import GraphBatch
from backpack.errors import ConfigError


class GraphEngine(abc.ABC):
    """Message passing and pooling over a :class:`GraphBatch`.

    Shapes: h [N, C] node features -> mean_neighbours [N, C], max_pool / mean_pool [num_graphs, C].
    """

    name: str = "abstract"

    @abc.abstractmethod
    def mean_neighbours(self, batch: GraphBatch, h: Tensor) -> Tensor:
        """Mean of ``h`` over the in-neighbours of every node (edges src -> dst); 0 for isolated nodes."""

    @abc.abstractmethod
    def max_pool(self, batch: GraphBatch, h: Tensor) -> Tensor:
        """Element-wise max of ``h`` over the nodes of every graph; 0 for a graph without nodes."""

    @abc.abstractmethod
    def mean_pool(self, batch: GraphBatch, h: Tensor) -> Tensor:
        """Mean of ``h`` over the nodes of every graph; 0 for a graph without nodes."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:  # stateless: equal when of the same kind
        return isinstance(other, GraphEngine) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __reduce__(self) -> tuple[object, tuple[str]]:
        # pickled by name: a model pickled with one engine unpickles wherever that engine loads
        return (get_engine, (self.name,))


def _load_native() -> GraphEngine:
    from backpack.backbone.native import NativeEngine

    return NativeEngine()


def _load_dgl(strict: bool = True) -> GraphEngine:
    from backpack.backbone.dgl_engine import DGLEngine

    return DGLEngine(strict=strict)


# name -> factory; factories import their module lazily so that DGL is only touched when asked for.
ENGINES: dict[str, Callable[[], GraphEngine]] = {"dgl": _load_dgl, "native": _load_native}
_DGL_STATE: dict[str, object] = {}


def dgl_available() -> bool:
    """Whether DGL imports in this environment (the answer is cached; any import failure counts as no).

    DGL 2.1 loads only with torch 2.0-2.2.1; on newer torch its import raises assorted errors
    (FileNotFoundError for the graphbolt library, ImportError, OSError), so every exception is caught.
    """
    if "ok" not in _DGL_STATE:
        os.environ.setdefault("DGLBACKEND", "pytorch")
        try:
            importlib.import_module("dgl")
            _DGL_STATE["ok"] = True
        except Exception as exc:  # noqa: BLE001 - any failure means "not usable here"
            _DGL_STATE["ok"] = False
            _DGL_STATE["error"] = f"{type(exc).__name__}: {exc}"
    return bool(_DGL_STATE["ok"])


def engine_names() -> list[str]:
    """The names ``get_engine`` accepts."""
    return ["auto", *sorted(ENGINES)]


def get_engine(name: str | GraphEngine | None = "auto") -> GraphEngine:
    """Return the graph engine called ``name``.

    Parameters
    ----------
    name : {"auto", "dgl", "native"} or GraphEngine or None
        ``"auto"`` (or None) picks DGL when it imports and the native engine otherwise; an engine
        instance is returned as is. The DGL engine that ``"auto"`` picks is not strict: on a
        device its DGL build cannot use (CUDA with the CPU-only PyPI wheel) it runs the native
        engine there; ``"dgl"`` raises a ConfigError in that case instead.

    Raises
    ------
    ConfigError
        For an unknown name (the message lists the valid ones), or ``"dgl"`` where DGL cannot load.
    """
    if isinstance(name, GraphEngine):
        return name
    if name is None:
        name = "auto"
    if not isinstance(name, str) or name not in engine_names():
        raise ConfigError(f"Unknown graph engine {name!r}. Expected one of: {', '.join(engine_names())}.")
    if name == "auto":
        return _load_dgl(strict=False) if dgl_available() else ENGINES["native"]()
    if name == "dgl" and not dgl_available():
        raise ConfigError(
            "Graph engine 'dgl' is not available: DGL could not be imported "
            f"({_DGL_STATE.get('error', 'unknown error')}). DGL 2.1 needs torch <= 2.2.1; "
            "install the 'dgl' extra, or use --graph-engine native (or auto)."
        )
    return ENGINES[name]()
