"""The store commands through click's CliRunner: output, --json, exit codes 0/1/2, bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from backpack.cli.main import COMMANDS, cli
from backpack.store import Backpack

VERBS = [f"verb{i}" for i in range(10)]
NOUNS = [f"noun{i}" for i in range(25)]
STORE_COMMANDS = sorted(n for n, t in COMMANDS.items() if t.startswith("backpack.cli.store_cmds:"))


def make_task(seed: int, count: int, dim: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    flat = rng.choice(len(VERBS) * len(NOUNS), size=count, replace=False)
    return {
        "prototypes": rng.normal(size=(count, dim)).astype(np.float32),
        "keys": np.stack([flat // len(NOUNS), flat % len(NOUNS)], axis=1).astype(np.int32),
        "support": rng.integers(1, 40, size=count).astype(np.int64),
    }


TASKS = {"ar1": make_task(1, 30, 16), "lta": make_task(2, 20, 8), "ar2": make_task(3, 30, 16)}


def build_store(path: Path) -> Path:
    """v1: ar (seed 1), lta; v2: ar replaced (seed 3); tag stable -> 1."""
    bp = Backpack.create(path, verbs=VERBS, nouns=NOUNS)
    with bp.new_version(message="first") as v:
        v.add_task("ar", **TASKS["ar1"])
        v.add_task("lta", **TASKS["lta"])
    with bp.new_version(message="replace ar") as v:
        v.add_task("ar", **TASKS["ar2"])
    bp.tag("stable", 1)
    return path


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("cli") / "store")


@pytest.fixture
def store(pristine: Path, tmp_path: Path) -> Path:
    """A fresh copy of the reference store that a test may change."""
    return Path(shutil.copytree(pristine, tmp_path / "store"))


def run(*args: Any) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def run_json(*args: Any) -> Any:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # stdout holds JSON only


def assert_usage_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


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
        assert t["support"] == {"min": int(sup.min()), "median": float(np.median(sup)), "max": int(sup.max()),
                                "total": int(sup.sum())}
        assert t["index"]["type"] == "flat" and t["bytes"] > 0
    assert tasks["ar"]["written_in"] == 2 and tasks["lta"]["written_in"] == 1
    all_keys = np.concatenate([TASKS["ar2"]["keys"], TASKS["lta"]["keys"]])
    assert s["coverage"] == {"verbs": len(set(all_keys[:, 0].tolist())), "nouns": len(set(all_keys[:, 1].tolist()))}


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
    from backpack.cli._store_report import similarity_matrix

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
        "version": 1, "parent": None, "created_at": None, "message": "first", "tasks": {"ar": 30, "lta": 20},
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
    assert run_json("verify", pristine) == {"store": str(pristine), "versions": [1, 2], "ok": True, "problems": []}
    assert run_json("verify", f"{pristine}@stable")["versions"] == [1]
    assert run("verify", pristine).stdout.strip().endswith("ok: checked 2 version(s)")


def _flip_chunk(store: Path, task: str, version: int, array: str = "prototypes") -> None:
    path = Backpack.open(store).manifest_of(version).tasks[task].path
    chunk = next(p for p in (store / path / array).rglob("*") if p.is_file() and "c" in p.relative_to(store / path / array).parts)
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


def test_export_import_round_trip(pristine: Path, tmp_path: Path) -> None:
    out = run_json("export", pristine, tmp_path / "all.zip")
    assert out["versions"] == [1, 2] and out["bytes"] == (tmp_path / "all.zip").stat().st_size
    imported = run_json("import", tmp_path / "all.zip", tmp_path / "copy")
    assert imported["versions"] == [1, 2] and imported["tags"] == {"stable": 1}
    np.testing.assert_array_equal(Backpack.open(tmp_path / "copy").task("ar").prototypes, TASKS["ar2"]["prototypes"])
    one = run_json("export", pristine, tmp_path / "one.zip", "--version", "1")
    assert one["versions"] == [1] and Backpack.open(tmp_path / "one.zip").versions() == [1]
    assert run_json("inspect", tmp_path / "one.zip")["tags"] == {"stable": 1}


def test_export_import_bad_input(pristine: Path, tmp_path: Path) -> None:
    run_json("export", pristine, tmp_path / "b.zip")
    before = (tmp_path / "b.zip").read_bytes()
    assert_usage_error(run("export", pristine, tmp_path / "b.zip"), "already exists")
    assert (tmp_path / "b.zip").read_bytes() == before
    assert run("export", pristine, tmp_path / "b.zip", "--overwrite").exit_code == 0
    assert_usage_error(run("export", pristine, tmp_path / "c.zip", "--version", "7"), "Unknown version 7")
    assert_usage_error(run("import", tmp_path / "b.zip", pristine), "not an empty directory")
    (tmp_path / "junk.zip").write_bytes(b"not a zip at all")
    assert_usage_error(run("import", tmp_path / "junk.zip", tmp_path / "dest"), "junk.zip")
    (tmp_path / "cut.zip").write_bytes(before[: len(before) // 2])
    assert_usage_error(run("import", tmp_path / "cut.zip", tmp_path / "dest"), "cut.zip")
    assert not (tmp_path / "dest").exists()


def test_query_matches_the_library(pristine: Path, tmp_path: Path) -> None:
    q = np.random.default_rng(0).normal(size=(3, 16)).astype(np.float32)
    np.save(tmp_path / "q.npy", q)
    out = run_json("query", pristine, "--task", "ar", "--vectors", tmp_path / "q.npy", "-k", "4")
    scores, ids = Backpack.open(pristine).task("ar").search(q, 4)
    assert out["version"] == 2 and out["k"] == 4 and len(out["results"]) == 3
    for row, s_row, i_row in zip(out["results"], scores, ids):
        assert [h["id"] for h in row] == i_row.tolist()
        np.testing.assert_allclose([h["score"] for h in row], s_row, rtol=1e-6)
        for h in row:
            v, n = TASKS["ar2"]["keys"][h["id"]]
            assert (h["verb"], h["noun"]) == (VERBS[v], NOUNS[n])
    np.save(tmp_path / "one.npy", q[0])  # a single vector [D] is one query
    one = run_json("query", f"{pristine}@1", "--task", "ar", "--vectors", tmp_path / "one.npy", "-k", "2")
    assert one["version"] == 1 and len(one["results"]) == 1 and len(one["results"][0]) == 2
    assert "query 2:" in run("query", pristine, "--task", "ar", "--vectors", tmp_path / "q.npy").stdout


@pytest.mark.parametrize(
    ("case", "extra", "fragment"),
    [
        ("wrong_dim", [], "query dim"),
        ("nan", [], "finite"),
        ("unknown_task", ["--task", "oscc"], "Known tasks: ['ar', 'lta']"),
        ("k_zero", ["-k", "0"], "'k'"),
        ("k_too_big", ["-k", "31"], "'k'"),
        ("missing_file", [], "nope.npy"),
        ("pickled", [], "pickled.npy"),
        ("not_npy", [], "text.npy"),
    ],
)
def test_query_bad_input(pristine: Path, tmp_path: Path, case: str, extra: list[str], fragment: str) -> None:
    good = np.ones((2, 16), np.float32)
    files = {"wrong_dim": np.ones((2, 15), np.float32), "nan": np.where(np.eye(2, 16) > 0, np.nan, good)}
    path = tmp_path / "q.npy"
    if case in files:
        np.save(path, files[case])
    elif case == "missing_file":
        path = tmp_path / "nope.npy"
    elif case == "pickled":
        path = tmp_path / "pickled.npy"
        np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif case == "not_npy":
        path = tmp_path / "text.npy"
        path.write_text("hello")
    else:
        np.save(path, good)
    args = ["query", pristine, "--task", "ar", "--vectors", path, *extra]
    if "--task" in extra:
        args = ["query", pristine, "--vectors", path, *extra]
    assert_usage_error(run(*args), fragment)


@pytest.mark.parametrize("name", ["inspect", "log", "verify"])
def test_not_a_store(name: str, tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    assert_usage_error(run(name, tmp_path / "plain"), "is not a backpack store")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["inspect", "{s}@9"], "Unknown version 9"),
        (["inspect", "{s}@nosuch"], "Unknown tag 'nosuch'"),
        (["inspect", "{s}@1", "--version", "2"], "Conflicting versions"),
        (["inspect", "{s}@"], "PATH@VERSION"),
        (["inspect", "{s}", "--storage-option", "novalue"], "KEY=VALUE"),
        (["diff", "{s}", "1", "5"], "Unknown version 5"),
    ],
)
def test_bad_store_arguments(pristine: Path, args: list[str], fragment: str) -> None:
    assert_usage_error(run(*[a.format(s=pristine) for a in args]), fragment)


def test_newer_format_version(store: Path) -> None:
    root = json.loads((store / "backpack.json").read_text())
    (store / "backpack.json").write_text(json.dumps(root | {"format_version": 99}))
    assert_usage_error(run("inspect", store), "format_version", "99")


def test_storage_option_values() -> None:
    from backpack.cli._store_args import parse_storage_options

    opts = parse_storage_options(("anon=TRUE", "use_ssl=false", "max_concurrency=4", "key=1234", "secret=0x9",
                                  'client_kwargs={"region_name": "eu-west-1"}', "endpoint_url=http://h:1/p=q"))
    assert opts == {"anon": True, "use_ssl": False, "max_concurrency": 4, "key": "1234", "secret": "0x9",
                    "client_kwargs": {"region_name": "eu-west-1"}, "endpoint_url": "http://h:1/p=q"}
    assert parse_storage_options(()) is None


def test_storage_option_bad_json(pristine: Path) -> None:
    assert_usage_error(run("inspect", pristine, "--storage-option", "client_kwargs={oops"), "JSON object")


@pytest.mark.s3
def test_s3_store_through_storage_options(s3_url: str, s3_storage_options: dict[str, str], tmp_path: Path) -> None:
    run_json("export", build_store(tmp_path / "src"), tmp_path / "b.zip")
    opts = [x for k, v in s3_storage_options.items() for x in ("--storage-option", f"{k}={v}")]
    assert run_json("import", tmp_path / "b.zip", s3_url, *opts)["versions"] == [1, 2]
    s = run_json("inspect", f"{s3_url}@stable", *opts)
    assert s["store"] == s3_url and s["version"] == 1 and {t["name"] for t in s["tasks"]} == {"ar", "lta"}
    assert run_json("verify", s3_url, *opts)["ok"] is True
    assert run_json("tag", s3_url, "prod", "2", *opts) == {"tag": "prod", "version": 2}
    assert_usage_error(run("inspect", s3_url, "--storage-option", "bogus=1"), "bogus")


@pytest.mark.parametrize("argv", [["inspect", "{s}", "--json"], ["verify", "{s}"]])
def test_store_commands_never_import_torch_or_dgl(pristine: Path, argv: list[str]) -> None:
    """A real process with -X importtime: every module it imports is listed on stderr."""
    cmd = [sys.executable, "-X", "importtime", "-m", "backpack.cli.main", *[a.format(s=pristine) for a in argv]]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert {"backpack.store.store", "numpy"} <= modules  # the listing works
    heavy = sorted(m for m in modules if m.split(".")[0] in ("torch", "dgl"))
    assert heavy == [], heavy
