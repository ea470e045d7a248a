"""A small hand-made dataset in the real Ego4D layout, with LTA clips long enough for the official windows.

Written from the documented schema (EGO4D/docs ``docs/benchmarks/forecasting.md`` and
``hands-and-objects.md``), not from backpack's synthetic writer: LTA records with
``clip_parent_start_frame`` + clip-relative ``action_clip_*_frame``; OSCC/PNR records in parent
(canonical video) frames, negatives with ``pnr_frame: null``.
Features: one ``<video_uid>.npy`` [T, D] per video, one row per 16 frames. Labels follow the
feature values a little (a seeded offset per verb/noun), so a trained model is not constant.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

VERBS, NOUNS, DIM = ("take", "put", "cut", "open"), ("knife", "cup", "box", "lid", "pan"), 8
FPS = 30


def _lta_record(video: str, clip: str, idx: int, parent: int, start: int, verb: int, noun: int) -> dict:
    return {
        "video_uid": video,
        "clip_uid": clip,
        "clip_id": 0,
        "action_idx": idx,
        "clip_parent_start_sec": parent / FPS,
        "clip_parent_start_frame": parent,
        "action_clip_start_sec": start / FPS,
        "action_clip_end_sec": (start + 64) / FPS,
        "action_clip_start_frame": start,
        "action_clip_end_frame": start + 64,
        "verb": VERBS[verb],
        "noun": NOUNS[noun],
        "verb_label": verb,
        "noun_label": noun,
    }


def _oscc_record(uid: str, video: str, start: int, positive: bool, pnr: int) -> dict:
    rec = {
        "unique_id": uid,
        "video_uid": video,
        "clip_id": 1,
        "clip_uid": None,
        "parent_start_sec": start / FPS,
        "parent_end_sec": (start + 240) / FPS,
        "parent_start_frame": start,
        "parent_end_frame": start + 240,
        "state_change": positive,
    }
    if positive:
        rec.update(parent_pnr_frame=pnr, clip_pnr_frame=pnr - start)
    else:
        # the real files omit parent_pnr_frame on negatives; an explicit null is read the same way by
        # every loader version (the loader's own tests cover the omitted key)
        rec.update(pnr_frame=None, parent_pnr_frame=None)
    return rec


def write_handmade(root: Path, actions: dict[str, int] | None = None, seed: int = 0) -> Path:
    """Write the dataset under ``root`` and return it.

    ``actions``: split -> number of actions of each of its two LTA clips (default 25 in train, 24 in
    val: 4 and 3 official windows per clip with N = 2, Z = 20).
    """
    rng = np.random.default_rng(seed)
    actions = actions or {"train": 25, "val": 24}
    ann = root / "annotations"
    feats = root / "omnivore_video_swinl"
    ann.mkdir(parents=True)
    feats.mkdir()
    (ann / "fho_lta_taxonomy.json").write_text(json.dumps({"verbs": list(VERBS), "nouns": list(NOUNS)}))
    codes = rng.normal(size=(len(VERBS) + len(NOUNS), DIM))
    for split, n in actions.items():
        lta, oscc = [], []
        for c in range(2):
            video, clip = f"{split}-video-{c}", f"{split}-clip-{c}"
            rows = 12 + n * 6
            x = rng.normal(scale=0.5, size=(rows, DIM))
            for i in range(n):
                verb, noun = int(rng.integers(len(VERBS))), int(rng.integers(len(NOUNS)))
                start = 16 + i * 96  # clip-relative; the clip starts at parent frame 32
                lo = (32 + start) // 16
                x[lo : lo + 4] += codes[verb] + codes[len(VERBS) + noun]
                lta.append(_lta_record(video, clip, i, 32, start, verb, noun))
            np.save(feats / f"{video}.npy", x.astype(np.float32))
            for j in range(4):
                start = 48 + j * 256
                pnr = start + int(rng.integers(10, 230))
                oscc.append(_oscc_record(f"{split}-{c}-{j}", video, start, j % 2 == 0, pnr))
        rng.shuffle(lta)  # the official windows follow action_idx, not the file order
        for name, clips in ((f"fho_lta_{split}.json", lta), (f"fho_oscc-pnr_{split}.json", oscc)):
            body = {
                "version": "1",
                "date": "221214",
                "description": "hand-made",
                "split": split,
                "clips": clips,
            }
            (ann / name).write_text(json.dumps(body))
        if split == "val":  # the test files are the val clips with labels stripped as in the real ones
            _write_unannotated(ann, lta, oscc)
    return root


LTA_LABELS = ("verb", "noun", "verb_label", "noun_label")
OSCC_TEST_FIELDS = ("unique_id", "video_uid", "clip_id")


def _write_unannotated(ann: Path, lta: list[dict], oscc: list[dict]) -> None:
    stripped = {
        "fho_lta_test_unannotated.json": [{k: v for k, v in r.items() if k not in LTA_LABELS} for r in lta],
        "fho_oscc-pnr_test_unannotated.json": [
            {
                k: v
                for k, v in r.items()
                if k in OSCC_TEST_FIELDS or k.startswith("parent_") and "pnr" not in k
            }
            for r in oscc
        ],
    }
    for name, clips in stripped.items():
        body = {"version": "1", "date": "221214", "description": "hand-made", "split": "test", "clips": clips}
        (ann / name).write_text(json.dumps(body))
