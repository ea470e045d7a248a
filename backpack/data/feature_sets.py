"""How feature rows map to video frames, per Ego4D feature set (window, stride and fps).

The Ego4D feature extractor (facebookresearch/Ego4d ``ego4d/features/extract_features.py``; EGO4D/docs
``docs/data/features.md``) runs a model on windows of ``window`` frames every ``stride`` frames of the
30 fps canonical video: row ``t`` of ``<video_uid>.pt`` sees frames ``[t * stride, t * stride + window)``
(the last window back-padded), so the row of frame ``f`` is ``f // stride``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from backpack.errors import ConfigError, DataError, invalid


@dataclass(frozen=True)
class FeatureTime:
    """Frames per feature row of one feature set.

    Attributes
    ----------
    window
        Frames each row sees.
    stride
        Frames between two rows: frame ``f`` lies in row ``f // stride``.
    fps
        Frame rate of the canonical videos the frames count.
    source
        ``"known"`` (from :data:`KNOWN_FEATURE_SETS`) or ``"given"`` (``--feature-stride``).
    """

    window: int
    stride: int
    fps: float = 30.0
    source: str = "known"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# EGO4D/docs docs/data/features.md; EgoPack data/ego4d.py (omnivore_image_swinl: stride 5)
KNOWN_FEATURE_SETS: dict[str, FeatureTime] = {
    "omnivore_video_swinl": FeatureTime(window=32, stride=16),
    "omnivore_video_swinl_fp16": FeatureTime(window=32, stride=16),
    "slowfast8x8_r101_k400": FeatureTime(window=32, stride=16),
    "omnivore_image_swinl": FeatureTime(window=1, stride=5),
}


def feature_time(name: str, stride: int | None = None, window: int | None = None) -> FeatureTime:
    """The frame mapping of feature folder ``name``; an explicit ``stride`` overrides the table.

    Parameters
    ----------
    name
        Feature folder name (``omnivore_video_swinl``, ...).
    stride, window
        Frames between rows and frames per row, required for a folder the table does not know
        (``window`` defaults to ``stride``).

    Raises
    ------
    ConfigError
        A stride or window that is not a positive integer.
    DataError
        An unknown feature folder without ``stride``: the message says how to give it.
    """
    for field, value in (("feature_stride", stride), ("feature_window", window)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigError(invalid(field, f"feature set {name!r}", "a positive integer", value))
    known = KNOWN_FEATURE_SETS.get(name)
    if stride is None:
        if known is None:
            raise DataError(
                f"Unknown feature set {name!r}: how many frames separate its rows is not known. "
                f"Pass --feature-stride N (and --feature-window W) (feature_stride= in Python). "
                f"Known sets: {', '.join(sorted(KNOWN_FEATURE_SETS))}."
            )
        if window is not None and window != known.window:
            return FeatureTime(window=window, stride=known.stride, fps=known.fps, source="given")
        return known
    if known is not None and stride == known.stride and window in (None, known.window):
        return known
    return FeatureTime(window=window if window is not None else stride, stride=stride, source="given")


def from_dict(d: Any, where: str) -> FeatureTime:
    """A :class:`FeatureTime` recorded by :meth:`FeatureTime.to_dict` (in a run config, say)."""
    try:
        ft = FeatureTime(**d)
    except TypeError:
        raise DataError(invalid("feature_time", where, "{window, stride, fps, source}", d)) from None
    if not (isinstance(ft.stride, int) and ft.stride >= 1 and isinstance(ft.window, int) and ft.window >= 1):
        raise DataError(invalid("feature_time", where, "positive integer window and stride", d))
    return ft
