"""Writing a synthetic dataset in exactly the Ego4D v1 layout, atomically."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from backpack.data import layout
from backpack.data.synthetic import SyntheticConfig
from backpack.data.synthetic_build import SyntheticData, generate_synthetic
from backpack.errors import DataError


def _dump(obj: Any, path: Path) -> None:
    path.write_text(json.dumps(obj, separators=(",", ":"), sort_keys=False) + "\n", encoding="utf-8")


def write_data(data: SyntheticData, folder: Path) -> None:
    """Write the annotation files and one ``.pt`` per video into ``folder`` (which must exist)."""
    import torch

    ann = folder / layout.ANNOTATIONS
    feats = folder / layout.DEFAULT_FEATURES
    ann.mkdir()
    feats.mkdir()
    _dump(data.taxonomy, layout.taxonomy_file(folder))
    for split, records in data.lta.items():
        _dump({"version": "synthetic", "split": split, "clips": records}, layout.lta_file(folder, split))
    for split, records in data.oscc.items():
        _dump({"version": "synthetic", "split": split, "clips": records}, layout.oscc_file(folder, split))
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
    tax = json.loads(layout.taxonomy_file(root).read_text(encoding="utf-8"))
    clips = {}
    for name, fn in (("actions", layout.lta_file), ("state_clips", layout.oscc_file)):
        clips[name] = {s: len(json.loads(fn(root, s).read_bytes())["clips"]) for s in layout.STANDARD_SPLITS}
    return {
        "path": str(root),
        "verbs": len(tax["verbs"]),
        "nouns": len(tax["nouns"]),
        "videos": sum(1 for p in (root / features).iterdir() if p.suffix in (".pt", ".npy")),
        **clips,
        "fingerprint": layout.fingerprint(root, features),
    }
