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
    """

    video_uid: str
    clip_uid: str
    action_idx: int
    start_frame: int
    end_frame: int
    verb: int
    noun: int


@dataclass(frozen=True)
class StateClip:
    """One clip of ``fho_oscc-pnr_{split}.json``; frames are absolute (video) frames.

    ``pnr_frame`` is the point of no return, ``None`` when the clip shows no state change.
    """

    unique_id: str
    video_uid: str
    start_frame: int
    end_frame: int
    state_change: bool
    pnr_frame: int | None
