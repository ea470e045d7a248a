"""Parsing and checking the Ego4D annotation files: the taxonomy, LTA clips and OSCC/PNR clips.

Every check names the file, the clip and the field, with the expected and the found value. With
``skip_invalid=True`` a bad clip is dropped instead and counted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from backpack.data.clips import ActionClip, StateClip, Taxonomy
from backpack.errors import DataError, invalid

T = TypeVar("T")
MAX_FRAME = 2**40  # about 1,160 years at 30 fps: anything beyond is corrupt, not long


def read_json(path: Path) -> Any:
    """Load a JSON file; unreadable or malformed JSON is a DataError naming the file."""
    from backpack import safe_json

    return safe_json.load_file(path, DataError, "annotation file")


def parse_taxonomy(path: Path) -> Taxonomy:
    """Read ``fho_lta_taxonomy.json``: ``{"verbs": [str, ...], "nouns": [str, ...]}``, non-empty, unique."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataError(
            invalid("taxonomy", str(path), "an object with 'verbs' and 'nouns'", type(data).__name__)
        )
    out: dict[str, tuple[str, ...]] = {}
    for key in ("verbs", "nouns"):
        names = data.get(key)
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            got = "missing" if names is None else repr(names)[:80]
            raise DataError(invalid(key, str(path), "a non-empty list of strings", got))
        if len(set(names)) != len(names):
            dup = next(n for i, n in enumerate(names) if n in names[:i])
            raise DataError(invalid(key, str(path), "unique names", f"{dup!r} twice"))
        out[key] = tuple(names)
    return Taxonomy(verbs=out["verbs"], nouns=out["nouns"])


class _Clip:
    """Typed field access on one clip dict; errors name the file, the clip and the field."""

    def __init__(self, raw: Any, path: Path, index: int, id_field: str) -> None:
        self.path = path
        self.where = f"{path.name}, clip #{index}"
        if not isinstance(raw, dict):
            raise DataError(f"{self.where}: expected an object. Got {type(raw).__name__}.")
        self.raw = raw
        cid = raw.get(id_field)
        if isinstance(cid, str):
            self.where = f"{path.name}, clip {cid!r}"

    def fail(self, field: str, expected: object, got: object) -> DataError:
        return DataError(invalid(field, self.where, expected, got))

    def get(self, field: str) -> Any:
        if field not in self.raw:
            raise self.fail(field, "the field to be present", "nothing")
        return self.raw[field]

    def string(self, field: str) -> str:
        value = self.get(field)
        if not isinstance(value, str) or not value or len(value) > 512:
            raise self.fail(field, "a non-empty string", _show(value))
        if any(c in value for c in "/\\\0") or value in (".", ".."):
            raise self.fail(field, "an id without '/', '\\' or NUL", _show(value))
        return value

    def integer(self, field: str, lo: int = 0, hi: int = MAX_FRAME) -> int:
        value = self.get(field)
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)  # some exports write 120.0
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(field, "an integer", _show(value))
        if not lo <= value < hi:
            raise self.fail(field, f"an integer in [{lo}, {hi})", value)
        return value

    def boolean(self, field: str) -> bool:
        value = self.get(field)
        if not isinstance(value, bool):
            raise self.fail(field, "true or false", _show(value))
        return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_action_clip(c: _Clip, taxonomy: Taxonomy, labelled: bool = True) -> ActionClip:
    """One LTA clip; absolute frames = clip parent start + action clip frames.

    With ``labelled=False`` (a ``*_test_unannotated.json`` file) the labels are not read: the real
    test files hold no ``verb``/``noun``/``verb_label``/``noun_label``, and the clip gets ``None``.
    """
    video_uid = c.string("video_uid")
    clip_uid = c.string("clip_uid")
    action_idx = c.integer("action_idx")
    parent = c.integer("clip_parent_start_frame")
    start = c.integer("action_clip_start_frame")
    end = c.integer("action_clip_end_frame")
    if end <= start:
        raise c.fail("action_clip_end_frame", f"> action_clip_start_frame ({start})", end)
    verb: int | None = None
    noun: int | None = None
    if labelled:
        verb = c.integer("verb_label", 0, taxonomy.num_verbs)
        noun = c.integer("noun_label", 0, taxonomy.num_nouns)
    return ActionClip(video_uid, clip_uid, action_idx, parent + start, parent + end, verb, noun)


def parse_state_clip(c: _Clip, taxonomy: Taxonomy, labelled: bool = True) -> StateClip:
    """One OSCC/PNR clip, in parent (canonical video) frames.

    The PNR frame is ``parent_pnr_frame``, or ``pnr_frame`` where that key is absent, as in the
    official loader (the real negatives carry no ``parent_pnr_frame`` and ``"pnr_frame": null``).
    A positive needs a PNR frame inside the clip; a negative must have none. ``clip_uid`` may be
    null or absent. With ``labelled=False`` (a test file) neither the label nor the PNR is read.
    """
    unique_id = c.string("unique_id")
    video_uid = c.string("video_uid")
    start = c.integer("parent_start_frame")
    end = c.integer("parent_end_frame")
    if end <= start:
        raise c.fail("parent_end_frame", f"> parent_start_frame ({start})", end)
    for sec in ("parent_start_sec", "parent_end_sec"):
        value = c.get(sec)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise c.fail(sec, "a finite number", _show(value))
    clip_uid = None if c.raw.get("clip_uid") is None else c.string("clip_uid")
    if not labelled:
        return StateClip(unique_id, video_uid, start, end, None, None, clip_uid)
    state_change = c.boolean("state_change")
    field = "parent_pnr_frame" if "parent_pnr_frame" in c.raw else "pnr_frame"
    pnr_raw = c.raw.get(field)
    pnr: int | None = None
    if state_change:
        if pnr_raw is None:
            raise c.fail("parent_pnr_frame", "an integer frame (state_change is true)", _show(pnr_raw))
        pnr = c.integer(field, start, end + 1)
    elif pnr_raw is not None:
        raise c.fail(field, "null or absent (state_change is false)", _show(pnr_raw))
    return StateClip(unique_id, video_uid, start, end, state_change, pnr, clip_uid)


def parse_clips(
    path: Path,
    taxonomy: Taxonomy,
    parse: Callable[[_Clip, Taxonomy], T],
    id_field: str,
    key: Callable[[T], object],
    skip_invalid: bool = False,
) -> tuple[list[T], int]:
    """Parse every clip of ``path`` (``{"clips": [...]}``); return (clips, number skipped).

    Duplicated clips (same ``key``) are invalid too. Raises DataError on the first bad clip unless
    ``skip_invalid``.
    """
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("clips"), list):
        if not isinstance(data, dict):
            got = f"a JSON {type(data).__name__}"
        else:
            got = "no key 'clips'" if "clips" not in data else f"a {type(data['clips']).__name__}"
        raise DataError(invalid("clips", str(path), "a list under the key 'clips'", got))
    clips: list[T] = []
    seen: set[object] = set()
    skipped = 0
    for i, raw in enumerate(data["clips"]):
        try:
            c = _Clip(raw, path, i, id_field)
            clip = parse(c, taxonomy)
            k = key(clip)
            if k in seen:
                raise DataError(f"{c.where}: duplicated clip {k!r} (clip #{i}).")
        except DataError:
            if not skip_invalid:
                raise
            skipped += 1
            continue
        seen.add(k)
        clips.append(clip)
    return clips, skipped
