"""experiments/task_headroom.py: label-only references of the PNR and LTA metrics."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np

Loader = Callable[[str], ModuleType]


def test_writes_table_and_json_for_every_reference(tmp_path: Path, load_script: Loader) -> None:
    md = tmp_path / "headroom.md"
    assert load_script("task_headroom").main(["--seeds", "0", "--markdown", str(md)]) == 0
    result = json.loads(md.with_suffix(".json").read_text())
    rows = result["rows"]
    assert len(rows) == 6 and all(len(v) == 1 for v in rows.values())
    assert all(name in md.read_text() for name in rows)
    assert all(0.0 <= v[0] for k, v in rows.items() if k.startswith("pnr"))
    lta = {k: v[0] for k, v in rows.items() if k.startswith("lta")}
    if result["lta_windows"] == [0]:  # val clips shorter than N + Z actions: nothing scored, said as NaN
        assert all(math.isnan(v) for v in lta.values())
    else:
        # knowing the last action (and the train grammar) predicts future verbs better than a constant
        assert lta["lta verb_ed (chain oracle)"] < lta["lta verb_ed (constant)"]
        assert all(0.0 <= v <= 1.0 for v in lta.values())


def test_transient_oracle_needs_the_true_signature(tmp_path: Path, load_script: Loader) -> None:
    from backpack.data import Ego4DDataset, generate_synthetic
    from backpack.data.synthetic_write import write_data

    mod = load_script("task_headroom")
    data = generate_synthetic(1)
    write_data(data, tmp_path)
    ds = Ego4DDataset(tmp_path)
    true = mod.pnr_references(ds, data.world.signature_dir)
    random_dir = np.random.default_rng(0).standard_normal(len(data.world.signature_dir))
    wrong = mod.pnr_references(ds, random_dir / np.linalg.norm(random_dir))
    assert true["transient oracle"] < wrong["transient oracle"]
    assert true["centre"] == wrong["centre"]  # the prior ignores the features
