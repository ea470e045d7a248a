"""An Ego4D download (or a synthetic one): checked annotations and cached features."""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from backpack.data import layout
from backpack.data import parsing as ann
from backpack.data.clips import ActionClip, StateClip, Taxonomy
from backpack.data.feature_sets import FeatureTime, feature_time
from backpack.data.features import FEATURE_SUFFIXES, FeatureCache
from backpack.errors import DataError, NotFoundError

ClipT = TypeVar("ClipT", ActionClip, StateClip)


class Ego4DDataset:
    """The annotations and features of an Ego4D-layout folder, checked once when opened.

    Only the annotation files of the requested ``tasks`` and ``splits`` are parsed (AR/LTA read
    ``fho_lta_*``, OSCC/PNR ``fho_oscc-pnr_*``), and only the videos their clips use are read and
    converted into the cache. Split ``"test"`` reads ``*_test_unannotated.json`` (unless a labelled
    ``*_test.json`` exists): its clips are unlabelled (:meth:`is_labelled`).

    Parameters
    ----------
    root
        Data root holding ``annotations/`` and the feature folder (see :func:`layout.layout_tree`),
        or an Ego4D CLI download holding it in ``v1/`` or ``v2/``.
    features
        Name of the feature folder; :data:`~backpack.data.feature_sets.KNOWN_FEATURE_SETS` gives its
        frames per row, an unknown one needs ``feature_stride``.
    cache_dir
        Where float32 ``.npy`` copies of the features go; default ``root/.backpack-cache/<features>``.
    skip_missing
        Drop (warning, count) clips whose video has no feature file, instead of raising.
    skip_invalid
        Drop (warning, count) clips with bad fields, instead of raising.
    tasks
        Task (``ar``, ``lta``, ``oscc``, ``pnr``) or family names whose files are checked at open.
    splits
        Splits checked at open (``None``: train/val where present); others load when first used.
    feature_stride, feature_window
        Frames between feature rows and frames per row, overriding the table.

    Raises
    ------
    DataError
        Missing taxonomy or annotation files (the message shows the expected layout), bad clips or
        labels, missing or broken feature files, features of different dimensions, empty splits.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        features: str = layout.DEFAULT_FEATURES,
        cache_dir: str | os.PathLike[str] | None = None,
        skip_missing: bool = False,
        skip_invalid: bool = False,
        tasks: Iterable[str] | None = None,
        splits: Iterable[str] | None = None,
        feature_stride: int | None = None,
        feature_window: int | None = None,
    ) -> None:
        self.requested_root = Path(root)
        self.root = self.requested_root
        self.features_name = features
        self.skip_missing = skip_missing
        self.skip_invalid = skip_invalid
        if not self.root.is_dir():
            raise NotFoundError(f"Data folder {str(self.root)!r} does not exist. {self._expected()}")
        self.root = layout.resolve_root(self.requested_root, features)
        self._check_layout()
        self.feature_time: FeatureTime = feature_time(features, feature_stride, feature_window)
        families = sorted(layout.FAMILIES) if tasks is None else sorted({layout.family_of(t) for t in tasks})
        self.families: tuple[str, ...] = tuple(families)
        self.taxonomy: Taxonomy = ann.parse_taxonomy(layout.taxonomy_file(self.root))
        self._sources = self._scan_features()
        default_cache = self.root / layout.CACHE_FOLDER / features
        self.cache = FeatureCache(cache_dir if cache_dir is not None else default_cache)
        self._feats: dict[str, np.ndarray] = {}
        self._dim: int | None = None
        self._dim_source: Path | None = None
        self._actions: dict[str, list[ActionClip]] = {}
        self._states: dict[str, list[StateClip]] = {}
        self._labelled: dict[tuple[str, str], bool] = {}
        # digests of the files read, taken when read (a file changed later does not change them)
        self._read: dict[str, str] = {}
        self._note_annotation(layout.taxonomy_file(self.root))
        self._used: set[str] = set()  # videos of the clips loaded
        wanted = layout.STANDARD_SPLITS if splits is None else tuple(splits)
        present = [
            (kind, split)
            for split in wanted
            for kind in families
            if splits is not None or layout.annotation_file(self.root, kind, split).is_file()
        ]
        if not present:
            raise DataError(
                f"No annotation file of {'/'.join(layout.FAMILIES[f] for f in families)} in "
                f"{str(self.root / layout.ANNOTATIONS)!r}. {self._expected()}"
            )
        self._beyond: dict[str, int] = {}  # file name -> clips reaching beyond their features
        self._opened = False  # until then, the clipped-frames warnings are gathered into one
        for kind, split in present:
            self.action_clips(split) if kind == "lta" else self.state_clips(split)
        self._warn_clipped()

    def __repr__(self) -> str:
        return f"Ego4DDataset({str(self.root)!r}, features={self.features_name!r})"

    # layout -------------------------------------------------------------------------------
    def _expected(self) -> str:
        return "Expected layout:\n" + layout.layout_tree(self.root, self.features_name)

    def _check_layout(self) -> None:
        if not layout.taxonomy_file(self.root).is_file():
            raise DataError(
                f"Missing annotation file {str(layout.taxonomy_file(self.root))!r}. {self._expected()}"
            )
        if not (self.root / self.features_name).is_dir():
            raise DataError(
                f"Missing feature folder {str(self.root / self.features_name)!r}. {self._expected()}"
            )

    def _scan_features(self) -> dict[str, Path]:
        sources: dict[str, Path] = {}
        # sorted with .npy before .pt, so a .pt wins when both exist
        for path in sorted((self.root / self.features_name).iterdir(), key=lambda p: (p.stem, p.suffix)):
            if path.suffix in FEATURE_SUFFIXES and path.is_file():
                sources[path.stem] = path
        return sources

    # clips --------------------------------------------------------------------------------
    def action_clips(self, split: str) -> list[ActionClip]:
        """The AR/LTA actions of ``fho_lta_{split}.json``, sorted by (video, clip start, action_idx)."""
        if split not in self._actions:
            path = layout.annotation_file(self.root, "lta", split)
            parse = functools.partial(ann.parse_action_clip, labelled=not layout.is_unannotated(path))
            clips = self._load(path, parse, "clip_uid", lambda c: (c.clip_uid, c.action_idx))
            clips.sort(key=lambda c: (c.video_uid, c.start_frame, c.clip_uid, c.action_idx))
            self._actions[split] = clips
            self._labelled[("lta", split)] = not layout.is_unannotated(path)
        return list(self._actions[split])

    def state_clips(self, split: str) -> list[StateClip]:
        """The OSCC/PNR clips of ``fho_oscc-pnr_{split}.json``, sorted by (video, start, unique_id)."""
        if split not in self._states:
            path = layout.annotation_file(self.root, "oscc", split)
            parse = functools.partial(ann.parse_state_clip, labelled=not layout.is_unannotated(path))
            clips = self._load(path, parse, "unique_id", lambda c: c.unique_id)
            clips.sort(key=lambda c: (c.video_uid, c.start_frame, c.unique_id))
            self._states[split] = clips
            self._labelled[("oscc", split)] = not layout.is_unannotated(path)
        return list(self._states[split])

    def is_labelled(self, split: str, family: str) -> bool:
        """Whether ``split`` of ``family`` holds labels (False for a ``*_test_unannotated.json``).

        ``family`` is ``"lta"`` (AR, LTA) or ``"oscc"`` (OSCC, PNR), or one of the task names
        ``"ar"``, ``"lta"``, ``"oscc"``, ``"pnr"``. Loads the split when it is not loaded yet.
        """
        fam = layout.family_of(family)
        if (fam, split) not in self._labelled:
            self.action_clips(split) if fam == "lta" else self.state_clips(split)
        return self._labelled[(fam, split)]

    def _load(
        self,
        path: Path,
        parse: Callable[[Any, Taxonomy], ClipT],
        id_field: str,
        key: Callable[[ClipT], object],
    ) -> list[ClipT]:
        if not path.is_file():
            raise DataError(f"Missing annotation file {str(path)!r}. {self._expected()}")
        self._note_annotation(path)
        clips, skipped = ann.parse_clips(path, self.taxonomy, parse, id_field, key, self.skip_invalid)
        if skipped:
            warnings.warn(
                f"{path.name}: skipped {skipped} invalid clip(s) (skip_invalid=True).", stacklevel=3
            )
        clips = self._drop_missing(path, clips)
        if not clips:
            raise DataError(f"Empty split: {str(path)!r} holds no usable clip.")
        self._used.update(c.video_uid for c in clips)
        self._count_clipped(path, clips)
        if self._opened:  # a split loaded after __init__ warns on its own
            self._warn_clipped()
        return clips

    def _drop_missing(self, path: Path, clips: list[ClipT]) -> list[ClipT]:
        missing = sorted({c.video_uid for c in clips if c.video_uid not in self._sources})
        if not missing:
            return clips
        gone = set(missing)
        n_clips = sum(c.video_uid in gone for c in clips)
        # printable ids as they are, others as repr: the message stays on one line
        shown = ", ".join(u if u.isprintable() else repr(u) for u in missing[:5]) + (
            ", ..." if len(missing) > 5 else ""
        )
        folder = self.root / self.features_name
        msg = (
            f"{path.name}: {n_clips} clip(s) of {len(missing)} video(s) have no feature file in "
            f"{str(folder)!r} ({shown})"
        )
        if not self.skip_missing:
            raise DataError(msg + ". Pass skip_missing=True (--skip-missing) to drop them.")
        warnings.warn(msg + "; dropped (skip_missing=True).", stacklevel=4)
        return [c for c in clips if c.video_uid not in gone]

    def _count_clipped(self, path: Path, clips: list[ActionClip] | list[StateClip]) -> None:
        beyond = 0
        stride = self.feature_time.stride
        for c in clips:
            steps = self.features(c.video_uid).shape[0]
            if (c.end_frame - 1) // stride > steps - 1:
                beyond += 1
        if beyond:
            self._beyond[path.name] = beyond

    def _warn_clipped(self) -> None:
        """One warning for every clip whose frames reach beyond the end of its features."""
        self._opened = True
        if self._beyond:
            total = sum(self._beyond.values())
            where = ", ".join(f"{n} in {name}" for name, n in self._beyond.items())
            warnings.warn(
                f"{total} clip(s) reach beyond the end of their features ({where}); their frames are "
                "clipped.",
                stacklevel=3,
            )
            self._beyond = {}

    # features -----------------------------------------------------------------------------
    @property
    def feature_dim(self) -> int:
        """D, the dimension of every feature file (all must agree)."""
        if self._dim is None:
            if not self._sources:
                raise DataError(f"No feature file (.pt or .npy) in {str(self.root / self.features_name)!r}.")
            # a video the loaded clips use: opening never converts an unused video
            self.features(min(self._used) if self._used else next(iter(self._sources)))
        assert self._dim is not None
        return self._dim

    @property
    def video_uids(self) -> list[str]:
        """Videos that have a feature file, sorted."""
        return sorted(self._sources)

    def features(self, video_uid: str) -> np.ndarray:
        """Float32 ``[T, D]`` features of a video, memory-mapped from the cache (converted once)."""
        arr = self._feats.get(video_uid)
        if arr is not None:
            return arr
        source = self._sources.get(video_uid)
        if source is None:
            raise NotFoundError(
                f"No feature file for video {video_uid!r} in {str(self.root / self.features_name)!r}."
            )
        arr = self.cache.load(source)
        self._read[source.relative_to(self.root).as_posix()] = layout.feature_digest(source)
        dim = int(arr.shape[1])
        if self._dim is None:
            self._dim, self._dim_source = dim, source
        elif dim != self._dim:
            raise DataError(
                f"Feature files of different dimensions: {str(self._dim_source)!r} has D = {self._dim}, "
                f"{str(source)!r} has D = {dim}."
            )
        self._feats[video_uid] = arr
        return arr

    @property
    def frames_per_feature(self) -> int:
        """Frames between two feature rows (the row of frame ``f`` is ``f // frames_per_feature``)."""
        return self.feature_time.stride

    def _note_annotation(self, path: Path) -> None:
        if path.is_file():  # else the parser reports the missing or unreadable file, naming it
            self._read[path.relative_to(self.root).as_posix()] = layout.annotation_digest(path.read_bytes())

    def files_read(self) -> dict[str, str]:
        """Digest of every file read so far, keyed by its path relative to the data root.

        The taxonomy, the annotation files of the loaded splits and the feature files of the videos
        their clips use (bytes hashed for annotations, name and size for features; see
        :func:`layout.file_digests`), each taken when the file was read.
        """
        return dict(sorted(self._read.items()))

    def fingerprint(self) -> str:
        """sha256 over :meth:`files_read`: exactly the files this dataset read (no paths, no mtimes)."""
        return layout.combine(self.files_read())
