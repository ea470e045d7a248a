"""Assembling a synthetic dataset: videos, LTA clips and balanced OSCC/PNR windows (in memory)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from backpack.data.sampling import FPS, FRAMES_PER_FEATURE
from backpack.data.synthetic import (
    OSCC_SECONDS,
    Action,
    SyntheticConfig,
    Video,
    World,
    make_video,
    make_world,
    size_config,
)

# each split draws from its own stream, so that growing one split never changes another
_STREAMS = {
    "world": 0,
    "lta_train": 1,
    "lta_val": 2,
    "oscc_train": 3,
    "oscc_val": 4,
    "lta_test": 5,
    "oscc_test": 6,
}
# Ego4D's canonical videos are cut into 5-minute clips (clip_uid, clip_id); the OSCC clip_* frames
# count from the start of that clip
CLIP_FRAMES = 5 * 60 * FPS
# the fields a *_test_unannotated.json keeps (EGO4D/docs; the real test files hold only these)
LTA_TEST_DROP = ("verb", "noun", "verb_label", "noun_label")
OSCC_TEST_KEEP = ("unique_id", "video_uid", "clip_id", "parent_start_sec", "parent_end_sec")
OSCC_TEST_KEEP += ("parent_start_frame", "parent_end_frame")


@dataclass
class SyntheticData:
    """A generated dataset before it is written: annotation records, features and the latents.

    ``oscc_latent[split][i]`` is ``(verb, noun, true_state_change)`` of ``oscc[split][i]``: the
    annotation files do not hold them (as in Ego4D), tests and analyses do. The ``"test"`` split
    keeps its labels here; the writer strips them (:func:`strip_labels`).
    """

    config: SyntheticConfig
    world: World
    lta: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    oscc: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    oscc_latent: dict[str, list[tuple[int, int, bool]]] = field(default_factory=dict)
    videos: dict[str, Video] = field(default_factory=dict)

    @property
    def taxonomy(self) -> dict[str, list[str]]:
        return {"verbs": list(self.world.verbs), "nouns": list(self.world.nouns)}


def _sec(frame: int) -> float:
    return round(frame / FPS, 3)


def _lta_records(
    video: Video, rng: np.random.Generator, world: World, min_actions: int
) -> list[dict[str, Any]]:
    """Ego4D LTA clips: one clip per video, or two when each half holds ``min_actions``."""
    acts = video.actions
    cut = len(acts) // 2 if len(acts) // 2 >= max(min_actions, 12) else len(acts)
    records = []
    for part, chunk in enumerate((acts[:cut], acts[cut:])):
        if not chunk:
            continue
        clip_start = max(0, chunk[0].start - int(rng.integers(0, 60)))
        clip_end = min(video.frames, chunk[-1].end + 30)
        clip_uid = f"{video.uid}_{part}"
        for idx, a in enumerate(chunk):
            s, e = a.start - clip_start, a.end - clip_start
            records.append(
                {
                    "video_uid": video.uid,
                    "clip_uid": clip_uid,
                    "clip_id": _clip_id(video.uid, part),
                    "action_idx": idx,
                    "clip_parent_start_sec": _sec(clip_start),
                    "clip_parent_end_sec": _sec(clip_end),
                    "clip_parent_start_frame": clip_start,
                    "clip_parent_end_frame": clip_end,
                    # synthetic: the annotated interval is the whole clip
                    "interval_start_sec": 0.0,
                    "interval_end_sec": _sec(clip_end - clip_start),
                    "interval_start_frame": 0,
                    "interval_end_frame": clip_end - clip_start,
                    "action_clip_start_sec": _sec(s),
                    "action_clip_end_sec": _sec(e),
                    "action_clip_start_frame": s,
                    "action_clip_end_frame": e,
                    "verb": world.verbs[a.verb],
                    "noun": world.nouns[a.noun],
                    "verb_label": a.verb,
                    "noun_label": a.noun,
                }
            )
    return records


def _clip_id(video_uid: str, part: int) -> int:
    """A stable integer id for a clip (Ego4D's ``clip_id`` is an integer)."""
    return int(video_uid[:6], 16) * 8 + part


def _oscc_record(video: Video, start: int, end: int, label: bool, pnr: int | None) -> dict[str, Any]:
    """An OSCC/PNR record with every real field: negatives carry ``"pnr_frame": null`` instead of
    ``parent_pnr_frame``/``clip_pnr_frame``, and one video in eight has a null ``clip_uid``."""
    part = start // CLIP_FRAMES
    offset = part * CLIP_FRAMES
    rec: dict[str, Any] = {
        "unique_id": f"{video.uid}_{start}",
        "video_uid": video.uid,
        "clip_id": _clip_id(video.uid, part),
        "clip_uid": None if int(video.uid[0], 16) % 8 == 0 else f"{video.uid}_c{part}",
        "clip_start_sec": _sec(start - offset),
        "clip_end_sec": _sec(end - offset),
        "clip_start_frame": start - offset,
        "clip_end_frame": end - offset,
        "parent_start_sec": _sec(start),
        "parent_end_sec": _sec(end),
        "parent_start_frame": start,
        "parent_end_frame": end,
        "state_change": label,
    }
    if pnr is None:
        rec["pnr_frame"] = None
    else:
        rec["clip_pnr_frame"] = pnr - offset
        rec["parent_pnr_frame"] = pnr
    return rec


def strip_labels(family: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records of a ``*_test_unannotated.json``: labels removed as in the real test files."""
    if family == "lta":
        return [{k: v for k, v in r.items() if k not in LTA_TEST_DROP} for r in records]
    return [{k: r[k] for k in OSCC_TEST_KEEP} for r in records]


def _oscc_windows(video: Video, rng: np.random.Generator) -> list[tuple[int, int, Action]]:
    """Non-overlapping 8 s windows around actions, no other PNR inside: (start, end, action)."""
    length = int(OSCC_SECONDS * FPS)
    out: list[tuple[int, int, Action]] = []
    free_from = 0
    for a in video.actions:
        anchor = a.transient if a.changes and a.transient is not None else (a.start + a.end) // 2
        start = anchor - int(rng.uniform(0.3, 0.7) * length)
        # the window ends where the features end (the last step covers frames up to 16*T)
        start = min(max(start, 0), video.feats.shape[0] * FRAMES_PER_FEATURE - length)
        if start < free_from or not a.start >= start or not a.end <= start + length + FPS:
            continue
        # as in Ego4D, a clip's label is about the whole clip: no other state change may happen in it
        if any(
            b is not a and b.changes and b.transient is not None and start <= b.transient < start + length
            for b in video.actions
        ):
            continue
        out.append((start, start + length, a))
        free_from = start + length
    return out


def _oscc_split(data: SyntheticData, split: str, n_clips: int, rng: np.random.Generator) -> None:
    cfg, world = data.config, data.world
    want = {True: n_clips - n_clips // 2, False: n_clips // 2}
    records: list[dict[str, Any]] = []
    latent: list[tuple[int, int, bool]] = []
    while want[True] > 0 or want[False] > 0:
        video = make_video(
            replace(cfg, action_seconds=cfg.oscc_action_seconds), world, rng, signal=cfg.oscc_signal
        )
        used = False
        for start, end, a in _oscc_windows(video, rng):
            # balance on the true state change, then add annotation noise (no selection bias)
            if want[a.changes] <= 0:
                continue
            want[a.changes] -= 1
            used = True
            label = a.changes if rng.random() >= cfg.label_noise else not a.changes
            pnr = None
            if label:  # a flipped negative still gets a plausible PNR annotation
                pnr = a.transient if a.transient is not None else (a.start + a.end) // 2
            records.append(_oscc_record(video, start, end, label, pnr))
            latent.append((a.verb, a.noun, a.changes))
        if used:
            data.videos[video.uid] = video
    data.oscc[split] = records
    data.oscc_latent[split] = latent


def generate_synthetic(seed: int = 0, size: str | SyntheticConfig = "small") -> SyntheticData:
    """Generate the whole dataset in memory (deterministic per ``seed`` and ``size``).

    Parameters
    ----------
    seed
        Seed of every random choice.
    size
        ``"small"``, ``"medium"`` or a :class:`SyntheticConfig`.
    """
    cfg = size_config(size)
    streams = {name: np.random.default_rng([seed, k]) for name, k in _STREAMS.items()}
    data = SyntheticData(config=cfg, world=make_world(cfg, streams["world"]))
    for split, n_videos in zip(("train", "val", "test"), (*cfg.lta_videos, cfg.lta_test_videos)):
        rng = streams[f"lta_{split}"]
        records: list[dict[str, Any]] = []
        for _ in range(n_videos):
            video = make_video(cfg, data.world, rng, min_actions=cfg.lta_min_actions)
            data.videos[video.uid] = video
            records += _lta_records(video, rng, data.world, cfg.lta_min_actions)
        data.lta[split] = records
    for split, n_clips in zip(("train", "val", "test"), (*cfg.oscc_clips, cfg.oscc_test_clips)):
        _oscc_split(data, split, n_clips, streams[f"oscc_{split}"])
    return data
