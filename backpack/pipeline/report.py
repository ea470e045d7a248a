"""What ``backpack inspect`` reports about a store, and its optional similarity-map plots.

Kept out of :mod:`backpack.cli.store_cmds` so the commands stay thin. Imports numpy only inside
the functions: the CLI modules must load with click and the standard library alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backpack.store import Backpack, TaskView

PLOT_PROTOTYPES = 200  # a similarity map of more rows is unreadable at screen size


def support_stats(support: Any) -> dict[str, float | int]:
    """min / median / max / total of a task's support counts."""
    import numpy as np

    s = np.asarray(support)
    return {"min": int(s.min()), "median": float(np.median(s)), "max": int(s.max()), "total": int(s.sum())}


def task_summary(view: TaskView, n_verbs: int, n_nouns: int) -> dict[str, Any]:
    """Dim, count, vocabulary coverage, support statistics, index and stored size of one task."""
    import numpy as np

    keys = np.asarray(view.keys)
    verbs, nouns = np.unique(keys[:, 0]).size, np.unique(keys[:, 1]).size
    spec = view.index_spec
    return {
        "name": view.name,
        "dim": view.dim,
        "count": view.count,
        "written_in": view.entry.written_in,
        "coverage": {
            "verbs": int(verbs),
            "verbs_fraction": round(verbs / n_verbs, 4),
            "nouns": int(nouns),
            "nouns_fraction": round(nouns / n_nouns, 4),
        },
        "support": support_stats(view.support),
        "index": {
            "type": spec.type,
            "params": dict(spec.params),
            "recall_at_k": spec.recall_at_k,
            "k": spec.recall_k,
        },
        "bytes": view.stored_bytes,
    }


def store_summary(bp: Backpack) -> dict[str, Any]:
    """Everything ``inspect`` shows about the version ``bp`` reads (plus the store's versions and tags)."""
    import numpy as np

    versions = bp.versions()
    out: dict[str, Any] = {
        "store": bp.url,
        "versions": versions,
        "latest": versions[-1] if versions else None,
        "tags": bp.tags(),
        "vocabulary": {"verbs": len(bp.verbs), "nouns": len(bp.nouns)},
        "bytes": bp.backend.disk_usage(""),
        "version": bp.version,
        "tasks": [],
    }
    if bp.version is None:
        return out
    manifest = bp.manifest
    out.update(
        parent=manifest.parent,
        created_at=manifest.created_at,
        message=manifest.message,
        format_version=manifest.format_version,
        provenance=manifest.provenance.to_dict(),
    )
    views = [bp.task(name) for name in bp.task_names]
    out["tasks"] = [task_summary(v, len(bp.verbs), len(bp.nouns)) for v in views]
    if views:
        all_keys = np.concatenate([np.asarray(v.keys) for v in views])
        out["coverage"] = {
            "verbs": int(np.unique(all_keys[:, 0]).size),
            "nouns": int(np.unique(all_keys[:, 1]).size),
        }
    return out


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def format_summary(s: dict[str, Any]) -> str:
    """The human-readable form of :func:`store_summary`."""
    tags = ", ".join(f"{k} -> {v}" for k, v in sorted(s["tags"].items())) or "none"
    lines = [
        f"store     {s['store']}",
        f"versions  {len(s['versions'])} (latest {s['latest']}); tags: {tags}",
        f"vocabulary {s['vocabulary']['verbs']} verbs, {s['vocabulary']['nouns']} nouns; size {_size(s['bytes'])}",
    ]
    if s["version"] is None:
        return "\n".join(lines + ["(no versions yet)"])
    lines.append(
        f"version   {s['version']} (parent {s['parent']}), {s['created_at']}: {s['message'] or '(no message)'}"
    )
    if "coverage" in s:
        lines.append(f"coverage  {s['coverage']['verbs']} verbs, {s['coverage']['nouns']} nouns (all tasks)")
    header = f"{'task':<12} {'dim':>5} {'count':>8} {'verbs':>6} {'nouns':>6} {'support min/med/max':>21} {'index':<6} {'recall':>7} {'size':>10}"
    lines += ["", header, "-" * len(header)]
    for t in s["tasks"]:
        sup = t["support"]
        rec = t["index"]["recall_at_k"]
        rec_s = (
            "exact"
            if t["index"]["type"] == "flat"
            else ("-" if rec is None else f"{rec:.3f}@{t['index']['k']}")
        )
        sup_s = f"{sup['min']}/{sup['median']:g}/{sup['max']}"
        lines.append(
            f"{t['name']:<12} {t['dim']:>5} {t['count']:>8} {t['coverage']['verbs']:>6} {t['coverage']['nouns']:>6} "
            f"{sup_s:>21} {t['index']['type']:<6} {rec_s:>7} {_size(t['bytes']):>10}"
        )
    return "\n".join(lines)


def similarity_matrix(prototypes: Any, keys: Any, limit: int = PLOT_PROTOTYPES) -> tuple[Any, Any]:
    """Cosine similarities of the first ``limit`` prototypes in verb order; also their (sorted) keys."""
    import numpy as np

    order = np.argsort(np.asarray(keys)[:, 0], kind="stable")[:limit]
    x = np.asarray(prototypes, dtype=np.float64)[order]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms > 0, norms, 1.0)
    return (x @ x.T).astype(np.float32), np.asarray(keys)[order]


def plot_similarity_maps(bp: Backpack, out_dir: str | Path) -> list[Path]:
    """Write ``<task>.png`` per task: the prototype similarity map (verb-sorted). Needs matplotlib."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in bp.task_names:
        view = bp.task(name)
        sim, _ = similarity_matrix(view.prototypes, view.keys)
        fig, ax = plt.subplots(figsize=(6, 5))
        im = ax.imshow(sim, vmin=-1, vmax=1, cmap="RdBu_r", interpolation="nearest")
        ax.set_title(f"{name}: cosine similarity of {sim.shape[0]} prototypes (by verb), v{bp.version}")
        ax.set_xlabel("prototype (sorted by verb)")
        ax.set_ylabel("prototype (sorted by verb)")
        fig.colorbar(im, ax=ax)
        path = out / f"{name}.png"
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
        written.append(path)
    return written
