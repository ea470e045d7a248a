"""The table of ``experiments/ego4d_scale.py``: stages by fraction, and the line to full size."""

from __future__ import annotations

import argparse
import statistics
from fractions import Fraction
from typing import Any

STAGES = ("cache", "train", "build", "learn", "evaluate_train", "evaluate_learn", "predict")


def extrapolate(rows: list[dict[str, Any]], stage: str, key: str) -> float | None:
    """``key`` of ``stage`` at full size: the least-squares line through (fraction, value), at 1."""
    pts = [
        (float(Fraction(r["fraction"])), r[stage][key]) for r in rows if r.get(stage) and r[stage].get(key)
    ]
    if not pts:
        return None
    if len(pts) < 2:  # a line needs two sizes (a stage has a fixed part: imports, the model)
        return None
    xs, ys = zip(*pts)
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x in xs)
    return my + slope * (1.0 - mx)


def _fmt(x: float | None, unit: str = "") -> str:
    return "-" if x is None else f"{x:,.1f}{unit}" if abs(x) < 1000 else f"{x:,.0f}{unit}"


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    """The Markdown table: every stage at every fraction, then the line extrapolated to full size."""
    lines = [
        "| fraction | stage | wall s | floor s | over floor | peak RSS MB | disk MB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        for st in STAGES:
            v = r.get(st)
            if v is None:
                lines.append(f"| {r['fraction']} | {st} | not run (no such command) | | | | |")
                continue
            cells = [v["seconds"], v.get("floor_s"), v.get("over_floor"), v["peak_rss_mb"]]
            lines.append(
                f"| {r['fraction']} | {st} | {_fmt(cells[0])} | {_fmt(cells[1])} | {_fmt(cells[2], 'x')} | "
                f"{_fmt(cells[3])} | {_fmt(v['disk_bytes'] / 2**20)} |"
            )
    for st in STAGES:
        w, f = extrapolate(rows, st, "seconds"), extrapolate(rows, st, "floor_s")
        m, d = extrapolate(rows, st, "peak_rss_mb"), extrapolate(rows, st, "disk_bytes")
        ratio = w / f if w and f else None
        lines.append(
            f"| **1 (extrapolated)** | {st} | {_fmt(w)} | {_fmt(f)} | {_fmt(ratio, 'x')} "
            f"| {_fmt(m)} | {_fmt(d / 2**20 if d else None)} |"
        )
    return "\n".join(lines) + "\n"
