"""One-process behaviour of backpack.distributed: helpers, sharding, launcher command, --nproc."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from backpack.cli._nproc import command_argv, nproc_option
from backpack.cli.launch import WORKER_MODULE, read_failures, torchrun_command
from backpack.errors import ConfigError


def test_one_process_is_rank0_of_1(monkeypatch: pytest.MonkeyPatch) -> None:
    from backpack.distributed import env

    for var in env.TORCHRUN_VARS:
        monkeypatch.delenv(var, raising=False)
    assert (env.rank(), env.world_size(), env.is_main_process(), env.is_distributed()) == (0, 1, True, False)
    assert not env.under_torchrun()
    assert env.init_from_env() is False  # outside torchrun: nothing to join
    assert env.broadcast_object({"a": 1}) == {"a": 1}
    env.barrier()  # a no-op, not a hang


def test_shard_and_local_batch_split_evenly_and_cover_everything() -> None:
    from backpack.distributed import local_batch, shard

    items = list(range(11))
    parts = [shard(items, r, 3) for r in range(3)]
    assert sorted(sum(parts, [])) == items
    assert [len(p) for p in parts] == [4, 4, 3]
    assert shard(items) == items  # one process keeps everything
    batch = list(range(16))
    assert local_batch(batch, 0, 2) + local_batch(batch, 1, 2) == batch[0::2] + batch[1::2]
    assert len(local_batch(batch, 1, 2)) == 8


def test_reductions_are_identity_in_one_process() -> None:
    import torch

    from backpack.distributed import all_reduce_mean, all_reduce_sums, wrap_model

    sums = {"ar": torch.ones(3, 2, dtype=torch.float64)}
    counts = torch.tensor([1, 2, 3])
    all_reduce_sums(sums, counts)
    assert torch.equal(sums["ar"], torch.ones(3, 2, dtype=torch.float64)) and counts.tolist() == [1, 2, 3]
    assert all_reduce_mean({"ar": 2.5}) == {"ar": 2.5}
    model = torch.nn.Linear(2, 2)
    assert wrap_model(model) is model


def test_torchrun_command_runs_the_worker_on_loopback() -> None:
    cmd = torchrun_command(["build", "runs/x", "--store", "s"], 3, port=29999)
    assert cmd[1:3] == ["-m", "torch.distributed.run"]
    assert cmd[cmd.index("--nproc-per-node") + 1] == "3"
    assert cmd[cmd.index("--master-addr") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--master-port") + 1] == "29999"
    assert cmd[-6:] == ["-m", WORKER_MODULE, "build", "runs/x", "--store", "s"]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_torchrun_command_refuses_bad_nproc(bad: object) -> None:
    with pytest.raises(ConfigError, match="'nproc'"):
        torchrun_command(["build"], bad)  # type: ignore[arg-type]


def test_failures_are_read_earliest_first_and_bad_records_ignored(tmp_path: Path) -> None:
    (tmp_path / "rank00000.json").write_text(
        json.dumps({"rank": 0, "code": 1, "error": "peer gone", "time": 2.0})
    )
    (tmp_path / "rank00001.json").write_text(
        json.dumps({"rank": 1, "code": 2, "error": "bad input", "time": 1.0})
    )
    (tmp_path / "rank00002.json").write_text("{truncated")
    assert [r["rank"] for r in read_failures(tmp_path)] == [1, 0]


@click.command("demo-cmd")
@click.argument("run_dir")
@click.option("--store", required=True)
@click.option("--tag", default=None)
@click.option("--limit", "limits", multiple=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--lr", default=1e-3, type=float)
@nproc_option
def _demo(
    run_dir: str, store: str, tag: str | None, limits: tuple[str, ...], as_json: bool, lr: float
) -> None:
    click.echo(
        json.dumps(
            {
                "run": run_dir,
                "store": store,
                "tag": tag,
                "limits": list(limits),
                "json": as_json,
                "lr": lr,
                "argv": command_argv(click.get_current_context()),
            }
        )
    )


def test_command_argv_reproduces_the_parameters() -> None:
    res = CliRunner().invoke(
        _demo, ["r1", "--store", "s3://b/p", "--limit", "ar=3", "--limit", "oscc=2", "--json", "--lr", "0.5"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    again = CliRunner().invoke(_demo, out["argv"][1:])  # the argv a worker would get, without --nproc
    assert again.exit_code == 0, again.output
    assert {k: v for k, v in json.loads(again.output).items() if k != "argv"} == {
        k: v for k, v in out.items() if k != "argv"
    }
    assert "--nproc" not in out["argv"]


def test_nproc_option_validates_and_runs_in_process_for_one() -> None:
    res = CliRunner().invoke(_demo, ["r1", "--store", "s", "--nproc", "0"])
    assert res.exit_code == 2 and "--nproc" in res.output
    res = CliRunner().invoke(_demo, ["r1", "--store", "s", "--nproc", "1"])
    assert res.exit_code == 0 and json.loads(res.output)["run"] == "r1"
    assert "--nproc" in CliRunner().invoke(_demo, ["--help"]).output
