"""Errors on the write path and hostile text: one line, the right exit code, valid JSON."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from backpack.cli.main import cli
from backpack.errors import BackpackError
from backpack.store import Backpack
from tests.store.store_data import NOUNS, VERBS, add, make_task, resign


@pytest.fixture
def store(tmp_path: Path) -> Path:
    bp = Backpack.create(tmp_path / "s", verbs=VERBS, nouns=NOUNS)
    with bp.new_version(message="first") as v:
        add(v, "ar", make_task(1), index="ivf", index_params={"nlist": 2})
    return tmp_path / "s"


@pytest.mark.parametrize("code", ["ENOSPC", "EDQUOT", "EROFS", "EFBIG", "EACCES"])
def test_refused_write_is_one_line_exit_1(store: Path, code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    number = getattr(errno, code)

    def refused(src: object, dst: object, *a: object, **k: object) -> None:
        raise OSError(number, os.strerror(number), str(dst))

    monkeypatch.setattr(os, "link", refused)  # the exclusive create of the tag file
    out = CliRunner().invoke(cli, ["tag", str(store), "stable"])
    assert out.exit_code == 1, out.output
    line = out.output.strip()
    assert "\n" not in line and "Traceback" not in line
    assert line.startswith("Error: Cannot write ") and f"{os.strerror(number)} ({code})." in line
    assert str(store / "tags") in line
    assert Backpack.open(store).tags() == {} and Backpack.open(store).verify() == []


def test_message_that_is_not_utf8_is_refused_before_any_data(store: Path) -> None:
    bp = Backpack.open(store, mode="a")
    before = sorted(p for p in store.rglob("*"))
    with pytest.raises(BackpackError, match="Invalid value for 'message'.*valid UTF-8"):
        bp.new_version(message="bad \udcff byte")  # how a non-UTF-8 argv byte arrives
    assert sorted(p for p in store.rglob("*")) == before


def test_log_escapes_control_characters(store: Path) -> None:
    hostile = "ok\nversion 99  forged line\x1b[2J\x07"
    with Backpack.open(store, mode="a").new_version(message=hostile) as v:
        add(v, "lta", make_task(2))
    out = CliRunner().invoke(cli, ["log", str(store)])
    assert out.exit_code == 0
    assert "\x1b" not in out.output and "\x07" not in out.output
    assert "ok\\nversion 99  forged line\\x1b[2J\\x07" in out.output
    assert not any(line.startswith("version 99") for line in out.output.splitlines())
    data = json.loads(CliRunner().invoke(cli, ["log", str(store), "--json"]).stdout)
    assert data["versions"][0]["message"] == hostile  # JSON stays exact


def test_inspect_json_is_valid_with_nan_in_a_manifest(store: Path) -> None:
    path = store / "versions" / "00000001.json"
    meta = json.loads(path.read_text())
    meta["tasks"]["ar"]["index"]["recall_at_k"] = float("nan")
    path.write_text(json.dumps(resign(meta)))
    out = CliRunner().invoke(cli, ["inspect", str(store), "--json"])
    assert out.exit_code == 0, out.output

    def no_constants(name: str) -> None:
        raise AssertionError(f"{name} in --json output")

    json.loads(out.stdout, parse_constant=no_constants)


def test_query_vectors_that_lie_or_are_not_npy(store: Path, tmp_path: Path) -> None:
    good = tmp_path / "q.npy"
    np.save(good, np.ones((3, 16), np.float32))
    liar = tmp_path / "liar.npy"
    raw = good.read_bytes().replace(b"(3, 16)", b"(9999999, 16)")
    liar.write_bytes(raw)
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"not an array at all")
    runner = CliRunner()
    assert runner.invoke(cli, ["query", str(store), "--task", "ar", "--vectors", str(good)]).exit_code == 0
    for path, words in ((liar, "data bytes hold"), (junk, "not a .npy file")):
        out = runner.invoke(cli, ["query", str(store), "--task", "ar", "--vectors", str(path)])
        assert out.exit_code == 2 and words in out.output and "Traceback" not in out.output, out.output
        assert len(out.output.strip().splitlines()) == 1
