"""Bad input to the learner: each case a clear error (and exit code 2 through the CLI)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from backpack.cli.main import cli
from backpack.errors import StoreError
from backpack.store import Backpack


def _store(path: Path, vocab: Backpack, tasks: dict[str, tuple[int, int]], seed: int = 0) -> str:
    """A store with the vocabulary of ``vocab`` and random prototypes {task: (count, dim)}."""
    rng = np.random.default_rng(seed)
    bp = Backpack.create(path, verbs=list(vocab.verbs), nouns=list(vocab.nouns))
    with bp.new_version(message="test") as v:
        for name, (count, dim) in tasks.items():
            keys = np.array(
                [(i % len(vocab.verbs), i // len(vocab.verbs)) for i in range(count)], dtype=np.int32
            )
            v.add_task(
                name, rng.standard_normal((count, dim)).astype(np.float32), keys, np.ones(count, np.int64)
            )
    return str(path)


def _learn(w: dict[str, Path], store: str, out: Path, *extra: str) -> tuple[int, str]:
    res = CliRunner().invoke(
        cli,
        [
            "learn",
            "--task",
            "oscc",
            "--data",
            str(w["data"]),
            "--from",
            str(w["mtl"]),
            "--store",
            store,
            "--out",
            str(out),
            "--epochs",
            "1",
            *extra,
        ],
    )
    return res.exit_code, res.stderr


@pytest.mark.parametrize(
    "tasks,extra,match",
    [
        ({"oscc": (8, 16)}, (), r"'oscc' is already in the backpack.*--replace"),
        ({"other": (8, 16)}, (), r"none of the run's tasks.*\['ar', 'lta', 'pnr'\].*\['other'\]"),
        ({"ar": (8, 16), "other": (8, 16)}, (), r"no head for the store task\(s\) \['other'\]"),
        (
            {"ar": (8, 12)},
            (),
            r"task 'ar'.*Expected 16 \(the run's head feature dim\). Got 12 \(prototype dim\)",
        ),
        ({"ar": (3, 16)}, ("--k", "4"), r"'ar' has 3 prototypes, fewer than k = 4"),
    ],
    ids=["novel-already-in-backpack", "no-common-task", "run-lacks-head", "dim-mismatch", "k-too-large"],
)
def test_learn_refuses(
    tiny_world: dict[str, Path], tmp_path: Path, tasks: dict, extra: tuple, match: str
) -> None:
    store = _store(tmp_path / "s", Backpack.open(tiny_world["store"]), tasks)
    code, err = _learn(tiny_world, store, tmp_path / "out", *extra)
    assert code == 2
    assert re.search(match, err), err
    assert not (tmp_path / "out" / "weights.safetensors").exists()


def test_replace_learns_a_task_already_in_the_backpack(tiny_world: dict[str, Path], tmp_path: Path) -> None:
    store = _store(tmp_path / "s", Backpack.open(tiny_world["store"]), {"ar": (8, 16), "oscc": (8, 16)})
    code, err = _learn(tiny_world, store, tmp_path / "out", "--replace", "--k", "2")
    assert code == 0, err
    cfg = json.loads((tmp_path / "out" / "learner.json").read_text())
    assert cfg["store_tasks"] == ["ar"] and cfg["replace"] is True


def test_learn_without_store_needs_no_backpack(tiny_world: dict[str, Path], tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli,
        [
            "learn",
            "--task",
            "oscc",
            "--data",
            str(tiny_world["data"]),
            "--from",
            str(tiny_world["mtl"]),
            "--out",
            str(tmp_path / "o"),
            "--epochs",
            "1",
        ],
    )
    assert res.exit_code == 2 and "--no-backpack" in res.stderr


def test_build_refuses_store_with_other_vocabulary(tiny_world: dict[str, Path], tmp_path: Path) -> None:
    from backpack.data import Ego4DDataset
    from backpack.pipeline import load_run
    from backpack.pipeline.build import build_prototypes

    Backpack.create(tmp_path / "s", verbs=["a", "b"], nouns=["x"])
    with pytest.raises(StoreError, match=r"vocabulary 'verbs'.*Expected 4 verbs.*Got 2 verbs"):
        build_prototypes(
            load_run(tiny_world["mtl"]), Ego4DDataset(tiny_world["data"]), str(tmp_path / "s"), progress=False
        )


def test_build_add_task_needs_a_learner_run(tiny_world: dict[str, Path], tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli,
        [
            "build",
            str(tiny_world["mtl"]),
            "--data",
            str(tiny_world["data"]),
            "--store",
            str(tmp_path / "s"),
            "--add-task",
            "oscc",
        ],
    )
    assert res.exit_code == 2 and "multi-task run" in res.stderr
    assert not (tmp_path / "s").exists() or not Backpack.open(tmp_path / "s").versions()


def test_evaluate_refuses_a_changed_store_unless_asked(tiny_world: dict[str, Path], tmp_path: Path) -> None:
    from backpack.pipeline import evaluate_learner_run

    store = tmp_path / "s"
    shutil.copytree(tiny_world["store"], store)
    code, err = _learn(tiny_world, str(store), tmp_path / "run", "--k", "2")
    assert code == 0, err
    # the same path and version number, other prototypes: not what the run was trained with
    shutil.rmtree(store)
    _store(store, Backpack.open(tiny_world["store"]), {"ar": (8, 16), "lta": (8, 16), "pnr": (8, 16)}, seed=5)
    with pytest.raises(StoreError, match=r"not the one run .* was trained with.*--store"):
        evaluate_learner_run(tmp_path / "run", tiny_world["data"], device="cpu")
    metrics = evaluate_learner_run(tmp_path / "run", tiny_world["data"], device="cpu", store=str(store))
    assert 0 <= metrics["oscc"]["accuracy"] <= 100


def test_learn_from_a_learn_run_says_from_takes_a_train_run(
    tiny_world: dict[str, Path], tmp_path: Path
) -> None:
    common = ["--task", "oscc", "--data", str(tiny_world["data"]), "--epochs", "1", "--no-backpack"]
    first = CliRunner().invoke(
        cli, ["learn", *common, "--from", str(tiny_world["mtl"]), "--out", str(tmp_path / "a")]
    )
    assert first.exit_code == 0, first.output
    res = CliRunner().invoke(
        cli, ["learn", *common, "--from", str(tmp_path / "a"), "--out", str(tmp_path / "b")]
    )
    assert res.exit_code == 2
    assert "'--from'" in res.stderr and "run of `backpack train`" in res.stderr, res.stderr
    assert not (tmp_path / "b").exists()


def test_one_load_run_and_one_evaluate_for_both_kinds(tiny_world: dict[str, Path], tmp_path: Path) -> None:
    from backpack.errors import ConfigError
    from backpack.pipeline import LearnConfig, evaluate_run, learn_novel_task, load_run

    store_ref = str(tiny_world["store"]) + "@v1"
    learn_novel_task(
        tiny_world["data"],
        tiny_world["mtl"],
        store_ref,
        tmp_path / "l",
        LearnConfig("oscc", epochs=1),
        device="cpu",
        progress=False,
    )
    mtl, learned = load_run(tiny_world["mtl"]), load_run(tmp_path / "l")
    assert (mtl.kind, learned.kind) == ("train", "learn")
    assert learned.model_config == mtl.model_config == mtl.config  # the learn run's base shapes its model
    assert learned.store is not None and learned.store.version == 1
    assert set(evaluate_run(tmp_path / "l", tiny_world["data"], device="cpu")) == {"oscc"}
    with pytest.raises(ConfigError, match="applies only to runs of `backpack learn`"):
        evaluate_run(tiny_world["mtl"], tiny_world["data"], device="cpu", store=str(tiny_world["store"]))
