"""Multi-task training: learning happens, same seed same run, resume equals uninterrupted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from backpack.backbone import GraphBatch, dgl_available
from backpack.data import Ego4DDataset
from backpack.models.multitask import build_model
from backpack.pipeline import load_run, train_run
from backpack.pipeline import trainer as trainer_mod
from backpack.tasks import get_task

TASKS = ["ar", "lta", "oscc", "pnr"]


def metrics_lines(run: Path) -> list[dict]:
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    for r in rows:
        r.pop("seconds")  # wall time is the only thing allowed to differ
    return rows


def train_loss(model: torch.nn.Module, samples: dict[str, list]) -> float:
    model.eval()
    with torch.no_grad():
        return sum(
            float(get_task(t).loss(model(t, b), b))
            for t, s in samples.items()
            for b in [GraphBatch.collate(s)]
        ) / len(samples)


def test_training_lowers_the_loss_of_every_task(tiny_data: Path, tmp_path: Path) -> None:
    ds = Ego4DDataset(tiny_data)
    samples = {t: get_task(t).build_samples(ds, "train", train=True, seed=0) for t in TASKS}
    torch.manual_seed(0)
    model = build_model(TASKS, ds.taxonomy, ds.feature_dim, hidden=32, feat_dim=16, engine="native")
    before = {t: train_loss(model, {t: samples[t]}) for t in TASKS}
    history = trainer_mod.fit(
        model,
        model.tasks,
        samples,
        {},
        epochs=4,
        lr=3e-3,
        batch_size=8,
        seed=0,
        device="cpu",
        out_dir=tmp_path / "run",
        progress=False,
    )
    after = {t: train_loss(model, {t: samples[t]}) for t in TASKS}
    assert len(history) == 4 and history[-1]["loss"] < history[0]["loss"]
    for t in TASKS:
        assert after[t] < before[t], (t, before[t], after[t])


def test_run_folder_contents_and_history(tiny_run: Path) -> None:
    names = {p.name for p in tiny_run.iterdir()}
    assert {
        "config.json",
        "vocabulary.json",
        "weights.safetensors",
        "optimizer.safetensors",
        "metrics.jsonl",
        "checkpoint.json",
    } <= names
    assert not [n for n in names if ".tmp" in n]
    rows = metrics_lines(tiny_run)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert set(rows[-1]["val"]) == set(TASKS)
    assert set(rows[-1]["val"]["lta"]) == {"verb_ed", "noun_ed", "action_ed", "windows"}
    cfg = json.loads((tiny_run / "config.json").read_text())
    assert cfg["tasks"] == TASKS and cfg["in_dim"] == 32 and cfg["format_version"] == 1
    assert len(cfg["data_fingerprint"]) == 64


def test_same_seed_same_metrics_and_weights(
    tiny_kw: dict, tiny_data: Path, tiny_run: Path, tmp_path: Path
) -> None:
    train_run(
        tiny_data,
        "ar,lta,oscc,pnr",
        tmp_path / "again",
        epochs=2,
        seed=0,
        device="cpu",
        engine="native",
        progress=False,
        **tiny_kw,
    )
    assert metrics_lines(tmp_path / "again") == metrics_lines(tiny_run)
    a, b = load_run(tiny_run).model.state_dict(), load_run(tmp_path / "again").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_other_seed_other_run(tiny_kw: dict, tiny_data: Path, tiny_run: Path, tmp_path: Path) -> None:
    train_run(
        tiny_data,
        "oscc",
        tmp_path / "s1",
        epochs=1,
        seed=1,
        device="cpu",
        engine="native",
        progress=False,
        **tiny_kw,
    )
    assert (
        metrics_lines(tmp_path / "s1")[0]["train_loss"]["oscc"]
        != metrics_lines(tiny_run)[0]["train_loss"]["oscc"]
    )


def test_resume_after_a_kill_equals_uninterrupted(
    tiny_kw: dict, tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kw = dict(epochs=3, seed=0, device="cpu", engine="native", progress=False, **tiny_kw)
    train_run(tiny_data, "ar,pnr", tmp_path / "full", **kw)

    real_save = trainer_mod.save_checkpoint

    def save_then_die(out, model, opt, epoch, *a, **k):  # type: ignore[no-untyped-def]
        if epoch == 2:
            raise KeyboardInterrupt  # killed while writing epoch 2: only epoch 1 is on disk
        return real_save(out, model, opt, epoch, *a, **k)

    monkeypatch.setattr(trainer_mod, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train_run(tiny_data, "ar,pnr", tmp_path / "killed", **kw)
    monkeypatch.setattr(trainer_mod, "save_checkpoint", real_save)
    assert [r["epoch"] for r in metrics_lines(tmp_path / "killed")] == [1]

    run = train_run(tiny_data, "ar,pnr", tmp_path / "killed", resume=True, **kw)
    assert [r["epoch"] for r in run.metrics_history] == [1, 2, 3]
    assert metrics_lines(tmp_path / "killed") == metrics_lines(tmp_path / "full")
    a, b = load_run(tmp_path / "full").model.state_dict(), load_run(tmp_path / "killed").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_limit_trains_on_a_seeded_subset(tiny_kw: dict, tiny_data: Path, tmp_path: Path) -> None:
    run = train_run(
        tiny_data,
        "oscc",
        tmp_path / "few",
        epochs=1,
        seed=0,
        device="cpu",
        engine="native",
        progress=False,
        limit={"oscc": 8},
        **tiny_kw,
    )
    assert run.config.limit == {"oscc": 8}
    # 8 samples at batch 8: one step per epoch
    assert json.loads((tmp_path / "few" / "config.json").read_text())["limit"] == {"oscc": 8}


def test_mlp_baseline_trains(tiny_kw: dict, tiny_data: Path, tmp_path: Path) -> None:
    run = train_run(
        tiny_data,
        "ar",
        tmp_path / "mlp",
        epochs=1,
        seed=0,
        device="cpu",
        model="mlp",
        progress=False,
        **tiny_kw,
    )
    assert type(run.model.backbone).__name__ == "MLPBackbone"
    assert type(load_run(tmp_path / "mlp").model.backbone).__name__ == "MLPBackbone"


def test_resume_of_a_run_killed_before_its_first_checkpoint(
    tiny_kw: dict, tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kw = dict(epochs=1, seed=0, device="cpu", engine="native", progress=False, **tiny_kw)

    def die(*a, **k):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer_mod, "save_checkpoint", die)
    with pytest.raises(KeyboardInterrupt):
        train_run(tiny_data, "oscc", tmp_path / "r", **kw)
    monkeypatch.undo()
    assert not (tmp_path / "r" / "checkpoint.json").exists() and (tmp_path / "r" / "config.json").exists()
    run = train_run(tiny_data, "oscc", tmp_path / "r", resume=True, **kw)
    assert [r["epoch"] for r in run.metrics_history] == [1]
    train_run(tiny_data, "oscc", tmp_path / "fresh", **kw)
    assert metrics_lines(tmp_path / "r") == metrics_lines(tmp_path / "fresh")


@pytest.mark.dgl
@pytest.mark.skipif(not dgl_available(), reason="DGL is not importable here")
def test_dgl_trained_run_evaluates_the_same_on_the_native_engine(
    tiny_kw: dict, tiny_data: Path, tmp_path: Path
) -> None:
    from backpack.pipeline.evaluate import evaluate_run

    train_run(
        tiny_data,
        "ar,lta,oscc,pnr",
        tmp_path / "dgl",
        epochs=1,
        seed=0,
        device="cpu",
        engine="dgl",
        progress=False,
        **tiny_kw,
    )
    with_dgl = evaluate_run(tmp_path / "dgl", tiny_data, device="cpu", engine="dgl")
    native = evaluate_run(tmp_path / "dgl", tiny_data, device="cpu", engine="native")
    for task in with_dgl:
        assert native[task] == pytest.approx(with_dgl[task], abs=1e-3, nan_ok=True), task
