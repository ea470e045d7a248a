"""An Ego4D v1 FHO-sized dataset at a fraction of its size, in the layout backpack reads (for timing).

The demo's generator (``backpack.data.write_synthetic``) plants learnable structure and is capped at
its named verbs and nouns; sizing the stages needs the real counts, not the structure, so this
writer draws unstructured features (Gaussian, float16 as stored by most Ego4D feature dumps after
conversion) at Omnivore's rate and annotation records with the same fields as the generator's.

Counts at fraction 1 (``FULL``): 115 verbs, 478 nouns, 3,000 (verb, noun) pairs (the paper's
setting, about that many seen in AR train), OSCC v1 train 41,085 / val 28,348 clips (EgoPack's
asserts, half positive), LTA train 576 / val 432 videos of 4-6 minutes, one LTA clip each, an
action every 2.8-8 s (assumption: 48 h / 36 h of the 120 annotated v1 FHO hours; no official count
was found).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from backpack.data import layout
from backpack.data.sampling import FPS, FRAMES_PER_FEATURE

FULL = {"lta_videos": (576, 432), "oscc_clips": (41_085, 28_348), "verbs": 115, "nouns": 478, "pairs": 3000}
VIDEO_SECONDS = (240.0, 360.0)
ACTION_SECONDS, GAP_SECONDS = (2.5, 6.0), (0.3, 2.0)
OSCC_SECONDS, OSCC_PER_VIDEO = 8.0, 24  # 8 s windows, as many from one 5-minute video


def _uid(rng: np.random.Generator) -> str:
    h = rng.bytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _sec(frame: int) -> float:
    return round(frame / FPS, 3)


def _features(folder: Path, uid: str, frames: int, dim: int, rng: np.random.Generator) -> None:
    import torch

    t = math.ceil(frames / FRAMES_PER_FEATURE)
    x = rng.standard_normal((t, dim), dtype=np.float32).astype(np.float16)
    torch.save(torch.from_numpy(x), folder / f"{uid}.pt")


def _lta_video(
    uid: str, frames: int, pairs: np.ndarray, tax: dict[str, list[str]], rng: np.random.Generator
) -> list[dict[str, Any]]:
    records, t, idx = [], int(rng.uniform(*GAP_SECONDS) * FPS), 0
    while True:
        s, e = t, t + int(rng.uniform(*ACTION_SECONDS) * FPS)
        if e >= frames:
            return records
        v, n = (int(i) for i in pairs[rng.integers(len(pairs))])
        records.append(
            {
                "video_uid": uid,
                "clip_uid": f"{uid}_0",
                "action_idx": idx,
                "clip_parent_start_frame": 0,
                "clip_parent_start_sec": 0.0,
                "action_clip_start_frame": s,
                "action_clip_end_frame": e,
                "action_clip_start_sec": _sec(s),
                "action_clip_end_sec": _sec(e),
                "verb": tax["verbs"][v],
                "noun": tax["nouns"][n],
                "verb_label": v,
                "noun_label": n,
            }
        )
        t, idx = e + int(rng.uniform(*GAP_SECONDS) * FPS), idx + 1


def _oscc_video(
    uid: str, frames: int, count: int, positive: list[bool], rng: np.random.Generator
) -> list[Any]:
    length, records = int(OSCC_SECONDS * FPS), []
    for i in range(count):
        start = i * (frames // count)
        label = bool(positive.pop())
        pnr = start + int(rng.uniform(0.3, 0.7) * length) if label else None
        records.append(
            {
                "unique_id": f"{uid}_{start}",
                "video_uid": uid,
                "parent_start_frame": start,
                "parent_end_frame": start + length,
                "parent_start_sec": _sec(start),
                "parent_end_sec": _sec(start + length),
                "state_change": label,
                "parent_pnr_frame": pnr,
            }
        )
    return records


def write_scaled(root: Path, fraction: float, dim: int = 1536, seed: int = 0) -> dict[str, Any]:
    """Write the dataset at ``fraction`` of full size into the new folder ``root``: its counts."""
    rng = np.random.default_rng(seed)
    tax = {"verbs": [f"verb_{i:03d}" for i in range(FULL["verbs"])]}
    tax["nouns"] = [f"noun_{i:03d}" for i in range(FULL["nouns"])]
    flat = rng.choice(FULL["verbs"] * FULL["nouns"], size=FULL["pairs"], replace=False)
    pairs = np.stack([flat // FULL["nouns"], flat % FULL["nouns"]], axis=1)
    feats = root / layout.DEFAULT_FEATURES
    (root / layout.ANNOTATIONS).mkdir(parents=True)
    feats.mkdir()
    layout.taxonomy_file(root).write_text(json.dumps(tax))
    counts: dict[str, Any] = {"videos": 0}
    for split, full in zip(layout.STANDARD_SPLITS, FULL["lta_videos"]):
        records: list[dict[str, Any]] = []
        for _ in range(max(1, round(full * fraction))):
            uid, frames = _uid(rng), int(rng.uniform(*VIDEO_SECONDS) * FPS)
            records += _lta_video(uid, frames, pairs, tax, rng)
            _features(feats, uid, frames, dim, rng)
            counts["videos"] += 1
        body = {"version": "scaled", "split": split, "clips": records}
        layout.annotation_file(root, "lta", split).write_text(json.dumps(body))
        counts[f"lta_{split}_actions"] = len(records)
        counts[f"lta_{split}_pairs"] = len({(r["verb_label"], r["noun_label"]) for r in records})
    for split, full in zip(layout.STANDARD_SPLITS, FULL["oscc_clips"]):
        n = max(4, round(full * fraction))
        positive = list(rng.permutation([True] * (n // 2) + [False] * (n - n // 2)))
        records = []
        while positive:
            uid, frames = _uid(rng), int(rng.uniform(*VIDEO_SECONDS) * FPS)
            records += _oscc_video(uid, frames, min(OSCC_PER_VIDEO, len(positive)), positive, rng)
            _features(feats, uid, frames, dim, rng)
            counts["videos"] += 1
        body = {"version": "scaled", "split": split, "clips": records}
        layout.annotation_file(root, "oscc", split).write_text(json.dumps(body))
        counts[f"oscc_{split}_clips"] = len(records)
    return counts
