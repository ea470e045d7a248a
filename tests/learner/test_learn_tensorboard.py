"""`learn --tensorboard DIR` writes, per epoch, the numbers of its metrics.jsonl (fake SummaryWriter)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from backpack.cli.main import cli
from tests.training.test_tensorboard import FakeWriter, _expected, fake_tensorboard  # noqa: F401


def test_learn_writes_the_scalars_of_metrics_jsonl(
    tiny_world: dict[str, Path],
    tmp_path: Path,
    fake_tensorboard: type[FakeWriter],  # noqa: F811
) -> None:
    out = tmp_path / "oscc"
    args = ["learn", "--task", "oscc", "--data", str(tiny_world["data"]), "--from", str(tiny_world["mtl"])]
    args += ["--store", f"{tiny_world['store']}@v1", "--out", str(out), "--epochs", "2"]
    r = CliRunner().invoke(cli, [*args, "--tensorboard", str(tmp_path / "tb"), "--quiet"])
    assert r.exit_code == 0, r.stderr
    (writer,) = fake_tensorboard.made
    expected = _expected(out / "metrics.jsonl")
    assert {s for _, _, s in expected} == {1, 2} and ("loss/oscc", expected[1][1], 1) in expected
    assert writer.scalars == expected and writer.closed
