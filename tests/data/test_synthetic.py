"""The synthetic generator: exact layout, determinism, and the planted cross-task structure."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backpack.data import SIZES, Ego4DDataset, generate_synthetic, sample_subsegments, write_synthetic
from backpack.data.layout import fingerprint
from backpack.errors import BackpackError, DataError


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_exact_layout(synth_root: Path) -> None:
    names = {str(p.relative_to(synth_root)) for p in synth_root.rglob("*") if p.is_file()}
    ann = {n for n in names if n.startswith("annotations/")}
    assert ann == {
        f"annotations/{f}"
        for f in (
            "fho_lta_taxonomy.json",
            "fho_lta_train.json",
            "fho_lta_val.json",
            "fho_oscc-pnr_train.json",
            "fho_oscc-pnr_val.json",
            "fho_lta_test_unannotated.json",
            "fho_oscc-pnr_test_unannotated.json",
        )
    }
    feats = names - ann
    assert feats and all(n.startswith("omnivore_video_swinl/") and n.endswith(".pt") for n in feats)


def test_same_seed_same_bytes_other_seed_differs(
    synth_root: Path, synth_ds: Ego4DDataset, tmp_path: Path
) -> None:
    again = write_synthetic(tmp_path / "again", seed=0)
    assert _tree(again) == _tree(synth_root)
    assert fingerprint(again) == fingerprint(synth_root)
    assert Ego4DDataset(again, cache_dir=tmp_path / "cache").fingerprint() == synth_ds.fingerprint()
    a, b = generate_synthetic(seed=0), generate_synthetic(seed=1)
    assert a.lta["train"] != b.lta["train"] and a.oscc["val"] != b.oscc["val"]
    assert not np.array_equal(a.world.verb_dirs, b.world.verb_dirs)


def test_in_memory_matches_files(synth_root: Path, synth_data: Any) -> None:
    for split in ("train", "val"):
        on_disk = json.loads((synth_root / f"annotations/fho_oscc-pnr_{split}.json").read_bytes())["clips"]
        assert on_disk == synth_data.oscc[split]
        assert len(synth_data.oscc_latent[split]) == len(on_disk)


def test_sizes_and_speed(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    data = generate_synthetic(seed=3)
    assert time.perf_counter() - t0 < 10
    cfg = SIZES["small"]
    assert len(data.lta["train"]) > 1200 and len(data.lta["val"]) > 250
    assert [len(data.oscc[s]) for s in ("train", "val")] == list(cfg.oscc_clips)
    assert len(data.world.verbs) == cfg.num_verbs and len(data.world.nouns) == cfg.num_nouns
    seconds = [v.frames / 30 for v in data.videos.values()]
    assert min(seconds) >= 120 and max(seconds) <= 240


def test_existing_folder_refused_and_untouched(tmp_path: Path) -> None:
    out = tmp_path / "data"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="already exists and is not empty"):
        write_synthetic(out)
    assert _tree(out) == {"keep.txt": b"mine"}


def test_failed_write_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_config: Any
) -> None:
    import torch

    calls = {"n": 0}
    real = torch.save

    def flaky(obj: Any, f: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError(28, "No space left on device")
        real(obj, f)

    monkeypatch.setattr(torch, "save", flaky)
    with pytest.raises(OSError):
        write_synthetic(tmp_path / "data", size=tiny_config)
    assert list(tmp_path.iterdir()) == []


def test_unknown_size() -> None:
    with pytest.raises(BackpackError, match="'size'.*'small' or 'medium'.*'huge'"):
        generate_synthetic(size="huge")


# --- the planted structure ---------------------------------------------------------------


def _segments(
    data: Any, split: str, centred: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    X, verbs, nouns, clips = [], [], [], []
    for r in data.lta[split]:
        f = data.videos[r["video_uid"]].feats
        s = r["clip_parent_start_frame"] + r["action_clip_start_frame"]
        e = r["clip_parent_start_frame"] + r["action_clip_end_frame"]
        X.append(sample_subsegments(f, s, e).mean(0) if centred else f[s // 16 : (e - 1) // 16 + 1].mean(0))
        verbs.append(r["verb_label"])
        nouns.append(r["noun_label"])
        clips.append(r["clip_uid"])
    return np.array(X), np.array(verbs), np.array(nouns), clips


def _ncm(Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, yte: np.ndarray) -> float:
    classes = np.unique(ytr)
    mu = np.stack([Xtr[ytr == c].mean(0) for c in classes])
    pred = classes[np.argmin(((Xte[:, None] - mu[None]) ** 2).sum(-1), axis=1)]
    return float((pred == yte).mean())


def test_verbs_and_nouns_are_latent_factors(synth_data: Any) -> None:
    Xt, vt, nt, _ = _segments(synth_data, "train", centred=False)
    Xv, vv, nv, _ = _segments(synth_data, "val", centred=False)
    verb_acc, noun_acc = _ncm(Xt, vt, Xv, vv), _ncm(Xt, nt, Xv, nv)
    chance_v, chance_n = 1 / len(synth_data.world.verbs), 1 / len(synth_data.world.nouns)
    assert 4 * chance_v < verb_acc < 0.95 and 4 * chance_n < noun_acc < 0.95
    # from 3 sampled sub-segments (the model's input) a single clip is clearly ambiguous
    Xt3, _, _, _ = _segments(synth_data, "train")
    Xv3, _, _, _ = _segments(synth_data, "val")
    assert 3 * chance_v < _ncm(Xt3, vt, Xv3, vv) < 0.9


def test_temporal_context_helps(synth_data: Any) -> None:
    # removing the per-video nuisance, estimated from the whole video (context), helps both factors
    def centred(split: str) -> np.ndarray:
        X = _segments(synth_data, split)[0]
        means = {uid: v.feats.mean(0) for uid, v in synth_data.videos.items()}
        return X - np.array([means[r["video_uid"]] for r in synth_data.lta[split]])

    Xt, vt, nt, _ = _segments(synth_data, "train")
    Xv, vv, nv, _ = _segments(synth_data, "val")
    Ct, Cv = centred("train"), centred("val")
    assert _ncm(Ct, vt, Cv, vv) > _ncm(Xt, vt, Xv, vv) + 0.03
    assert _ncm(Ct, nt, Cv, nv) > _ncm(Xt, nt, Xv, nv) + 0.03


def test_grammar_is_learnable(synth_data: Any) -> None:
    V, N = len(synth_data.world.verbs), len(synth_data.world.nouns)
    counts = np.zeros((V, V))
    same_noun = []
    recs = synth_data.lta["train"]
    for a, b in zip(recs, recs[1:]):
        if a["clip_uid"] == b["clip_uid"]:
            counts[a["verb_label"], b["verb_label"]] += 1
            same_noun.append(a["noun_label"] == b["noun_label"])
    next_verb_acc = counts.max(axis=1).sum() / counts.sum()
    assert next_verb_acc > 3 / V  # a sparse chain: the next verb is predictable
    assert 0.5 < np.mean(same_noun) < 0.85  # nouns persist for a few actions (not forever)
    assert N > 1


def test_state_change_is_a_function_of_verb_noun(synth_data: Any) -> None:
    cfg = synth_data.config
    for split in ("train", "val"):
        labels = np.array([r["state_change"] for r in synth_data.oscc[split]])
        latent = synth_data.oscc_latent[split]
        truth = np.array([synth_data.world.state_change[v, n] for v, n, _ in latent])
        assert np.array_equal(truth, [c for _, _, c in latent])
        agree = (labels == truth).mean()
        assert 1 - 3 * cfg.label_noise < agree < 1.0  # the rule, up to label noise
        assert 0.4 < labels.mean() < 0.6
        # not decided by the verb alone nor by the noun alone
        for axis in (0, 1):
            key = [lat[axis] for lat in latent]
            mixed = sum(len({t for k2, t in zip(key, truth) if k2 == k}) == 2 for k in set(key))
            assert mixed >= 2


def test_pnr_is_visible_in_the_features(synth_data: Any) -> None:
    s = synth_data.world.signature_dir
    hits = []
    for r in synth_data.oscc["train"]:
        if not r["state_change"]:
            continue
        f = synth_data.videos[r["video_uid"]].feats
        lo, hi = r["parent_start_frame"] // 16, min(len(f), r["parent_end_frame"] // 16 + 1)
        hits.append(lo + int(np.argmax(f[lo:hi] @ s)) == r["parent_pnr_frame"] // 16)
    assert 0.6 < np.mean(hits) < 0.95  # visible, but not trivially


def test_the_oscc_action_fills_most_of_its_window(synth_data: Any) -> None:
    cfg = synth_data.config
    lo, hi = (int(x * 30) for x in cfg.oscc_action_seconds)
    covered = []
    for r, (v, n, _) in zip(synth_data.oscc["train"], synth_data.oscc_latent["train"]):
        start, end = r["parent_start_frame"], r["parent_end_frame"]
        acts = [
            a
            for a in synth_data.videos[r["video_uid"]].actions
            if a.verb == v and a.noun == n and a.start >= start and a.end <= end + 30
        ]
        assert acts and all(lo <= a.end - a.start <= hi for a in acts)
        covered.append(max(min(a.end, end) - a.start for a in acts) / (end - start))
    assert np.mean(covered) > 0.6  # the decisive action dominates the 8 s clip, as in Ego4D
    assert lo < int(cfg.action_seconds[1] * 30)  # LTA videos keep their own, shorter actions


@pytest.mark.slow
def test_medium_size(tmp_path: Path) -> None:
    data = generate_synthetic(seed=0, size="medium")
    small = generate_synthetic(seed=0)
    ratio = len(data.lta["train"]) / len(small.lta["train"])
    assert 3 < ratio < 5 and data.config.dim == 256
    assert [len(data.oscc[s]) for s in ("train", "val")] == list(SIZES["medium"].oscc_clips)
