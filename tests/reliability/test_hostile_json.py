"""Deeply nested JSON and huge numbers in every JSON file read from disk: one clear error, bounded memory."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

from backpack import safe_json
from backpack.cli.main import cli
from backpack.data.parsing import parse_taxonomy
from backpack.errors import BackpackError, DataError, RunError, StoreError
from backpack.pipeline.checkpoint import read_json, read_metrics
from backpack.store import Backpack
from tests.store.store_data import NOUNS, VERBS, add, make_task

DEEP = b'{"version": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"  # 400 KB
HUGE = b'{"version": 1' + b"0" * 100_000 + b"}"  # an integer of 100,001 digits
HUGE_FLOAT = b'{"version": 1.' + b"5" * 100_000 + b"}"
ATTACKS = {"deep": DEEP, "huge-int": HUGE, "huge-float": HUGE_FLOAT}
# Refusing must never need more than a small multiple of the file (copies of its bytes and text;
# the bounds are checked before the parser builds anything).
BOUND = 8 * max(len(v) for v in ATTACKS.values())


def _peak(fn: object) -> tuple[BaseException | None, int]:
    tracemalloc.start()
    try:
        fn()  # type: ignore[operator]
    except BaseException as exc:  # noqa: BLE001 -- the test checks which one
        return exc, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return None, 0


@pytest.fixture
def store(tmp_path: Path) -> Path:
    bp = Backpack.create(tmp_path / "s", verbs=VERBS, nouns=NOUNS)
    with bp.new_version() as v:
        add(v, "ar", make_task(1))
    bp.tag("stable", 1)
    return tmp_path / "s"


@pytest.mark.parametrize("attack", sorted(ATTACKS))
@pytest.mark.parametrize("target", ["tags/stable.json", "versions/00000001.json", "backpack.json"])
def test_store_metadata(store: Path, attack: str, target: str) -> None:
    (store / target).write_bytes(ATTACKS[attack])
    exc, peak = _peak(lambda: Backpack.open(store, version="stable").manifest)
    assert isinstance(exc, StoreError), exc
    assert "levels deep" in str(exc) or "a number of" in str(exc), str(exc)
    assert peak < BOUND, f"{attack} in {target}: peak {peak} bytes, bound {BOUND}"
    print(f"\n{attack} in {target}: peak {peak / 2**20:.2f} MiB (bound {BOUND / 2**20:.2f} MiB)")
    out = CliRunner().invoke(cli, ["verify", str(store)])
    assert out.exit_code in (1, 2) and "Traceback" not in out.output, out.output
    assert len(out.output.strip().splitlines()) <= 3


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_run_folder_and_annotations(tmp_path: Path, attack: str) -> None:
    path = tmp_path / "file.json"
    path.write_bytes(ATTACKS[attack])
    for call, error in (
        (lambda: read_json(path, "x"), RunError),
        (lambda: read_metrics(path), RunError),
        (lambda: parse_taxonomy(path), DataError),
    ):
        exc, peak = _peak(call)
        assert isinstance(exc, error) and str(path) in str(exc), exc
        assert peak < BOUND, f"{attack}: peak {peak} bytes, bound {BOUND}"
        print(
            f"\n{attack} in a {error.__name__} file: peak {peak / 2**20:.2f} MiB (bound {BOUND / 2**20:.2f})"
        )


def test_bounds_are_not_too_tight() -> None:
    ok = {"a": [[[[1.5e300, -(2**62)]]]], "s": "[[[[" * 1000 + '\\"{{{'}
    assert safe_json.loads(json.dumps(ok), "x") == ok  # brackets inside strings do not count
    nested = b"[" * safe_json.MAX_DEPTH + b"]" * safe_json.MAX_DEPTH
    assert safe_json.depth_of(nested) == safe_json.MAX_DEPTH
    safe_json.loads(nested, "x")
    with pytest.raises(BackpackError, match="65 levels deep"):
        safe_json.loads(b"[" + nested + b"]", "x")
    with pytest.raises(BackpackError, match="Cannot parse x"):
        safe_json.loads(b'{"a": "\\', "x")
