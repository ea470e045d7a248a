"""2 processes (torchrun, gloo, CPU) vs 1: training with the same global batch, and the prototype build.

(a) ``build_prototypes`` on 2 ranks (sharded forwarding + all-reduce of float64 sums/counts) gives the
    prototypes of a 1-process build of the same run within 1e-6.
(b) ``train_run`` on 2 ranks (DDP, each rank half of every global batch of 8) follows the 1-process
    run: with dropout 0 the only difference is float rounding, so we state tolerances of 1e-3 on
    every training loss and 0.02 (absolute) on every validation metric, and 1e-3 on the weights.
(c) Ranks other than 0 write nothing: ``_distjob.py`` installs an audit hook on them that crashes the
    rank on any write under the run folder or the store (which would fail the job).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from tests.distributed._distjob import TRAIN_OPTIONS  # noqa: E402

LOSS_TOL = 1e-3
METRIC_TOL = 0.02
WEIGHT_TOL = 1e-3
PROTO_TOL = 1e-6


@pytest.fixture(scope="module")
def two_proc(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory, torchrun) -> dict:  # type: ignore[no-untyped-def]
    """One torchrun job (2 ranks): train a run, then build its prototypes into a fresh store."""
    root = tmp_path_factory.mktemp("two-proc")
    paths = {"out": root / "result", "run": root / "run", "store": root / "store"}
    rc = torchrun("train_build", paths["out"], tiny_data, paths["run"], paths["store"])
    assert rc == 0, "the 2-process job failed (see its stderr above)"
    return {**paths, "result": json.loads((paths["out"] / "result.json").read_text())}


@pytest.fixture(scope="module")
def one_proc(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The same training in this process (no process group)."""
    from backpack.pipeline.train import train_run

    run_dir = tmp_path_factory.mktemp("one-proc") / "run"
    run = train_run(tiny_data, "ar,oscc", run_dir, progress=False, **TRAIN_OPTIONS)
    return {"run": run_dir, "history": run.metrics_history}


def _weights(run_dir: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(run_dir / "weights.safetensors"))


def test_two_processes_train_like_one(two_proc: dict, one_proc: dict) -> None:
    h2, h1 = two_proc["result"]["history"], one_proc["history"]
    assert two_proc["result"]["world_size"] == 2
    assert [r["epoch"] for r in h2] == [r["epoch"] for r in h1] == [1, 2]
    for r2, r1 in zip(h2, h1):
        for task, loss in r1["train_loss"].items():
            assert abs(r2["train_loss"][task] - loss) <= LOSS_TOL * max(1.0, abs(loss)), (task, r2, r1)
        assert set(r2["val"]) == set(r1["val"]) and r1["val"]
        for task, metrics in r1["val"].items():
            for name, value in metrics.items():
                assert abs(r2["val"][task][name] - value) <= METRIC_TOL, (task, name, r2["val"], r1["val"])
    w2, w1 = _weights(two_proc["run"]), _weights(one_proc["run"])
    assert set(w2) == set(w1)
    worst = max(float(np.abs(w2[k] - w1[k]).max()) for k in w1)
    assert worst <= WEIGHT_TOL, worst


def test_the_run_folder_written_by_rank0_is_complete(two_proc: dict, one_proc: dict) -> None:
    from backpack.pipeline.runs import load_run

    names2 = sorted(p.name for p in two_proc["run"].iterdir())
    assert names2 == sorted(p.name for p in one_proc["run"].iterdir())
    assert not [n for n in names2 if "tmp" in n]
    assert load_run(two_proc["run"]).epoch == 2
    lines = (two_proc["run"] / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2  # one writer: no epoch recorded twice


@pytest.fixture(scope="module")
def one_proc_store(two_proc: dict, tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The prototypes of the 2-process run, built in this one process."""
    from backpack.data import Ego4DDataset
    from backpack.pipeline.build import build_prototypes
    from backpack.pipeline.runs import load_run

    store = tmp_path_factory.mktemp("one-proc-build") / "store"
    assert (
        build_prototypes(load_run(two_proc["run"]), Ego4DDataset(tiny_data), str(store), progress=False) == 1
    )
    return store


def _assert_same_prototypes(bp1, bp2) -> None:  # type: ignore[no-untyped-def]
    assert bp2.task_names == bp1.task_names == ["ar", "oscc"]
    for task in bp1.task_names:
        t1, t2 = bp1.task(task), bp2.task(task)
        np.testing.assert_array_equal(t2.keys, t1.keys)
        np.testing.assert_array_equal(t2.support, t1.support)
        np.testing.assert_allclose(t2.prototypes, t1.prototypes, rtol=0, atol=PROTO_TOL)


def test_two_process_build_matches_one_process(two_proc: dict, one_proc_store: Path) -> None:
    from backpack.store import Backpack

    bp1, bp2 = Backpack.open(one_proc_store), Backpack.open(two_proc["store"], version="dist")
    assert two_proc["result"]["version"] == bp2.version == 1
    _assert_same_prototypes(bp1, bp2)
    clips = bp2.manifest.provenance.extra["clips"]
    assert clips == bp1.manifest.provenance.extra["clips"] == int(bp1.task("ar").support.sum())


def test_cli_build_with_nproc_2(
    two_proc: dict, one_proc_store: Path, tiny_data: Path, tmp_path: Path, job_env: dict[str, str]
) -> None:
    """``backpack build --nproc 2``: torchrun, the worker, one JSON document, the same prototypes."""
    import subprocess
    import sys

    from backpack.store import Backpack

    store = tmp_path / "cli-store"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "backpack.cli.main",
            "build",
            str(two_proc["run"]),
            "--data",
            str(tiny_data),
            "--store",
            str(store),
            "--tag",
            "cli",
            "--nproc",
            "2",
            "--json",
        ],
        env=job_env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout) == {
        "store": str(store),
        "version": 1,
        "tag": "cli",
        "added_task": None,
        "skipped": False,
    }
    _assert_same_prototypes(Backpack.open(one_proc_store), Backpack.open(store, version="cli"))
