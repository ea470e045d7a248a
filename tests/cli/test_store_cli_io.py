"""The store commands through click's CliRunner: export, import, query, STORE arguments, storage
options, S3, and (in real processes) that they never import torch or DGL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from backpack.store import Backpack
from tests.cli.store_cli_data import (  # noqa: F401  (fixtures)
    NOUNS,
    TASKS,
    VERBS,
    assert_usage_error,
    build_store,
    pristine,
    run,
    run_json,
    store,
)


def test_export_import_round_trip(pristine: Path, tmp_path: Path) -> None:
    out = run_json("export", pristine, tmp_path / "all.zip")
    assert out["versions"] == [1, 2] and out["bytes"] == (tmp_path / "all.zip").stat().st_size
    imported = run_json("import", tmp_path / "all.zip", tmp_path / "copy")
    assert imported["versions"] == [1, 2] and imported["tags"] == {"stable": 1}
    np.testing.assert_array_equal(
        Backpack.open(tmp_path / "copy").task("ar").prototypes, TASKS["ar2"]["prototypes"]
    )
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

    opts = parse_storage_options(
        (
            "anon=TRUE",
            "use_ssl=false",
            "max_concurrency=4",
            "key=1234",
            "secret=0x9",
            'client_kwargs={"region_name": "eu-west-1"}',
            "endpoint_url=http://h:1/p=q",
        )
    )
    assert opts == {
        "anon": True,
        "use_ssl": False,
        "max_concurrency": 4,
        "key": "1234",
        "secret": "0x9",
        "client_kwargs": {"region_name": "eu-west-1"},
        "endpoint_url": "http://h:1/p=q",
    }
    assert parse_storage_options(()) is None


def test_storage_option_bad_json(pristine: Path) -> None:
    assert_usage_error(run("inspect", pristine, "--storage-option", "client_kwargs={oops"), "JSON object")


@pytest.mark.s3
def test_s3_store_through_storage_options(
    s3_url: str, s3_storage_options: dict[str, str], tmp_path: Path
) -> None:
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
    cmd = [
        sys.executable,
        "-X",
        "importtime",
        "-m",
        "backpack.cli.main",
        *[a.format(s=pristine) for a in argv],
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = {
        line.rsplit("|", 1)[-1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert {"backpack.store.store", "numpy"} <= modules  # the listing works
    heavy = sorted(m for m in modules if m.split(".")[0] in ("torch", "dgl"))
    assert heavy == [], heavy
