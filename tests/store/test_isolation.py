"""The store stands alone: creating, publishing, verifying and querying import neither torch nor dgl."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
import numpy as np
import backpack.store
from backpack.store import Backpack
assert 'torch' not in sys.modules and 'dgl' not in sys.modules, 'import'
bp = Backpack.create(sys.argv[1], verbs=['a', 'b'], nouns=['x', 'y'])
with bp.new_version(message='m') as v:
    v.add_task('ar', np.eye(4, 8, dtype=np.float32) + 0.1, [[0, 0], [0, 1], [1, 0], [1, 1]], [1, 2, 3, 4])
r = Backpack.open(sys.argv[1])
scores, ids = r.task('ar').search(np.eye(2, 8), k=2)
assert ids[0, 0] == 0 and ids[1, 0] == 1, ids
assert r.verify() == []
r.export(sys.argv[1] + '.zip')
assert Backpack.open(sys.argv[1] + '.zip').task('ar').count == 4
bad = [m for m in ('torch', 'dgl') if m in sys.modules]
assert not bad, bad
print('ok')
"""


def test_store_imports_no_torch_or_dgl() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import backpack.store, sys; assert 'torch' not in sys.modules and 'dgl' not in sys.modules",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr


def test_store_workflow_imports_no_torch_or_dgl(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "s")], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
