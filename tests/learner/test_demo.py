"""The demo on tiny synthetic data: the table, the store summary, caching, the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from backpack.errors import ConfigError
from backpack.pipeline.demo import METHODS, DemoConfig, format_table, run_demo


@pytest.fixture(scope="module")
def tiny_demo(
    tmp_path_factory: pytest.TempPathFactory, tiny_size: Any
) -> tuple[Path, DemoConfig, dict, list[str]]:
    config = DemoConfig(
        size=tiny_size, hidden=16, feat_dim=16, mtl_epochs=1, mtl_limit={}, few_labels=12, learn_epochs=1, k=2
    )
    out = tmp_path_factory.mktemp("demo")
    messages: list[str] = []
    return out, config, run_demo(out, config, progress=False, log=messages.append), messages


def test_demo_table_and_store(tiny_demo: tuple) -> None:
    _, _, res, messages = tiny_demo
    table = res["table"]
    assert list(table) == list(METHODS)
    assert set(table["MTL"]) == {"ar", "lta", "pnr"}
    assert set(table["Linear probe"]) == {"ar", "oscc"}
    assert 0 <= table["Linear probe"]["oscc"]["accuracy"] <= 100
    for m in ("Single-task (temporal graph)", "MTL+FT", "EgoPack"):
        assert set(table[m]) == {"oscc"} and 0 <= table[m]["oscc"]["accuracy"] <= 100
    assert sorted(t["name"] for t in res["store"]["tasks"]) == ["ar", "lta", "pnr"]
    assert [m[:5] for m in messages] == ["[1/6]", "[2/6]", "[3/6]", "[4/6]", "[5/6]", "[5/6]", "[6/6]"]
    assert all("running -> " in m for m in messages[:-1]) and messages[-1] == "[6/6] evaluating"
    assert [s["cached"] for s in res["steps"]] == [False] * 6
    md = format_table(table, "oscc")
    assert md.splitlines()[0].startswith("| Method | AR verb_top1") and "| EgoPack |" in md


def test_demo_reuses_what_it_trained(tiny_demo: tuple) -> None:
    out, config, res, _ = tiny_demo
    weights = Path(res["runs"]["egopack"]) / "weights.safetensors"
    before = weights.stat().st_mtime_ns
    messages: list[str] = []
    again = run_demo(out, config, progress=False, log=messages.append)
    # everything cached: every step says so, and only the evaluation runs again
    assert [m[:5] for m in messages] == ["[1/6]", "[2/6]", "[3/6]", "[4/6]", "[5/6]", "[5/6]", "[6/6]"]
    assert all(m.endswith("(cached)") and ": reused " in m for m in messages[:-1]), messages
    single = "[2/6] train single-task oscc (12 labelled samples): reused runs/single-oscc (cached)"
    assert messages[1] == single
    assert [s["cached"] for s in again["steps"]] == [True] * 6
    assert weights.stat().st_mtime_ns == before
    # compared as JSON text: a metric without samples is NaN, and NaN != NaN
    assert json.dumps(again["table"], sort_keys=True) == json.dumps(res["table"], sort_keys=True)


def test_demo_cli_prints_table_and_summary(tiny_demo: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    import backpack.pipeline.demo as demo
    from backpack.cli.main import cli

    out, config, res, _ = tiny_demo
    # the CLI's config with the tiny sizes of the fixture (its runs are reused, only evaluated)
    monkeypatch.setattr(
        demo, "DemoConfig", lambda novel, seed: dataclasses.replace(config, novel=novel, seed=seed)
    )
    ran = CliRunner().invoke(cli, ["demo", "--out", str(out), "--json"], catch_exceptions=False)
    assert ran.exit_code == 0, ran.stderr
    printed = json.loads(ran.stdout)
    assert printed["table"] == json.loads(json.dumps(res["table"]))
    assert [(s["step"].split()[0], s["cached"]) for s in printed["steps"]] == [
        ("synthetic", True),
        ("train", True),
        ("train", True),
        ("build", True),
        ("learn", True),
        ("learn", True),
    ]
    assert "[4/6] build the backpack: reused store-mtl-ar-lta-pnr (cached)" in ran.stderr
    ran = CliRunner().invoke(cli, ["demo", "--out", str(out)], catch_exceptions=False)
    assert ran.exit_code == 0 and "| EgoPack |" in ran.stdout and "ar" in ran.stdout
    ran = CliRunner().invoke(cli, ["demo", "--out", str(out), "--quiet"], catch_exceptions=False)
    assert ran.exit_code == 0 and "| EgoPack |" in ran.stdout
    # no step lines and no progress; what remains is which weights each evaluation used
    assert ran.stderr and all(line.startswith("Using the last epoch") for line in ran.stderr.splitlines())


def test_demo_rejects_unknown_novel_task() -> None:
    with pytest.raises(ConfigError, match="'novel'.*'ar', 'lta', 'oscc', 'pnr'"):
        DemoConfig(novel="nope")
