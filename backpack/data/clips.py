"""The records the loader hands out: the label taxonomy, action clips (AR/LTA), state clips (OSCC/PNR)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Taxonomy:
    """The verb and noun vocabularies of ``fho_lta_taxonomy.json`` (label i is ``verbs[i]``)."""

    verbs: tuple[str, ...]
    nouns: tuple[str, ...]

    @property
    def num_verbs(self) -> int:
        return len(self.verbs)

    @property
    def num_nouns(self) -> int:
        return len(self.nouns)

    def to_dict(self) -> dict[str, list[str]]:
        return {"verbs": list(self.verbs), "nouns": list(self.nouns)}


@dataclass(frozen=True)
class ActionClip:
    """One annotated action of ``fho_lta_{split}.json``; frames are absolute (video) frames, end exclusive.

    ``start_frame = clip_parent_start_frame + action_clip_start_frame`` (likewise the end).
    ``verb`` and ``noun`` are ``None`` in an unlabelled split (``fho_lta_test_unannotated.json``);
    ``clip_uid`` and ``action_idx`` key the LTA submission (``"<clip_uid>_<action_idx>"``).
    """

    video_uid: str
    clip_uid: str
    action_idx: int
    start_frame: int
    end_frame: int
    verb: int | None
    noun: int | None

    @property
    def labelled(self) -> bool:
        """Whether the action carries its verb and noun labels (False in a test split)."""
        return self.verb is not None and self.noun is not None


@dataclass(frozen=True)
class StateClip:
    """One clip of ``fho_oscc-pnr_{split}.json``; frames are absolute (``parent_*``) video frames.

    ``start_frame`` is ``parent_start_frame`` and ``end_frame`` is ``parent_end_frame``, used as the
    exclusive end (the official loader reads the range as inclusive: backpack leaves out its last
    frame, 1/30 s of an 8 s clip, and keeps the raw values the official PNR metric places nodes on).
    ``pnr_frame`` is the point of no return, ``None`` when the clip shows no state change.
    In an unlabelled split (``*_test_unannotated.json``) ``state_change`` and ``pnr_frame`` are
    ``None``. ``clip_uid`` is ``None`` where the file holds null or no ``clip_uid``.
    """

    unique_id: str
    video_uid: str
    start_frame: int
    end_frame: int
    state_change: bool | None
    pnr_frame: int | None
    clip_uid: str | None = None

    @property
    def labelled(self) -> bool:
        """Whether the clip carries its state-change label (False in a test split)."""
        return self.state_change is not None
