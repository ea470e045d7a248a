"""Named synthetic worlds: overrides of a size preset (``backpack synth --world NAME``)."""

from __future__ import annotations

from dataclasses import replace

from backpack.data.synthetic import SyntheticConfig, size_config

# Named worlds (``backpack synth --world NAME``): overrides of a size preset. "clean" is the original
# generator; "noisy" differs from it the ways real per-window features do (docs/synthetic-data.md):
# noisier rows, noise correlated between neighbouring windows, longer and more variable actions,
# and imbalanced classes. The values are plausible magnitudes, not tuned to favour any method.
WORLDS: dict[str, dict[str, object]] = {
    "clean": {},
    "noisy": {"noise": 1.2, "noise_corr": 0.5, "action_seconds": (2.0, 14.0), "class_skew": 1.0},
}


def world_config(size: str | SyntheticConfig = "small", world: str = "clean") -> SyntheticConfig:
    """The config of ``size`` (a preset name or a config) in the named ``world``."""
    if world not in WORLDS:
        from backpack.errors import ConfigError, invalid

        raise ConfigError(invalid("world", "the synthetic data", " or ".join(map(repr, WORLDS)), repr(world)))
    return replace(size_config(size), **WORLDS[world])  # type: ignore[arg-type]
