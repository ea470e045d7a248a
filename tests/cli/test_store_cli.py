"""The store commands through click's CliRunner: inspect, log, tag, verify, diff (exit codes 0/1/2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from backpack.cli.main import COMMANDS
from backpack.store import Backpack
from tests.cli.store_cli_data import (  # noqa: F401  (fixtures)
    NOUNS,
    TASKS,
    VERBS,
    assert_usage_error,
    make_task,
    pristine,
    run,
    run_json,
    store,
)

STORE_COMMANDS = sorted(n for n, t in COMMANDS.items() if t.startswith("backpack.cli.store_cmds:"))


@pytest.mark.parametrize("name", STORE_COMMANDS)
def test_help_has_examples(name: str) -> None:
    result = run(name, "--help")
    assert result.exit_code == 0 and "Examples:" in result.stdout and f"backpack {name}" in result.stdout


def test_inspect_text(pristine: Path) -> None:
    result = run("inspect", pristine)
    assert result.exit_code == 0
    out = result.stdout
    assert "versions  2 (latest 2); tags: stable -> 1" in out
    assert "version   2 (parent 1)" in out and "replace ar" in out
    for line in ("ar", "lta"):
        assert any(row.split()[:1] == [line] for row in out.splitlines())


def test_inspect_json_figures(pristine: Path) -> None:
    s = run_json("inspect", pristine)
    assert s["versions"] == [1, 2] and s["latest"] == 2 and s["version"] == 2 and s["tags"] == {"stable": 1}
    assert s["vocabulary"] == {"verbs": 10, "nouns": 25} and s["bytes"] > 0
    tasks = {t["name"]: t for t in s["tasks"]}
    assert set(tasks) == {"ar", "lta"}
    for name, data in (("ar", TASKS["ar2"]), ("lta", TASKS["lta"])):
        t = tasks[name]
        assert (t["count"], t["dim"]) == data["prototypes"].shape
        assert t["coverage"]["verbs"] == len(set(data["keys"][:, 0].tolist()))
        assert t["coverage"]["nouns"] == len(set(data["keys"][:, 1].tolist()))
        sup = data["support"]
        assert t["support"] == {
            "min": int(sup.min()),
            "median": float(np.median(sup)),
            "max": int(sup.max()),
            "total": int(sup.sum()),
        }
        assert t["index"]["type"] == "flat" and t["bytes"] > 0
    assert tasks["ar"]["written_in"] == 2 and tasks["lta"]["written_in"] == 1
    all_keys = np.concatenate([TASKS["ar2"]["keys"], TASKS["lta"]["keys"]])
    assert s["coverage"] == {
        "verbs": len(set(all_keys[:, 0].tolist())),
        "nouns": len(set(all_keys[:, 1].tolist())),
    }


@pytest.mark.parametrize("ref", [["@1"], ["@stable"], ["", "--version", "1"], ["", "--version", "stable"]])
def test_inspect_other_version(pristine: Path, ref: list[str]) -> None:
    s = run_json("inspect", f"{pristine}{ref[0]}", *ref[1:])
    assert s["version"] == 1 and s["message"] == "first"


def test_inspect_shows_recall_of_approximate_index(tmp_path: Path) -> None:
    bp = Backpack.create(tmp_path / "s", verbs=VERBS, nouns=NOUNS)
    data = make_task(5, 200, 8)
    with bp.new_version() as v:
        v.add_task("big", **data, index="ivf", index_params={"nlist": 4})
    t = run_json("inspect", tmp_path / "s")["tasks"][0]
    assert t["index"]["type"] == "ivf" and 0 < t["index"]["recall_at_k"] <= 1 and t["index"]["k"] == 4
    assert f"{t['index']['recall_at_k']:.3f}@4" in run("inspect", tmp_path / "s").stdout


def test_inspect_empty_store(tmp_path: Path) -> None:
    Backpack.create(tmp_path / "e", verbs=VERBS, nouns=NOUNS)
    s = run_json("inspect", tmp_path / "e")
    assert s["versions"] == [] and s["version"] is None and s["tasks"] == []
    assert "(no versions yet)" in run("inspect", tmp_path / "e").stdout


def test_inspect_plot(pristine: Path, tmp_path: Path) -> None:
    s = run_json("inspect", pristine, "--plot", tmp_path / "maps")
    assert sorted(Path(p).name for p in s["plots"]) == ["ar.png", "lta.png"]
    for p in s["plots"]:
        assert Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and Path(p).stat().st_size > 1000


def test_similarity_matrix_is_verb_sorted_cosine() -> None:
    from backpack.pipeline.report import similarity_matrix

    data = make_task(9, 30, 6)
    sim, keys = similarity_matrix(data["prototypes"], data["keys"], limit=25)
    assert sim.shape == (25, 25) and np.all(np.diff(keys[:, 0]) >= 0)
    x = data["prototypes"][np.argsort(data["keys"][:, 0], kind="stable")[:25]].astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    np.testing.assert_allclose(sim, x @ x.T, atol=1e-6)


def test_log(pristine: Path) -> None:
    entries = run_json("log", pristine)["versions"]
    assert [e["version"] for e in entries] == [2, 1]
    assert entries[1] | {"created_at": None} == {
        "version": 1,
        "parent": None,
        "created_at": None,
        "message": "first",
        "tasks": {"ar": 30, "lta": 20},
        "tags": ["stable"],
    }
    text = run("log", pristine).stdout
    assert text.index("version 2") < text.index("version 1 (stable)")


def test_tag_lifecycle(store: Path) -> None:
    assert run_json("tag", store, "prod") == {"tag": "prod", "version": 2}
    assert_usage_error(run("tag", store, "prod", "1"), "'prod'", "--force")
    assert Backpack.open(store).tags()["prod"] == 2  # unchanged by the refused move
    assert run_json("tag", store, "prod", "1", "--force") == {"tag": "prod", "version": 1}
    assert run("tag", store, "prod", "--delete").exit_code == 0
    assert Backpack.open(store).tags() == {"stable": 1}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["prod", "9"], "Unknown version 9"),
        (["prod", "nosuchtag"], "Unknown tag 'nosuchtag'"),
        (["latest"], "tag name"),
        (["nosuchtag", "--delete"], "Unknown tag 'nosuchtag'"),
        (["stable", "1", "--delete"], "--delete takes no VERSION"),
    ],
)
def test_tag_bad_input(store: Path, args: list[str], fragment: str) -> None:
    assert_usage_error(run("tag", store, *args), fragment)
    assert Backpack.open(store).tags() == {"stable": 1}


def test_tag_with_store_shorthand(store: Path) -> None:
    assert run_json("tag", f"{store}@1", "old") == {"tag": "old", "version": 1}


def test_verify_ok(pristine: Path) -> None:
    assert run_json("verify", pristine) == {
        "store": str(pristine),
        "versions": [1, 2],
        "ok": True,
        "problems": [],
        "orphans": [],
    }
    assert run_json("verify", f"{pristine}@stable")["versions"] == [1]
    assert run("verify", pristine).stdout.strip().endswith("ok: checked 2 version(s)")


def _flip_chunk(store: Path, task: str, version: int, array: str = "prototypes") -> None:
    path = Backpack.open(store).manifest_of(version).tasks[task].path
    chunk = next(
        p
        for p in (store / path / array).rglob("*")
        if p.is_file() and "c" in p.relative_to(store / path / array).parts
    )
    raw = bytearray(chunk.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    chunk.write_bytes(bytes(raw))


def test_verify_names_the_damage(store: Path) -> None:
    _flip_chunk(store, "lta", 1)  # lta is shared by versions 1 and 2
    result = run("verify", store, "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and len(report["problems"]) == 2
    for version, problem in zip((1, 2), report["problems"]):
        assert f"version {version}" in problem and "'lta'" in problem and "'prototypes'" in problem
    text = run("verify", store)
    assert text.exit_code == 1 and text.stdout.count("FAILED") == 2
    # inspect reads keys and support only: damaged prototypes are verify's to find.
    assert run("inspect", store).exit_code == 0


def test_damaged_array_read_by_a_command_exits_1(store: Path) -> None:
    _flip_chunk(store, "ar", 2, array="keys")
    result = run("inspect", store)
    assert result.exit_code == 1 and "'keys'" in result.stderr and "'ar'" in result.stderr


def test_diff(pristine: Path) -> None:
    d = run_json("diff", pristine, "1", "2")
    assert d["version_a"] == 1 and d["version_b"] == 2 and d["added"] == [] and d["removed"] == []
    assert d["unchanged"] == ["lta"] and [t["name"] for t in d["changed"]] == ["ar"]
    a, b = TASKS["ar1"], TASKS["ar2"]
    common = set(map(tuple, a["keys"].tolist())) & set(map(tuple, b["keys"].tolist()))
    assert d["changed"][0]["common_keys"] == len(common)
    text = run("diff", pristine, "stable", "latest").stdout
    assert "~ ar: count 30 -> 30" in text and "= lta (unchanged)" in text
