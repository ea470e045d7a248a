"""docs/store-format.md stays true: its plain zarr+faiss reader runs on a store written here."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from backpack.store import Backpack
from tests.store.store_data import NOUNS, VERBS, add, make_task

DOC = Path(__file__).resolve().parents[2] / "docs" / "store-format.md"


def test_doc_reader_example(tmp_path: Path) -> None:
    bp = Backpack.create(tmp_path / "s", verbs=VERBS, nouns=NOUNS)
    data = make_task(1)
    with bp.new_version() as v:
        add(v, "ar", data)
    with bp.new_version() as v:
        add(v, "lta", make_task(2))
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    code = code.replace('"path/to/store"', repr(str(tmp_path / "s")))
    scope: dict = {}
    exec(compile(code, str(DOC), "exec"), scope)  # noqa: S102 -- our own documentation
    assert scope["version"] == 2
    np.testing.assert_array_equal(scope["prototypes"], data.prototypes)
    ref_scores, ref_ids = Backpack.open(tmp_path / "s").task("ar").search(scope["q"], k=4)
    np.testing.assert_array_equal(scope["ids"], ref_ids)
    assert len(scope["names"]) == 4 and all(v in VERBS and n in NOUNS for v, n in scope["names"])


def test_doc_names_every_manifest_field(tmp_path: Path) -> None:
    bp = Backpack.create(tmp_path / "s", verbs=VERBS, nouns=NOUNS)
    with bp.new_version() as v:
        add(v, "ar", make_task(1))
    text = DOC.read_text()
    manifest = bp.manifest.to_dict()
    fields = set(manifest) | set(manifest["tasks"]["ar"]) | set(manifest["provenance"])
    missing = sorted(f for f in fields if f'"{f}"' not in text)
    assert missing == []
