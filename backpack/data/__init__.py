"""Ego4D-format data: checked annotations, cached features, TRN sampling and a synthetic generator.

Only numpy is needed to import this package; torch is imported when a ``.pt`` file is read or written.
"""

from __future__ import annotations

from backpack.data.clips import ActionClip, StateClip, Taxonomy
from backpack.data.dataset import Ego4DDataset
from backpack.data.features import FeatureCache, read_feature_file
from backpack.data.sampling import (
    FPS,
    FRAMES_PER_FEATURE,
    NODE_INPUTS,
    pool_segment,
    sample_subsegments,
    segment_indices,
)
from backpack.data.synthetic import SIZES, SyntheticConfig
from backpack.data.synthetic_build import SyntheticData, generate_synthetic
from backpack.data.synthetic_write import write_synthetic
from backpack.data.worlds import WORLDS, world_config

__all__ = [
    "ActionClip",
    "Ego4DDataset",
    "FPS",
    "FRAMES_PER_FEATURE",
    "FeatureCache",
    "SIZES",
    "StateClip",
    "SyntheticConfig",
    "WORLDS",
    "SyntheticData",
    "Taxonomy",
    "generate_synthetic",
    "read_feature_file",
    "NODE_INPUTS",
    "pool_segment",
    "sample_subsegments",
    "segment_indices",
    "world_config",
    "write_synthetic",
]
