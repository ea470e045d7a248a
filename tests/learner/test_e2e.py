"""End to end on tiny synthetic data: build -> learn -> evaluate -> build --add-task, via the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from backpack.cli.main import cli
from backpack.store import Backpack


def _invoke(*args: str) -> dict:
    res = CliRunner().invoke(cli, list(args), catch_exceptions=False)  # click >= 8.2: stderr apart
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


def test_build_learn_evaluate_add_task(tiny_world: dict[str, Path], tmp_path: Path) -> None:
    from backpack.pipeline import evaluate_learner_run

    w = tiny_world
    bp = Backpack.open(w["store"], version="v1")
    assert sorted(bp.task_names) == ["ar", "lta", "pnr"]
    prov = bp.manifest.provenance
    assert len(prov.checkpoint_sha256) == 64 and prov.dataset_fingerprint and prov.feature_extractor
    assert bp.task("ar").dim == 16 and bp.task("ar").count == len(bp.task("ar").keys)

    out = _invoke(
        "learn",
        "--task",
        "oscc",
        "--data",
        str(w["data"]),
        "--from",
        str(w["mtl"]),
        "--store",
        f"{w['store']}@v1",
        "--out",
        str(tmp_path / "ego"),
        "--k",
        "2",
        "--epochs",
        "1",
        "--json",
    )
    assert out["store_version"] == 1 and 0 <= out["val"]["oscc"]["accuracy"] <= 100
    metrics = evaluate_learner_run(tmp_path / "ego", w["data"], device="cpu")
    assert metrics["oscc"]["accuracy"] == out["val"]["oscc"]["accuracy"]  # same weights, same store

    store2 = tmp_path / "store2"
    import shutil

    shutil.copytree(w["store"], store2)
    added = _invoke(
        "build",
        str(tmp_path / "ego"),
        "--data",
        str(w["data"]),
        "--store",
        str(store2),
        "--add-task",
        "oscc",
        "--json",
    )
    new = Backpack.open(store2, version=added["version"])
    assert sorted(new.task_names) == ["ar", "lta", "oscc", "pnr"]
    assert new.manifest.parent == 1
    for t in ("ar", "lta", "pnr"):  # inherited by reference, not rewritten
        assert new.manifest.tasks[t].path == bp.manifest.tasks[t].path
    assert new.task("oscc").dim == 16
    np.testing.assert_array_equal(new.task("oscc").keys, bp.task("ar").keys)


def test_k0_equals_no_backpack(tiny_world: dict[str, Path], tmp_path: Path) -> None:
    from backpack.backbone.graph import GraphBatch
    from backpack.data import Ego4DDataset
    from backpack.pipeline import learn_novel_task
    from backpack.pipeline.learner_runs import LearnConfig

    w = tiny_world
    runs = {}
    for name, cfg in (
        ("k0", LearnConfig(task="oscc", k=0, epochs=1, seed=3)),
        ("ft", LearnConfig(task="oscc", no_backpack=True, epochs=1, seed=3)),
    ):
        runs[name] = learn_novel_task(
            w["data"], w["mtl"], str(w["store"]), tmp_path / name, cfg, device="cpu", progress=False
        )
    a, b = (runs[n].model.state_dict() for n in ("k0", "ft"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    samples = runs["k0"].model.task.build_samples(Ego4DDataset(w["data"]), "val", train=False, seed=0)
    batch = GraphBatch.collate(samples)
    assert torch.equal(runs["k0"].model("oscc", batch)["state"], runs["ft"].model("oscc", batch)["state"])
    assert runs["k0"].metrics_history == [
        {**r, "seconds": runs["k0"].metrics_history[i]["seconds"]}
        for i, r in enumerate(runs["ft"].metrics_history)
    ]


def test_build_is_deterministic(tiny_world: dict[str, Path], tmp_path: Path) -> None:
    from backpack.data import Ego4DDataset
    from backpack.pipeline import load_run
    from backpack.pipeline.build import build_prototypes

    w = tiny_world
    build_prototypes(
        load_run(w["mtl"]), Ego4DDataset(w["data"]), str(tmp_path / "again"), progress=False, batch_size=7
    )  # another batching: the same sums
    a, b = Backpack.open(w["store"], version="v1"), Backpack.open(tmp_path / "again")
    for t in a.task_names:
        np.testing.assert_array_equal(a.task(t).keys, b.task(t).keys)
        np.testing.assert_array_equal(a.task(t).support, b.task(t).support)
        np.testing.assert_allclose(a.task(t).prototypes, b.task(t).prototypes, rtol=0, atol=1e-6)


def test_explain_writes_retrieval_pictures(tiny_world: dict[str, Path], tmp_path: Path) -> None:
    w = tiny_world
    _invoke(
        "learn",
        "--task",
        "oscc",
        "--data",
        str(w["data"]),
        "--from",
        str(w["mtl"]),
        "--store",
        str(w["store"]),
        "--out",
        str(tmp_path / "ego"),
        "--k",
        "2",
        "--epochs",
        "1",
        "--json",
    )
    files = _invoke(
        "explain", str(tmp_path / "ego"), "--data", str(w["data"]), "--out", str(tmp_path / "pics"), "--json"
    )["files"]
    assert sorted(Path(f).name for f in files) == [
        "retrieved_ar.png",
        "retrieved_lta.png",
        "retrieved_pnr.png",
    ]
    for f in files:
        assert Path(f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_build_streams_in_chunks_with_the_same_result(tiny_world: dict[str, Path]) -> None:
    from backpack.data import Ego4DDataset
    from backpack.pipeline import load_run
    from backpack.pipeline.build import accumulate, clip_chunks, heads_on_ar

    ds, model = Ego4DDataset(tiny_world["data"]), load_run(tiny_world["mtl"]).model
    clips = ds.action_clips("train")
    chunks = clip_chunks(clips, 5)
    assert len(chunks) > 1 and sum(map(len, chunks)) == len(clips)
    for a, b in zip(chunks, chunks[1:]):  # never a video clip cut in two
        assert a[-1].clip_uid != b[0].clip_uid
    dims = {t: h.feat_dim for t, h in model.heads.items()}
    whole = accumulate(ds, model, heads_on_ar(model), dims, chunk_actions=10**9, progress=False)
    small = accumulate(ds, model, heads_on_ar(model), dims, chunk_actions=5, progress=False)
    assert int(whole.counts.sum()) == len(clips) and torch.equal(whole.counts, small.counts)
    for t in dims:
        torch.testing.assert_close(whole.sums[t], small.sums[t], rtol=0, atol=1e-9)


def test_learner_run_files_are_checked_like_a_training_run(
    tiny_world: dict[str, Path], tmp_path: Path
) -> None:
    """load_learner_run shares load_run's checks: tampered weights, or no checksum for them, are refused."""
    import pytest

    from backpack.errors import RunError
    from backpack.pipeline import learn_novel_task, load_learner_run
    from backpack.pipeline.learner_runs import LearnConfig

    run = tmp_path / "ft"
    learn_novel_task(
        tiny_world["data"],
        tiny_world["mtl"],
        str(tiny_world["store"]),
        run,
        LearnConfig(task="oscc", no_backpack=True, epochs=1),
        device="cpu",
        progress=False,
    )
    assert load_learner_run(run).config.task == "oscc"
    weights = run / "weights.safetensors"
    original = weights.read_bytes()
    weights.write_bytes(original[:-1] + bytes([original[-1] ^ 0xFF]))
    with pytest.raises(RunError, match="'sha256'.*weights.safetensors"):
        load_learner_run(run)
    weights.write_bytes(original)
    info_path = run / "checkpoint.json"
    info = json.loads(info_path.read_text())
    del info["sha256"]["weights.safetensors"]
    info_path.write_text(json.dumps(info))
    with pytest.raises(RunError, match="an entry for weights.safetensors"):
        load_learner_run(run)


def test_explain_footers_name_the_run_and_store_not_their_paths(
    tiny_world: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backpack.pipeline import explain, figures
    from backpack.pipeline.learn import learn_novel_task
    from backpack.pipeline.learner_runs import LearnConfig

    w = tiny_world
    run = tmp_path / "ego"
    config = LearnConfig(task="oscc", epochs=1)
    learn_novel_task(w["data"], w["mtl"], f"{w['store']}@v1", run, config, device="cpu", progress=False)
    footers: list[str] = []
    real = figures.save

    def keep_footer(fig, *args, **kwargs):  # type: ignore[no-untyped-def]
        footers.append(fig.texts[-1].get_text())  # the footer is the figure's last text
        return real(fig, *args, **kwargs)

    monkeypatch.setattr(figures, "save", keep_footer)
    explain.explain_run(run, w["data"], tmp_path / "pics", device="cpu")
    assert footers and set(footers) == {"run ego   store store@1   split val"}
    assert all(str(tmp_path) not in f for f in footers)
