"""Where the files of an Ego4D download live, relative to the data root."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from pathlib import Path

from backpack.errors import DataError, NotFoundError

log = logging.getLogger("backpack.data")

ANNOTATIONS = "annotations"
TAXONOMY = "fho_lta_taxonomy.json"
DEFAULT_FEATURES = "omnivore_video_swinl"
CACHE_FOLDER = ".backpack-cache"
STANDARD_SPLITS = ("train", "val")
VERSION_FOLDERS = ("v1", "v2")  # what the Ego4D CLI writes below --output_directory
UNANNOTATED = "_unannotated"
# annotation file families: the tasks that read each (fho_lta_*: AR, LTA; fho_oscc-pnr_*: OSCC, PNR)
FAMILIES = {"lta": "fho_lta", "oscc": "fho_oscc-pnr"}
TASK_FAMILY = {"ar": "lta", "lta": "lta", "oscc": "oscc", "pnr": "oscc"}


def family_of(name: str) -> str:
    """The annotation family (``"lta"`` or ``"oscc"``) of a family or task name."""
    fam = TASK_FAMILY.get(name)
    if fam is None:
        raise DataError(f"Invalid value for 'family'. Expected one of {sorted(TASK_FAMILY)}. Got {name!r}.")
    return fam


def annotation_file(root: Path, family: str, split: str) -> Path:
    """The file of ``split`` in ``family``; split ``"test"`` falls back to ``*_test_unannotated.json``.

    ``fho_lta_test.json`` (a labelled test file) wins when it exists, else
    ``fho_lta_test_unannotated.json`` is read (likewise for OSCC/PNR).
    """
    prefix = FAMILIES[family_of(family)]
    path = root / ANNOTATIONS / f"{prefix}_{split}.json"
    unannotated = root / ANNOTATIONS / f"{prefix}_{split}{UNANNOTATED}.json"
    return unannotated if not path.is_file() and unannotated.is_file() else path


def is_unannotated(path: Path) -> bool:
    """Whether ``path`` is an unlabelled ``*_unannotated.json`` file."""
    return path.stem.endswith(UNANNOTATED)


def resolve_root(root: Path, features: str = DEFAULT_FEATURES) -> Path:
    """The data root: ``root`` itself, or the ``v1/`` or ``v2/`` below it (an Ego4D CLI download).

    With both below it, the one holding ``features`` is used; logs which one was taken.

    Raises
    ------
    NotFoundError
        ``root`` does not exist.
    DataError
        Neither ``root/annotations`` nor ``root/v1|v2/annotations`` exists, or both versions hold
        the feature folder.
    """
    if not root.is_dir():
        raise NotFoundError(f"Data folder {str(root)!r} does not exist.")
    if (root / ANNOTATIONS).is_dir():
        return root
    found = [root / v for v in VERSION_FOLDERS if (root / v / ANNOTATIONS).is_dir()]
    if len(found) > 1:
        with_features = [p for p in found if (p / features).is_dir()]
        if len(with_features) != 1:
            raise DataError(
                f"Both {str(found[0])!r} and {str(found[1])!r} hold {ANNOTATIONS}/"
                f"{' and ' + features + '/' if with_features else ''}. Point --data at one of them."
            )
        found = with_features
    if not found:
        raise DataError(
            f"No {ANNOTATIONS}/ folder in {str(root)!r}, nor in its {'/ or '.join(VERSION_FOLDERS)}/ "
            "(where the Ego4D CLI writes them). Expected layout:\n" + layout_tree(root, features)
        )
    log.info("data: using %s (the %s/ folder of the Ego4D download %s)", found[0], found[0].name, root)
    return found[0]


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
        "    fho_*_test_unannotated.json     (optional) the unlabelled test split\n"
        f"  {features}/\n"
        "    <video_uid>.pt                  float tensor [T, D] (or <video_uid>.npy)\n"
        "(or an Ego4D CLI download holding v1/ or v2/ with that layout inside)"
    )


def annotation_digest(data: bytes) -> str:
    """Digest of an annotation file: sha256 of its bytes."""
    return hashlib.sha256(data).hexdigest()


def feature_digest(path: Path) -> str:
    """Digest of a feature file: its name and size (hashing gigabytes of features at every open
    would cost more than the run's data loading; the feature cache keys on size and mtime too)."""
    text = f"{path.name}\0{path.stat().st_size}"
    return "size:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def file_digests(
    root: Path, annotation_files: Iterable[Path], feature_files: Iterable[Path]
) -> dict[str, str]:
    """Per-file digests (:func:`annotation_digest`, :func:`feature_digest`) keyed by the path
    relative to ``root``."""
    out = {p.relative_to(root).as_posix(): annotation_digest(p.read_bytes()) for p in annotation_files}
    out.update({p.relative_to(root).as_posix(): feature_digest(p) for p in feature_files})
    return dict(sorted(out.items()))


def combine(digests: dict[str, str]) -> str:
    """One sha256 over a per-file digest map (stable across machines: relative names, no mtimes)."""
    h = hashlib.sha256()
    for name, digest in sorted(digests.items()):
        h.update(f"{name}\0{digest}\0".encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def changed_files(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Files whose digest differs between two maps, each with how (changed, added, removed)."""
    out = []
    for name in sorted(set(before) | set(after)):
        if name not in after:
            out.append(f"{name} (removed)")
        elif name not in before:
            out.append(f"{name} (added)")
        elif before[name] != after[name]:
            out.append(f"{name} (changed)")
    return out


def fingerprint(root: Path, features: str = DEFAULT_FEATURES) -> str:
    """sha256 over every annotation file of ``root`` and every feature file's name and size.

    The fingerprint of a whole folder (``backpack synth`` prints it); a dataset opened for some
    tasks fingerprints only the files it reads (:meth:`Ego4DDataset.fingerprint`).
    """
    ann = sorted(p for p in (root / ANNOTATIONS).iterdir() if p.suffix == ".json")
    feats = sorted(p for p in (root / features).iterdir() if p.suffix in (".pt", ".npy") and p.is_file())
    return combine(file_digests(root, ann, feats))


def data_change(before: dict[str, str], after: dict[str, str]) -> str:
    """A sentence naming the files whose digests differ (at most 5), or "" when none or unknown."""
    if not before:  # a run recorded before per-file digests existed: nothing to compare
        return ""
    changed = changed_files(before, after)
    if not changed:
        return ""
    more = f", and {len(changed) - 5} more" if len(changed) > 5 else ""
    return f" The data changed: {', '.join(changed[:5])}{more}."
