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
_STREAMS = {"world": 0, "lta_train": 1, "lta_val": 2, "oscc_train": 3, "oscc_val": 4}


@dataclass
class SyntheticData:
    """A generated dataset before it is written: annotation records, features and the latents.

    ``oscc_latent[split][i]`` is ``(verb, noun, true_state_change)`` of ``oscc[split][i]``: the
    annotation files do not hold them (as in Ego4D), tests and analyses do.
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


def _lta_records(video: Video, rng: np.random.Generator, world: World) -> list[dict[str, Any]]:
    """Ego4D LTA clips: one clip per video, or two when it holds many actions."""
    acts = video.actions
    cut = len(acts) // 2 if len(acts) >= 24 else len(acts)
    records = []
    for part, chunk in enumerate((acts[:cut], acts[cut:])):
        if not chunk:
            continue
        clip_start = max(0, chunk[0].start - int(rng.integers(0, 60)))
        clip_uid = f"{video.uid}_{part}"
        for idx, a in enumerate(chunk):
            s, e = a.start - clip_start, a.end - clip_start
            records.append(
                {
                    "video_uid": video.uid,
                    "clip_uid": clip_uid,
                    "action_idx": idx,
                    "clip_parent_start_frame": clip_start,
                    "clip_parent_start_sec": _sec(clip_start),
                    "action_clip_start_frame": s,
                    "action_clip_end_frame": e,
                    "action_clip_start_sec": _sec(s),
                    "action_clip_end_sec": _sec(e),
                    "verb": world.verbs[a.verb],
                    "noun": world.nouns[a.noun],
                    "verb_label": a.verb,
                    "noun_label": a.noun,
                }
            )
    return records


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
            records.append(
                {
                    "unique_id": f"{video.uid}_{start}",
                    "video_uid": video.uid,
                    "parent_start_frame": start,
                    "parent_end_frame": end,
                    "parent_start_sec": _sec(start),
                    "parent_end_sec": _sec(end),
                    "state_change": label,
                    "parent_pnr_frame": pnr,
                }
            )
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
    for split, n_videos in zip(("train", "val"), cfg.lta_videos):
        rng = streams[f"lta_{split}"]
        records: list[dict[str, Any]] = []
        for _ in range(n_videos):
            video = make_video(cfg, data.world, rng)
            data.videos[video.uid] = video
            records += _lta_records(video, rng, data.world)
        data.lta[split] = records
    for split, n_clips in zip(("train", "val"), cfg.oscc_clips):
        _oscc_split(data, split, n_clips, streams[f"oscc_{split}"])
    return data
