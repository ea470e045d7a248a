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
# A task whose prototypes have a median pairwise cosine above this has collapsed: its prototypes
# are (nearly) one vector, so retrieving from it tells the learner little about the action. On a
# 3-epoch run of the synthetic data the medians were AR 0.77, LTA 0.95, PNR 0.99 (the demo: 0.995).
COLLAPSED_COSINE = 0.95
SPREAD_SAMPLE = 512  # pairwise cosines over at most this many prototypes (seeded choice): O(n^2)


def cosine_spread(prototypes: Any, limit: int = SPREAD_SAMPLE) -> dict[str, float]:
    """Quartiles of the pairwise cosine similarity of a task's prototypes (off-diagonal pairs)."""
    import numpy as np

    x = np.asarray(prototypes, dtype=np.float64)
    if x.shape[0] > limit:
        x = x[np.sort(np.random.default_rng(0).choice(x.shape[0], limit, replace=False))]
    if x.shape[0] < 2:
        return {"q25": float("nan"), "median": float("nan"), "q75": float("nan")}
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms > 0, norms, 1.0)
    sim = (x @ x.T)[np.triu_indices(x.shape[0], k=1)]
    q25, med, q75 = np.percentile(sim, [25, 50, 75])
    return {"q25": round(float(q25), 4), "median": round(float(med), 4), "q75": round(float(q75), 4)}


def support_stats(support: Any) -> dict[str, float | int]:
    """min / median / max / total of a task's support counts."""
    import numpy as np

    s = np.asarray(support)
    return {"min": int(s.min()), "median": float(np.median(s)), "max": int(s.max()), "total": int(s.sum())}


def _spread_or_none(view: TaskView) -> dict[str, float] | None:
    """:func:`cosine_spread` of a task, or None when its prototypes fail their checksum (``verify``
    names that damage; ``inspect`` still shows everything else)."""
    from backpack.errors import IntegrityError

    try:
        return cosine_spread(view.prototypes)
    except IntegrityError:
        return None


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
        "cosine": (spread := _spread_or_none(view)),
        "collapsed": None if spread is None else bool(spread["median"] > COLLAPSED_COSINE),
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
        f"vocabulary {s['vocabulary']['verbs']} verbs, {s['vocabulary']['nouns']} nouns; size "
        f"{_size(s['bytes'])}",
    ]
    if s["version"] is None:
        return "\n".join(lines + ["(no versions yet)"])
    lines.append(
        f"version   {s['version']} (parent {'-' if s['parent'] is None else s['parent']}), "
        f"{s['created_at']}: {s['message'] or '(no message)'}"
    )
    if "coverage" in s:
        lines.append(f"coverage  {s['coverage']['verbs']} verbs, {s['coverage']['nouns']} nouns (all tasks)")
    header = (
        f"{'task':<12} {'dim':>5} {'count':>8} {'verbs':>6} {'nouns':>6} {'support min/med/max':>21} "
        f"{'cosine q25/med/q75':>20} {'index':<6} {'recall':>7} {'size':>10}"
    )
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
        cos = t["cosine"]
        cos_s = "damaged" if cos is None else f"{cos['q25']:.2f}/{cos['median']:.2f}/{cos['q75']:.2f}"
        lines.append(
            f"{t['name']:<12} {t['dim']:>5} {t['count']:>8} {t['coverage']['verbs']:>6} "
            f"{t['coverage']['nouns']:>6} "
            f"{sup_s:>21} {cos_s:>20} {t['index']['type']:<6} {rec_s:>7} {_size(t['bytes']):>10}"
        )
    lines += collapse_warnings(s)
    return "\n".join(lines)


def collapse_warnings(s: dict[str, Any]) -> list[str]:
    """One warning line per collapsed task of a :func:`store_summary`."""
    return [
        f"warning: task {t['name']!r} has collapsed: the median cosine of its prototypes is "
        f"{t['cosine']['median']:.3f} (> {COLLAPSED_COSINE}); they are nearly one vector and tell "
        "the learner little."
        for t in s["tasks"]
        if t.get("collapsed")
    ]


