"""What every figure of ``backpack`` shares (file format, dpi, a footer naming its source, metric
units) and the training curves of ``backpack curves``. Torch-free: matplotlib and numpy only."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from backpack.errors import ConfigError, RunError, invalid

FORMATS = ("png", "pdf", "svg")
DPI = 150  # sharp in a PDF viewer, small as a PNG
FOOTER_SIZE = 7
# task -> unit of its metrics, as table headers and axis labels show it
UNITS = {"ar": "%", "oscc": "%", "lta": "fraction", "pnr": "s"}
# a curve's headline metric per task (others are drawn too when present)
LOWER_IS_BETTER = {"lta": True, "pnr": True, "ar": False, "oscc": False}


def metric_label(task: str, metric: str) -> str:
    """``"verb_top1 (%)"``: a metric with its unit."""
    unit = UNITS.get(task)
    return f"{metric} ({unit})" if unit else metric


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (never a window)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def check_format(fmt: str, dpi: int) -> None:
    """``fmt`` is one of :data:`FORMATS`; ``dpi`` is positive."""
    if fmt not in FORMATS:
        raise ConfigError(invalid("format", "figures", " or ".join(FORMATS), fmt))
    if not isinstance(dpi, int) or dpi < 10:
        raise ConfigError(invalid("dpi", "figures", "an int >= 10", dpi))


def short_store(url: str | os.PathLike[str], version: int | str | None = None) -> str:
    """A store as a footer names it: ``store@3`` for ``/home/me/work/store/``, ``s3://bucket/prefix@3``.

    A local path keeps its last component (an absolute path says little and leaks the user's tree);
    a remote URL is kept whole, as it names the bucket.
    """
    text = str(url).rstrip("/")
    if text.startswith("file://"):
        text = text[len("file://") :]
    if "://" not in text:
        text = Path(text).name or text
    return text if version is None else f"{text}@{version}"


def add_footer(fig: Any, **fields: Any) -> Any:
    """A small grey line at the bottom left naming where the figure comes from (run, store, split)."""
    text = "   ".join(f"{k.replace('_', ' ')} {v}" for k, v in fields.items() if v not in (None, ""))
    return fig.text(0.005, 0.005, text, fontsize=FOOTER_SIZE, color="0.4", ha="left", va="bottom")


def save(fig: Any, folder: Path, stem: str, fmt: str = "png", dpi: int = DPI) -> Path:
    """Write ``fig`` as ``folder/stem.fmt`` (room kept for the footer) and close it."""
    plt = pyplot()
    path = Path(folder) / f"{stem}.{fmt}"
    fig.savefig(path, dpi=dpi, bbox_inches="tight", pad_inches=0.12)
    plt.close(fig)
    return path


def read_history(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The per-epoch records of a run folder (``metrics.jsonl``, one JSON object per line)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise RunError(
            f"Missing file {str(path)!r}: {str(run_dir)!r} is not a run folder with training records."
        )
    records = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise RunError(f"Invalid line {i} of {str(path)!r}: not JSON.") from None
    if not records:
        raise RunError(f"No epoch recorded in {str(path)!r}. Expected at least 1 line. Got 0.")
    return records


def curve_figures(
    runs: Sequence[str | os.PathLike[str]],
    labels: Sequence[str] | None = None,
) -> dict[str, Any]:
    """One figure per task found in ``runs``: its training loss and validation metrics against epoch,
    one line per run (so a single-task, an MTL+FT and an EgoPack run of a task can be compared).

    Returns ``{task: figure}``; the figures are open (close them, or pass them to :func:`save`).
    """
    plt = pyplot()
    histories = [read_history(r) for r in runs]
    names = list(labels) if labels else [Path(r).name for r in runs]
    tasks = sorted(
        {t for h in histories for rec in h for t in rec.get("val", {})}
        | {t for h in histories for rec in h for t in rec.get("train_loss", {})}
    )
    figures = {}
    for task in tasks:
        metrics = sorted({m for h in histories for rec in h for m in rec.get("val", {}).get(task, {})})
        fig, axes = plt.subplots(1, 1 + len(metrics), figsize=(3.6 * (1 + len(metrics)), 3.2), squeeze=False)
        axes = axes[0]
        for hist, name in zip(histories, names):
            epochs = [rec["epoch"] for rec in hist]
            loss = [rec.get("train_loss", {}).get(task, float("nan")) for rec in hist]
            if any(v == v for v in loss):  # a run without this task draws nothing
                axes[0].plot(epochs, loss, marker="o", ms=3, label=name)
            for ax, metric in zip(axes[1:], metrics):
                vals = [_num(rec.get("val", {}).get(task, {}).get(metric)) for rec in hist]
                if any(v == v for v in vals):
                    ax.plot(epochs, vals, marker="o", ms=3, label=name)
        axes[0].set_title(f"{task}: training loss", fontsize=10)
        axes[0].set_ylabel("loss")
        for ax, metric in zip(axes[1:], metrics):
            better = "lower" if LOWER_IS_BETTER.get(task) else "higher"
            ax.set_title(f"{task}: validation {metric} ({better} is better)", fontsize=10)
            ax.set_ylabel(metric_label(task, metric))
        for ax in axes:
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
            ax.xaxis.get_major_locator().set_params(integer=True)
        axes[-1].legend(title="run", fontsize=8, title_fontsize=8, loc="best")
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        add_footer(fig, runs=", ".join(Path(r).name for r in runs), split="val")
        figures[task] = fig
    return figures


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def write_curves(
    runs: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    labels: Sequence[str] | None = None,
    fmt: str = "png",
    dpi: int = DPI,
) -> list[Path]:
    """Write ``curves_<task>.<fmt>`` into ``out`` for every task of ``runs`` (see :func:`curve_figures`)."""
    check_format(fmt, dpi)
    if labels and len(labels) != len(runs):
        raise ConfigError(invalid("labels", "curves", f"{len(runs)} labels (one per run)", len(labels)))
    folder = Path(out)
    figures = curve_figures(runs, labels)
    folder.mkdir(parents=True, exist_ok=True)
    return [save(fig, folder, f"curves_{task}", fmt, dpi) for task, fig in figures.items()]


__all__ = [
    "DPI",
    "FORMATS",
    "UNITS",
    "add_footer",
    "check_format",
    "curve_figures",
    "metric_label",
    "read_history",
    "save",
    "short_store",
    "write_curves",
]
