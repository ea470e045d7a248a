"""The options many commands take are declared once: same default and help in every command."""

from __future__ import annotations

import click
import pytest

from backpack.cli.main import cli

# demo's --device defaults to cpu (its numbers are the CPU's), so it keeps its own option
SHARED = ("device", "engine", "skip_missing", "as_json", "quiet", "tensorboard", "fmt", "dpi")
OWN = {("demo", "device")}


def _params(name: str) -> dict[str, click.Parameter]:
    out: dict[str, click.Parameter] = {}
    ctx = click.Context(cli)
    for cmd_name in cli.list_commands(ctx):
        cmd = cli.get_command(ctx, cmd_name)
        assert cmd is not None
        for p in cmd.params:
            if p.name == name and (cmd_name, name) not in OWN:
                out[cmd_name] = p
    return out


@pytest.mark.parametrize("name", SHARED)
def test_shared_option_is_the_same_everywhere(name: str) -> None:
    params = _params(name)
    assert len(params) >= 2, params  # an option of one command only would not be shared
    seen = {
        (tuple(p.opts), p.default, getattr(p, "help", None), repr(p.type.to_info_dict()))
        for p in params.values()
    }
    assert len(seen) == 1, seen


def test_the_commands_that_read_data_share_the_options() -> None:
    assert {"train", "learn", "build", "evaluate", "predict"} <= set(_params("engine"))
    assert {"train", "build", "evaluate", "explain", "predict"} <= set(_params("skip_missing"))
    assert {"train", "learn", "build", "evaluate", "explain", "predict", "inspect", "demo"} <= set(
        _params("as_json")
    )
    assert {"explain", "curves", "inspect"} <= set(_params("fmt"))
    assert {"train", "learn"} <= set(_params("tensorboard"))


def test_data_option_is_one_declaration_with_or_without_the_existence_check() -> None:
    params = _params("data")
    assert {"train", "learn", "build", "evaluate", "explain", "predict"} <= set(params)
    assert len({(tuple(p.opts), p.required, getattr(p, "help", None)) for p in params.values()}) == 1
    exists = {name for name, p in params.items() if p.type.exists}  # type: ignore[attr-defined]
    # train, evaluate and predict check the root themselves (their message shows the expected layout)
    assert {"build", "learn", "explain"} <= exists and not {"train", "evaluate", "predict"} & exists
