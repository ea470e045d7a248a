"""Orphans are listed by verify and removed by gc, never referenced data nor a writer in progress."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from backpack.cli.main import cli
from backpack.errors import ReadOnlyError, StoreError
from backpack.store import Backpack
from backpack.store.gc import collect_garbage
from tests.store.store_data import NOUNS, VERBS, add, make_task


def _store_with_orphans(tmp_path: Path) -> tuple[str, str]:
    url = str(tmp_path / "s")
    bp = Backpack.create(url, verbs=VERBS, nouns=NOUNS)
    with bp.new_version() as v:
        add(v, "ar", make_task(1))
    with bp.new_version() as v:
        add(v, "lta", make_task(2))
    dead = bp.new_version()  # a writer killed after its data, before its manifest
    add(dead, "oscc", make_task(3))
    (tmp_path / "s" / "versions" / ".tmp-00000003.json.dead").write_bytes(b"{")
    (tmp_path / ".s.tmp-0123abcd").mkdir()  # an import killed while unpacking
    (tmp_path / ".s.tmp-0123abcd" / "backpack.json").write_bytes(b"x" * 10)
    return url, dead._tasks["oscc"].path


def _age(tmp_path: Path, seconds: float) -> None:
    past = os.stat(tmp_path / "s" / "backpack.json").st_mtime - seconds
    for p in [*(tmp_path / "s").rglob("*"), *(tmp_path).glob(".s.tmp-*/**/*"), *(tmp_path).glob(".s.tmp-*")]:
        os.utime(p, (past, past))


def test_orphans_listed_and_young_ones_kept(tmp_path: Path) -> None:
    url, dead = _store_with_orphans(tmp_path)
    bp = Backpack.open(url)
    kinds = {o.key: o.kind for o in bp.orphans()}
    assert kinds == {
        dead: "data",
        "versions/.tmp-00000003.json.dead": "temp",
        "../.s.tmp-0123abcd": "import-temp",
    }
    assert bp.verify() == []  # orphans are not damage
    assert collect_garbage(Backpack.open(url, mode="a"), dry_run=False) == []  # all younger than 1 h
    assert len(bp.orphans()) == 3


def test_gc_removes_only_old_orphans(tmp_path: Path) -> None:
    url, dead = _store_with_orphans(tmp_path)
    _age(tmp_path, 7200)
    before = {n: Backpack.open(url, version=n).task(t).prototypes for n, t in ((1, "ar"), (2, "lta"))}
    young = Backpack.open(url, mode="a").new_version()  # a writer in progress right now
    add(young, "pnr", make_task(4))
    bp = Backpack.open(url, mode="a")
    dry = collect_garbage(bp)
    assert {o.key for o in dry} == {dead, "versions/.tmp-00000003.json.dead", "../.s.tmp-0123abcd"}
    assert len(bp.orphans()) == 4  # the dry run removed nothing
    removed = collect_garbage(bp, dry_run=False)
    assert {o.key for o in removed} == {o.key for o in dry}
    assert [o.key for o in bp.orphans()] == [young._tasks["pnr"].path]
    assert not (tmp_path / ".s.tmp-0123abcd").exists()
    assert young.commit() == 3  # the writer in progress still publishes
    after = Backpack.open(url)
    assert after.verify() == [] and after.orphans() == []
    for (n, t), protos in zip(((1, "ar"), (2, "lta")), before.values()):
        np.testing.assert_array_equal(Backpack.open(url, version=n).task(t).prototypes, protos)


def test_gc_refuses_when_a_manifest_is_unreadable(tmp_path: Path) -> None:
    url, _ = _store_with_orphans(tmp_path)
    (tmp_path / "s" / "versions" / "00000001.json").write_bytes(b"{not json")
    with pytest.raises(StoreError, match="Cannot tell which data"):
        collect_garbage(Backpack.open(url, mode="a"), grace_s=0, dry_run=False)


def test_gc_cli(tmp_path: Path) -> None:
    url, dead = _store_with_orphans(tmp_path)
    runner = CliRunner()
    out = runner.invoke(cli, ["verify", url])
    assert out.exit_code == 0 and f"orphan {dead} (data" in out.output
    dry = runner.invoke(cli, ["gc", url, "--grace", "0", "--json"])
    assert dry.exit_code == 0, dry.output
    assert len(json.loads(dry.stdout)["would_remove"]) == 3 and len(Backpack.open(url).orphans()) == 3
    done = runner.invoke(cli, ["gc", url, "--grace", "0", "--yes"])
    assert done.exit_code == 0 and "removed 3 orphan(s)" in done.output
    assert Backpack.open(url).orphans() == [] and Backpack.open(url).verify() == []


@pytest.mark.parametrize("folder", ["versions", "tags"])
def test_unreadable_folder_is_an_error_not_an_empty_store(
    tmp_path: Path, folder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = _store_with_orphans(tmp_path)
    Backpack.open(url, mode="a").tag("stable", 1)
    real = os.scandir
    target = str(tmp_path / "s" / folder)

    def denied(path: object = ".") -> object:  # what a folder without read permission answers
        if str(path) == target:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", denied)
    with pytest.raises(StoreError, match=rf"Cannot list '{target}'.*Permission denied \(errno EACCES\)"):
        bp = Backpack.open(url)
        bp.tags()
    for cmd in (["log", url], ["verify", url]):
        out = CliRunner().invoke(cli, cmd)
        assert out.exit_code == 2 and "Permission denied" in out.output and "Traceback" not in out.output


def test_gc_refuses_a_zip_bundle_with_one_line(tmp_path: Path) -> None:
    url, _ = _store_with_orphans(tmp_path)
    bundle = Backpack.open(url).export(tmp_path / "b.zip")
    with pytest.raises(ReadOnlyError, match="read-only bundle.*import_bundle"):
        collect_garbage(Backpack.open(bundle))
    with pytest.raises(ReadOnlyError, match="read-only bundle.*import_bundle"):
        Backpack.open(bundle).tag("x", 1)  # not "open it with mode='a'": a bundle has no such mode
    for extra in ([], ["--yes"]):
        out = CliRunner().invoke(cli, ["gc", str(bundle), *extra])
        lines = out.output.strip().splitlines()
        assert out.exit_code == 2 and len(lines) == 1 and "backpack import" in lines[0], out.output
