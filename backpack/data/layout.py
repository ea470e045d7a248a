"""Where the files of an Ego4D v1 download live, relative to the data root."""

from __future__ import annotations

import hashlib
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
        f'    {TAXONOMY}           {{"verbs": [...], "nouns": [...]}}\n'
        '    fho_lta_{train,val}.json        {"clips": [...]}  AR and LTA\n'
        '    fho_oscc-pnr_{train,val}.json   {"clips": [...]}  OSCC and PNR\n'
        f"  {features}/\n"
        "    <video_uid>.pt                  float tensor [T, D] (or <video_uid>.npy)"
    )


def fingerprint(root: Path, features: str = DEFAULT_FEATURES) -> str:
    """sha256 over the annotation files' names and bytes and the feature files' names and sizes.

    Stable across machines for the same data: no absolute paths, no mtimes.
    """
    h = hashlib.sha256()
    for path in sorted(p for p in (root / ANNOTATIONS).iterdir() if p.suffix == ".json"):
        data = path.read_bytes()
        h.update(f"{path.name}\0{len(data)}\0".encode("utf-8", "surrogatepass"))
        h.update(data)
    for path in sorted((root / features).iterdir()):
        if path.suffix in (".pt", ".npy") and path.is_file():
            h.update(f"{path.name}\0{path.stat().st_size}\0".encode("utf-8", "surrogatepass"))
    return h.hexdigest()
