"""A small download in the real Ego4D layout, written from the documented schema as plain dicts.

Field names, nesting and null values follow EGO4D/docs ``docs/benchmarks/forecasting.md`` and
``docs/benchmarks/hands-and-objects.md`` and the real files' keys (see docs/design.md, Data): it is
not produced by backpack's own writer, so the loader is checked against the schema, not itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

TAXONOMY = {"verbs": ["take", "cut", "put"], "nouns": ["knife", "onion", "cup"]}
HEADER = {"version": "v1", "date": "211020", "description": "fixture written from the schema"}
DIM = 4


def lta_record(
    video: str, clip: str, idx: int, parent: int, start: int, end: int, labels: bool = True
) -> dict:
    """One action of ``fho_lta_*.json``: frames relative to the clip, the clip's parent frames."""
    rec: dict[str, Any] = {
        "video_uid": video,
        "clip_uid": clip,
        "clip_id": 7,
        "action_idx": idx,
        "clip_parent_start_sec": parent / 30,
        "clip_parent_end_sec": (parent + 2000) / 30,
        "clip_parent_start_frame": parent,
        "clip_parent_end_frame": parent + 2000,
        "interval_start_sec": 0.0,
        "interval_end_sec": 300.0,
        "interval_start_frame": 0,
        "interval_end_frame": 9000,
        "action_clip_start_sec": start / 30,
        "action_clip_end_sec": end / 30,
        "action_clip_start_frame": start,
        "action_clip_end_frame": end,
    }
    if labels:
        rec.update(verb="cut", noun="onion", verb_label=1, noun_label=1)
    return rec


def oscc_positive(uid: str, video: str, start: int, pnr: int, clip_uid: str | None = "clipB") -> dict:
    """A positive OSCC/PNR clip (8 s, 241 frames inclusive), ``parent_pnr_frame`` and ``clip_pnr_frame``."""
    return {
        "unique_id": uid,
        "video_uid": video,
        "clip_id": 11,
        "clip_uid": clip_uid,
        "clip_start_sec": 10.0,
        "clip_end_sec": 18.0,
        "clip_start_frame": 300,
        "clip_end_frame": 540,
        "parent_start_sec": start / 30,
        "parent_end_sec": (start + 240) / 30,
        "parent_start_frame": start,
        "parent_end_frame": start + 240,
        "state_change": True,
        "clip_pnr_frame": 300 + pnr - start,
        "parent_pnr_frame": pnr,
    }


def oscc_negative(uid: str, video: str, start: int, clip_uid: str | None = None) -> dict:
    """A negative as in the real files: no ``parent_pnr_frame``/``clip_pnr_frame``, ``pnr_frame`` null."""
    rec = oscc_positive(uid, video, start, start, clip_uid)
    for key in ("clip_pnr_frame", "parent_pnr_frame"):
        del rec[key]
    rec.update(state_change=False, pnr_frame=None)
    return rec


def oscc_test(uid: str, video: str, start: int) -> dict:
    """A test record: only unique_id, video_uid, clip_id and parent_* (no label, no clip_uid)."""
    return {
        k: v
        for k, v in oscc_positive(uid, video, start, start).items()
        if k in ("unique_id", "video_uid", "clip_id") or k.startswith("parent_") and "pnr" not in k
    }


def rows(n: int, seed: int = 0) -> np.ndarray:
    """Features whose first channel is the row index (to read back which row was sampled)."""
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    x[:, 0] = np.arange(n)
    return x


def _put(path: Path, split: str, clips: list[dict]) -> None:
    path.write_text(json.dumps({**HEADER, "split": split, "clips": clips}), encoding="utf-8")


def write_download(out: Path, version: str = "v1", features: str = "omnivore_video_swinl") -> Path:
    """``out/<version>/annotations`` + ``out/<version>/<features>``; returns ``out``.

    Videos: ``lta_a`` (AR/LTA train+val), ``oscc_b`` (OSCC/PNR train+val), ``lta_test_c`` and
    ``oscc_test_d`` (the test splits), ``unused_e`` (referenced by no clip).
    """
    import torch

    root = out / version
    ann = root / "annotations"
    ann.mkdir(parents=True)
    feats = root / features
    feats.mkdir()
    (ann / "fho_lta_taxonomy.json").write_text(json.dumps(TAXONOMY), encoding="utf-8")
    # 25 actions of 40 frames in one clip starting at parent frame 100
    lta = [lta_record("lta_a", "clipA", i, 100, 10 + 48 * i, 50 + 48 * i) for i in range(25)]
    _put(ann / "fho_lta_train.json", "train", lta)
    _put(ann / "fho_lta_val.json", "val", lta[:3])
    lta_test = [lta_record("lta_test_c", "clipC", i, 0, 48 * i, 48 * i + 40, labels=False) for i in range(23)]
    _put(ann / "fho_lta_test_unannotated.json", "test", lta_test)
    oscc = [
        oscc_positive("pos1", "oscc_b", 0, 100),
        oscc_negative("neg1", "oscc_b", 300),
        oscc_negative("neg2", "oscc_b", 600, clip_uid="clipB"),
    ]
    _put(ann / "fho_oscc-pnr_train.json", "train", oscc)
    _put(ann / "fho_oscc-pnr_val.json", "val", oscc)
    _put(ann / "fho_oscc-pnr_test_unannotated.json", "test", [oscc_test("t1", "oscc_test_d", 0)])
    # a real download holds every benchmark's files: one that no FHO task reads
    (ann / "nlq_train.json").write_text(json.dumps({**HEADER, "split": "train", "videos": []}))
    for name, n in (("lta_a", 120), ("oscc_b", 60), ("lta_test_c", 80), ("oscc_test_d", 20), ("unused_e", 9)):
        torch.save(torch.from_numpy(rows(n)), feats / f"{name}.pt")
    return out
