"""The backbone without DGL: nothing imports it unless asked, and a missing DGL is handled cleanly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

_FORWARD = """
import torch
from backpack.backbone import GraphBatch, GraphSample, build_backbone
s = GraphSample(torch.randn(4, 3, 8), torch.tensor([[0, 1, 2], [1, 2, 3]]))
model = build_backbone("graph", in_dim=8, hidden=16, engine={engine!r})
h = model(GraphBatch.collate([s, s]))
"""


def _run(code: str) -> dict:
    env = {**os.environ, "DGLBACKEND": "pytorch"}
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_native_engine_never_imports_dgl() -> None:
    result = _run(
        _FORWARD.format(engine="native")
        + """
import json, sys
print(json.dumps({"dgl": "dgl" in sys.modules, "shape": list(h.shape)}))
"""
    )
    assert result == {"dgl": False, "shape": [8, 16]}


def test_without_dgl_auto_falls_back_to_native_and_dgl_is_a_config_error() -> None:
    # sys.modules["dgl"] = None makes ``import dgl`` fail as if DGL were not installed
    result = _run(
        """
import sys
sys.modules["dgl"] = None
"""
        + _FORWARD.format(engine="auto")
        + """
import json
from backpack.backbone import get_engine, dgl_available
from backpack.errors import ConfigError
try:
    get_engine("dgl")
    err = None
except ConfigError as exc:
    err = str(exc)
print(json.dumps(
    {"auto": model.engine.name, "available": dgl_available(), "err": err, "shape": list(h.shape)}
))
"""
    )
    assert result["auto"] == "native" and result["available"] is False and result["shape"] == [8, 16]
    assert "Graph engine 'dgl' is not available" in result["err"] and "native" in result["err"]


def test_model_pickled_with_auto_dgl_unpickles_without_dgl(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # pickled where "auto" may mean DGL; loaded where DGL is missing: the engine comes back as native
    import pickle

    import torch

    from backpack.backbone import build_backbone

    torch.manual_seed(0)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(build_backbone("graph", in_dim=8, hidden=16, engine="auto")))
    result = _run(f"""
import sys, pickle, json
sys.modules["dgl"] = None
model = pickle.loads(open({str(path)!r}, "rb").read())
print(json.dumps({{"engine": model.engine.name}}))
""")
    assert result == {"engine": "native"}
