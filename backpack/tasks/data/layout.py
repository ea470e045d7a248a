"""Where the files of an Ego4D v1 download live, relative to the data root."""

from __future__ import annotations

from pathlib import Path

ANNOTATIONS = "annotations"
TAXONOMY = "fho_lta_taxonomy.json"
DEFAULT_FEATURES = "omnivore_video_swinl"
CACHE_FOLDER = ".backpack-cache"
STANDARD_SPLITS = ("train", "val")


def lta_file(root: Path, split: str) -> Path:
    """``annotations/fho_lta_{split}.json`` (AR and LTA)."""
    return root / ANNOTATIONS / f"fho_lta_{split}.json"


def oscc_file(root: Path, split: str) -> Path:
    """``annotations/fho_oscc-pnr_{split}.json`` (OSCC and PNR)."""
    return root / ANNOTATIONS / f"fho_oscc-pnr_{split}.json"


def taxonomy_file(root: Path) -> Path:
    return root / ANNOTATIONS / TAXONOMY


def layout_tree(root: Path, features: str = DEFAULT_FEATURES) -> str:
    """The expected layout, for error messages."""
    return (
        f"{root}/\n"
        f"  {ANNOTATIONS}/\n"
        f"    {TAXONOMY}           {{\"verbs\": [...], \"nouns\": [...]}}\n"
        "    fho_lta_{train,val}.json        {\"clips\": [...]}  AR and LTA\n"
        "    fho_oscc-pnr_{train,val}.json   {\"clips\": [...]}  OSCC and PNR\n"
        f"  {features}/\n"
        "    <video_uid>.pt                  float tensor [T, D] (or <video_uid>.npy)"
    )
