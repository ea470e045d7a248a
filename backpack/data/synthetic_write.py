"""Writing a synthetic dataset in exactly the Ego4D v1 layout, atomically."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from backpack import safe_json
from backpack.data import layout
from backpack.data.synthetic import SyntheticConfig
from backpack.data.synthetic_build import SyntheticData, generate_synthetic, strip_labels
from backpack.errors import DataError


def _dump(obj: Any, path: Path) -> None:
    path.write_text(json.dumps(obj, separators=(",", ":"), sort_keys=False) + "\n", encoding="utf-8")


def _header(split: str, clips: list[dict[str, Any]], what: str) -> dict[str, Any]:
    """The top level of a real annotation file: ``{version, date, description, split, clips}``."""
    return {
        "version": "synthetic-v1",
        "date": "000000",
        "description": f"backpack synthetic data: {what}",
        "split": split,
        "clips": clips,
    }


def annotation_name(family: str, split: str) -> str:
    """File name of ``split``: the test split is ``*_test_unannotated.json``, as in Ego4D."""
    prefix = layout.FAMILIES[family]
    return f"{prefix}_{split}{layout.UNANNOTATED if split == 'test' else ''}.json"


def write_data(data: SyntheticData, folder: Path) -> None:
    """Write the annotation files and one ``.pt`` per video into ``folder`` (which must exist)."""
    import torch

    ann = folder / layout.ANNOTATIONS
    feats = folder / layout.DEFAULT_FEATURES
    ann.mkdir()
    feats.mkdir()
    _dump(data.taxonomy, layout.taxonomy_file(folder))
    for family, by_split, what in (
        ("lta", data.lta, "long-term anticipation"),
        ("oscc", data.oscc, "object state change and point of no return"),
    ):
        for split, records in by_split.items():
            clips = strip_labels(family, records) if split == "test" else records
            _dump(_header(split, clips, what), ann / annotation_name(family, split))
    for uid in sorted(data.videos):
        torch.save(torch.from_numpy(data.videos[uid].feats), feats / f"{uid}.pt")


def write_synthetic(
    out_dir: str | os.PathLike[str], seed: int = 0, size: str | SyntheticConfig = "small"
) -> Path:
    """Generate a synthetic dataset and write it to ``out_dir`` in the Ego4D layout.

    Parameters
    ----------
    out_dir
        Destination; must not exist or be empty. The dataset is written to a temporary sibling
        folder and renamed into place, so a failed run leaves nothing half written.
    seed
        Same seed, same size: the same bytes.
    size
        ``"small"`` (the demo's default: minutes on 2 cores), ``"medium"`` (about 4x) or a config.

    Returns
    -------
    Path
        ``out_dir``.
    """
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(
            f"Output folder {str(out)!r} already exists and is not empty. Expected a new or empty folder."
        )
    data = generate_synthetic(seed=seed, size=size)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        write_data(data, tmp)
        # mkdtemp makes a 0700 folder; a dataset is meant to be read by others (umask still applies)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        if out.exists():
            out.rmdir()  # empty (checked above); os.replace cannot replace a directory
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def describe(root: str | os.PathLike[str], features: str = layout.DEFAULT_FEATURES) -> dict[str, Any]:
    """Counts and fingerprint of an Ego4D-layout folder, read from its files (no feature is loaded)."""
    root = Path(root)
    tax = safe_json.load_file(layout.taxonomy_file(root), DataError, "taxonomy")
    clips = {}
    for name, family in (("actions", "lta"), ("state_clips", "oscc")):
        clips[name] = {
            s: len(safe_json.load_file(path, DataError, "annotation file")["clips"])
            for s in (*layout.STANDARD_SPLITS, "test")
            if (path := layout.annotation_file(root, family, s)).is_file()
        }
    return {
        "path": str(root),
        "verbs": len(tax["verbs"]),
        "nouns": len(tax["nouns"]),
        "videos": sum(1 for p in (root / features).iterdir() if p.suffix in (".pt", ".npy")),
        **clips,
        "fingerprint": layout.fingerprint(root, features),
    }