def similarity_matrix(prototypes: Any, keys: Any, limit: int = PLOT_PROTOTYPES) -> tuple[Any, Any]:
    """Cosine similarities of the first ``limit`` prototypes in verb order; also their (sorted) keys."""
    import numpy as np

    order = np.argsort(np.asarray(keys)[:, 0], kind="stable")[:limit]
    x = np.asarray(prototypes, dtype=np.float64)[order]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms > 0, norms, 1.0)
    return (x @ x.T).astype(np.float32), np.asarray(keys)[order]


def verb_groups(sorted_verbs: Any) -> list[tuple[int, int, int]]:
    """``(verb, start, end)`` runs of equal verbs in a verb-sorted key column."""
    groups: list[tuple[int, int, int]] = []
    for i, v in enumerate(int(x) for x in sorted_verbs):
        if groups and groups[-1][0] == v:
            groups[-1] = (v, groups[-1][1], i + 1)
        else:
            groups.append((v, i, i + 1))
    return groups


def similarity_figure(bp: Backpack, name: str) -> Any:
    """The similarity map of one task: verb groups named on the axes, colours over the data's range."""
    import numpy as np

    from backpack.pipeline.figures import add_footer, pyplot, short_store

    plt = pyplot()
    view = bp.task(name)
    sim, keys = similarity_matrix(view.prototypes, view.keys)
    spread = cosine_spread(view.prototypes)
    off = sim[~np.eye(sim.shape[0], dtype=bool)] if sim.shape[0] > 1 else sim.ravel()
    # the off-diagonal 2nd-98th percentiles: a collapsed task shows its (tiny) structure instead of
    # one flat square, and the title says how narrow the range is
    lo, hi = (float(v) for v in np.percentile(off, [2, 98]))
    if hi - lo < 1e-6:
        lo, hi = lo - 1e-3, hi + 1e-3
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    im = ax.imshow(sim, vmin=lo, vmax=hi, cmap="viridis", interpolation="nearest")
    groups = verb_groups(keys[:, 0])
    step = max(1, int(np.ceil(len(groups) / 40)))  # at most ~40 labels per axis stay readable
    centres = [(a + b - 1) / 2 for _, a, b in groups[::step]]
    labels = [bp.verbs[v] if v < len(bp.verbs) else str(v) for v, _, _ in groups[::step]]
    size = 7 if len(centres) <= 25 else 5
    ax.set_xticks(centres, labels, rotation=90, fontsize=size)
    ax.set_yticks(centres, labels, fontsize=size)
    for _, a, _ in groups[1:]:
        ax.axhline(a - 0.5, color="white", linewidth=0.3, alpha=0.6)
        ax.axvline(a - 0.5, color="white", linewidth=0.3, alpha=0.6)
    ax.set_xlabel("prototype, grouped by verb")
    ax.set_ylabel("prototype, grouped by verb")
    state = "  COLLAPSED" if spread["median"] > COLLAPSED_COSINE else ""
    ax.set_title(
        f"{name}: cosine similarity of {sim.shape[0]} of {view.count} prototypes{state}\n"
        f"median pairwise cosine {spread['median']:.3f} (quartiles {spread['q25']:.3f}-{spread['q75']:.3f})",
        fontsize=10,
    )
    bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    bar.set_label(f"cosine similarity (colours span {lo:.3f} to {hi:.3f})")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    add_footer(fig, store=short_store(bp.url, bp.version), task=name)
    return fig


def plot_similarity_maps(
    bp: Backpack, out_dir: str | Path, fmt: str = "png", dpi: int | None = None
) -> list[Path]:
    """Write ``<task>.<fmt>`` per task: its prototype similarity map (verb-sorted). Needs matplotlib."""
    from backpack.pipeline.figures import DPI, check_format, save

    dpi = DPI if dpi is None else dpi
    check_format(fmt, dpi)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [save(similarity_figure(bp, name), out, name, fmt, dpi) for name in bp.task_names]
