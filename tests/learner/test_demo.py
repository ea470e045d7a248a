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
    for m in ("Single-task (temporal graph)", "MTL+FT", "EgoPack"):
        assert set(table[m]) == {"oscc"} and 0 <= table[m]["oscc"]["accuracy"] <= 100
    assert sorted(t["name"] for t in res["store"]["tasks"]) == ["ar", "lta", "pnr"]
    assert [m[:5] for m in messages] == ["[1/6]", "[2/6]", "[3/6]", "[4/6]", "[5/6]", "[5/6]", "[6/6]"]
    md = format_table(table, "oscc")
    assert md.splitlines()[0].startswith("| Method | AR verb_top1") and "| EgoPack |" in md


def test_demo_reuses_what_it_trained(tiny_demo: tuple) -> None:
    out, config, res, _ = tiny_demo
    weights = Path(res["runs"]["egopack"]) / "weights.safetensors"
    before = weights.stat().st_mtime_ns
    messages: list[str] = []
    again = run_demo(out, config, progress=False, log=messages.append)
    assert messages == ["[6/6] evaluating"]  # everything cached: only evaluated again
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
    assert json.loads(ran.stdout)["table"] == json.loads(json.dumps(res["table"]))
    ran = CliRunner().invoke(cli, ["demo", "--out", str(out)], catch_exceptions=False)
    assert ran.exit_code == 0 and "| EgoPack |" in ran.stdout and "ar" in ran.stdout


def test_demo_rejects_unknown_novel_task() -> None:
    with pytest.raises(ConfigError, match="'novel'.*'ar', 'lta', 'oscc', 'pnr'"):
        DemoConfig(novel="nope")
