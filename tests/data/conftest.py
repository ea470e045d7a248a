"""Fixtures for the data tests: one synthetic dataset per session, and tiny hand-made datasets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

TAXONOMY = {"verbs": ["cut", "take", "fold"], "nouns": ["dough", "cup"]}


def lta_clip(
    video_uid: str = "v1",
    clip_uid: str = "c1",
    action_idx: int = 0,
    start: int = 0,
    end: int = 64,
    verb: int = 0,
    noun: int = 1,
    parent: int = 0,
) -> dict[str, Any]:
    """One LTA annotation record (Ego4D field names)."""
    return {
        "video_uid": video_uid,
        "clip_uid": clip_uid,
        "action_idx": action_idx,
        "clip_parent_start_frame": parent,
        "action_clip_start_frame": start,
        "action_clip_end_frame": end,
        "verb_label": verb,
        "noun_label": noun,
    }


def oscc_clip(
    unique_id: str = "u1",
    video_uid: str = "v1",
    start: int = 0,
    end: int = 240,
    state_change: bool = True,
    pnr: int | None = 100,
) -> dict[str, Any]:
    """One OSCC/PNR annotation record (Ego4D field names)."""
    return {
        "unique_id": unique_id,
        "video_uid": video_uid,
        "parent_start_frame": start,
        "parent_end_frame": end,
        "parent_start_sec": start / 30,
        "parent_end_sec": end / 30,
        "state_change": state_change,
        "parent_pnr_frame": pnr,
    }


def write_tiny(
    root: Path,
    lta: dict[str, Any] | None = None,
    oscc: dict[str, Any] | None = None,
    features: dict[str, Any] | None = None,
    taxonomy: Any = None,
) -> Path:
    """Write a small Ego4D-layout dataset; each value may be a record list, raw JSON object or bytes.

    Defaults: one LTA and one OSCC clip per split on video ``v1`` with 20 x 8 float features.
    """
    import torch

    ann = root / "annotations"
    ann.mkdir(parents=True, exist_ok=True)
    feats = root / "omnivore_video_swinl"
    feats.mkdir(exist_ok=True)

    def put(path: Path, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, bytes):
            path.write_bytes(value)
        else:
            path.write_text(json.dumps(value), encoding="utf-8")

    put(ann / "fho_lta_taxonomy.json", TAXONOMY if taxonomy is None else taxonomy)
    lta = {"train": [lta_clip()], "val": [lta_clip()]} if lta is None else lta
    oscc = {"train": [oscc_clip()], "val": [oscc_clip()]} if oscc is None else oscc
    for split, clips in lta.items():
        put(ann / f"fho_lta_{split}.json", {"clips": clips} if isinstance(clips, list) else clips)
    for split, clips in oscc.items():
        put(ann / f"fho_oscc-pnr_{split}.json", {"clips": clips} if isinstance(clips, list) else clips)
    if features is None:
        features = {"v1.pt": np.random.default_rng(0).standard_normal((20, 8)).astype(np.float32)}
    for name, value in features.items():
        path = feats / name
        if isinstance(value, bytes):
            path.write_bytes(value)
        elif name.endswith(".npy"):
            np.save(path, value)
        else:
            torch.save(
                value if isinstance(value, torch.Tensor) else torch.from_numpy(np.asarray(value)), path
            )
    return root


@pytest.fixture
def tiny(tmp_path: Path) -> Callable[..., Path]:
    """Builder of small datasets in ``tmp_path/data`` (see :func:`write_tiny`)."""

    def build(**kwargs: Any) -> Path:
        return write_tiny(tmp_path / "data", **kwargs)

    return build


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default synthetic dataset (seed 0, small), written once per session."""
    from backpack.data import write_synthetic

    return write_synthetic(tmp_path_factory.mktemp("synth") / "data", seed=0)


@pytest.fixture(scope="session")
def synth_data() -> Any:
    """The in-memory version of ``synth_root`` (with its latents)."""
    from backpack.data import generate_synthetic

    return generate_synthetic(seed=0)


@pytest.fixture(scope="session")
def synth_ds(synth_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``Ego4DDataset`` over ``synth_root``, its cache outside the data folder (converted once)."""
    from backpack.data import Ego4DDataset

    return Ego4DDataset(synth_root, cache_dir=tmp_path_factory.mktemp("synth-cache"))


@pytest.fixture
def tiny_config() -> Any:
    """A synthetic config small enough to write in a fraction of a second."""
    from backpack.data import SIZES
    from backpack.data.synthetic import with_overrides

    return with_overrides(SIZES["small"], lta_videos=(2, 1), oscc_clips=(6, 4), video_seconds=(40.0, 60.0))
