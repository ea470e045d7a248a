"""Graph builders of every registered task on tiny synthetic data: shapes, edges, labels, units, loss."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from backpack.backbone import GraphBatch
from backpack.data import Ego4DDataset
from backpack.errors import ConfigError
from backpack.tasks import get_task, list_tasks
from backpack.tasks.base import clear_sample_cache

N_NODES = {"ar": None, "lta": 22, "oscc": 4, "pnr": 16}


@pytest.fixture(scope="module")
def ds(tiny_data: Path) -> Ego4DDataset:
    return Ego4DDataset(tiny_data)


@pytest.fixture(scope="module")
def long_ds(tmp_path_factory: pytest.TempPathFactory) -> Ego4DDataset:
    """Hand-made data whose LTA clips are long enough for the official evaluation windows."""
    from tests.tasks.handmade import write_handmade

    return Ego4DDataset(write_handmade(tmp_path_factory.mktemp("long") / "data"))


def _data_for(name: str, ds: Ego4DDataset, long_ds: Ego4DDataset) -> Ego4DDataset:
    return long_ds if name == "lta" else ds


@pytest.mark.parametrize("name", list_tasks())
def test_samples_shapes_and_edges(ds: Ego4DDataset, long_ds: Ego4DDataset, name: str) -> None:
    ds = _data_for(name, ds, long_ds)
    task = get_task(name)
    for train in (True, False):
        samples = task.build_samples(ds, "train" if train else "val", train=train, seed=0)
        assert samples, name
        for s in samples:
            n = s.num_nodes
            assert s.x.shape[1:] == (3, ds.feature_dim) and s.x.dtype == torch.float32
            assert N_NODES[name] in (None, n)
            assert s.edges.shape[0] == 2 and s.edges.shape[1] > 0 and (s.edges[0] != s.edges[1]).all()
            assert torch.equal(s.pos, torch.arange(n))


@pytest.mark.parametrize("name", list_tasks())
def test_units_targets_loss_and_evaluate(ds: Ego4DDataset, long_ds: Ego4DDataset, name: str) -> None:
    ds = _data_for(name, ds, long_ds)
    task = get_task(name)
    samples = task.build_samples(ds, "val", train=False, seed=0)[:5]
    batch = GraphBatch.collate(samples)
    torch.manual_seed(0)
    h = torch.randn(batch.num_nodes, 8, requires_grad=True)
    units = task.units(batch, h)
    targets = task.targets(batch)
    rows = {
        "ar": int(batch.labels["mask"].sum()) if name == "ar" else None,
        "lta": len(samples) * 20,
        "oscc": len(samples),
        "pnr": len(samples) * 16,
    }
    assert units.shape == (rows[name] or units.shape[0], 8)
    assert all(v.shape[0] == units.shape[0] for v in targets.values())
    outputs = task.outputs(type("Tax", (), {"verbs": ds.taxonomy.verbs, "nouns": ds.taxonomy.nouns}))
    heads = {k: torch.nn.Linear(8, c) for k, c in outputs.items()}
    logits = {k: lin(units) for k, lin in heads.items()}
    loss = task.loss(logits, batch)
    loss.backward()
    assert torch.isfinite(loss) and h.grad is not None and h.grad.abs().sum() > 0

    proj = torch.nn.Linear(ds.feature_dim, 8)

    class Fixed(torch.nn.Module):  # a deterministic per-node model: results cannot depend on batching
        def forward(self, t: str, b: GraphBatch) -> dict[str, torch.Tensor]:
            return {k: lin(task.units(b, proj(b.x.mean(1)))) for k, lin in heads.items()}

    metrics = task.evaluate(Fixed(), samples, batch_size=2)
    assert set(task.metric_names) <= set(metrics) and all(isinstance(v, float) for v in metrics.values())
    assert set(metrics) == set(task.empty_scores())  # counts (LTA windows, PNR clips and fps) included
    # batch size does not change the result, and metrics() scores what evaluate() collected
    assert task.evaluate(Fixed(), samples, batch_size=len(samples)) == pytest.approx(metrics, nan_ok=True)
    assert task.evaluate(Fixed(), []) == pytest.approx(task.empty_scores(), nan_ok=True)
    assert all(math.isnan(task.evaluate(Fixed(), [])[m]) for m in task.metric_names)


@pytest.mark.parametrize("name", list_tasks())
def test_training_sampling_is_seeded_and_eval_is_centred(ds: Ego4DDataset, name: str) -> None:
    task = get_task(name)
    clear_sample_cache()
    a = task.build_samples(ds, "train", train=True, seed=0)
    clear_sample_cache()
    b = task.build_samples(ds, "train", train=True, seed=0)
    c = task.build_samples(ds, "train", train=True, seed=5)
    assert all(torch.equal(x.x, y.x) for x, y in zip(a, b))
    if name != "pnr":  # PNR nodes of 8 s clips span < 16 frames = one feature: nothing to sample
        assert any(not torch.equal(x.x, y.x) for x, y in zip(a, c))
    e1 = task.build_samples(ds, "train", train=False, seed=0)
    e2 = task.build_samples(ds, "train", train=False, seed=9)
    assert all(torch.equal(x.x, y.x) for x, y in zip(e1, e2))


def test_samples_are_cached_per_dataset(ds: Ego4DDataset) -> None:
    task = get_task("oscc")
    first = task.build_samples(ds, "val", train=False, seed=0)
    again = task.build_samples(ds, "val", train=False, seed=0)
    assert first is not again and all(x is y for x, y in zip(first, again))


def test_limit_keeps_a_seeded_subset(ds: Ego4DDataset) -> None:
    task = get_task("oscc")
    full = task.build_samples(ds, "train", train=True, seed=0)
    few = task.build_samples(ds, "train", train=True, seed=0, limit=5)
    assert len(few) == 5 and all(any(f is s for s in full) for f in few)
    other = task.build_samples(ds, "train", train=True, seed=1, limit=5)
    assert [id(x) for x in other] != [id(x) for x in few]
    assert len(task.build_samples(ds, "train", train=True, seed=0, limit=10_000)) == len(full)
    with pytest.raises(ConfigError, match="'limit'"):
        task.build_samples(ds, "train", train=True, seed=0, limit=0)


def test_ar_evaluates_every_action_once(ds: Ego4DDataset) -> None:
    samples = get_task("ar").build_samples(ds, "val", train=False, seed=0)
    assert sum(int(s.labels["mask"].sum()) for s in samples) == len(ds.action_clips("val"))
    train = get_task("ar").build_samples(ds, "train", train=True, seed=0)
    assert all(bool(s.labels["mask"].all()) for s in train)


def test_lta_future_nodes_and_labels(ds: Ego4DDataset) -> None:
    # training windows (as few as 10 future actions, padded); the official evaluation windows are
    # tested on long hand-made clips in test_official_metrics.py
    samples = get_task("lta").build_samples(ds, "train", train=True, seed=0)
    edges = samples[0].edges
    for s in samples:
        assert torch.equal(s.edges, edges)  # edges never depend on labels
        assert torch.allclose(s.x[2:], s.x[:2].mean(0, keepdim=True).expand(20, -1, -1))
        assert s.labels["mask"].tolist() == [False] * 2 + [True] * 20
        fut = s.labels["verb"][2:]
        labelled = fut != -100
        assert labelled[:10].all()  # at least 10 future actions
        assert not (labelled[1:] & ~labelled[:-1]).any()  # padding only at the end
    # the observed and future labels follow the clip's actions in order
    actions = [a for a in ds.action_clips("train")]
    first_clip = [a for a in actions if a.clip_uid == actions[0].clip_uid]
    first_clip.sort(key=lambda a: (a.start_frame, a.action_idx))
    n = min(22, len(first_clip))
    assert samples[0].labels["verb"][:n].tolist() == [a.verb for a in first_clip[:n]]


def test_pnr_target_is_the_node_whose_start_is_nearest_the_pnr_frame(ds: Ego4DDataset) -> None:
    from backpack.tasks.metrics import pnr_target_node

    clips = [c for c in ds.state_clips("val") if c.state_change]
    samples = get_task("pnr").build_samples(ds, "val", train=False, seed=0)
    assert len(samples) == len(clips)
    for clip, s in zip(clips, samples):
        assert float(s.labels["pnr"].sum()) == 1.0
        node = int(s.labels["pnr"].argmax())
        assert node == pnr_target_node(clip.start_frame, clip.end_frame, clip.pnr_frame, 16)
        width = (clip.end_frame - clip.start_frame) / 16
        assert abs(float(s.labels["placed"][node]) - clip.pnr_frame) <= width / 2  # nearest start


def test_oscc_labels(ds: Ego4DDataset) -> None:
    samples = get_task("oscc").build_samples(ds, "val", train=False, seed=0)
    assert [int(s.labels["state"]) for s in samples] == [int(c.state_change) for c in ds.state_clips("val")]


def test_limited_evaluation_subsets_depend_on_the_seed(ds: Ego4DDataset) -> None:
    task = get_task("oscc")
    a = task.build_samples(ds, "val", train=False, seed=0, limit=4)
    b = task.build_samples(ds, "val", train=False, seed=1, limit=4)
    assert [id(x) for x in a] != [id(x) for x in b]
    assert [id(x) for x in a] == [id(x) for x in task.build_samples(ds, "val", train=False, seed=0, limit=4)]
