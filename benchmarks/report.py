"""Print pytest-benchmark JSON results as a Markdown table (used by ``make bench``).

Usage::

    python benchmarks/report.py benchmarks/results/latest.json [more.json ...] > latest.md

One row per benchmark: timings, then a *ratio* column with every ``extra_info`` entry whose name
holds ``ratio`` or ``_over_`` (e.g. ``store_over_faiss 0.97x``), then the other ``extra_info``
entries. Exit code 2 (with one ``Error:`` line on stderr) for a missing or unreadable file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def is_ratio(name: str) -> bool:
    """Whether an ``extra_info`` entry is a ratio (shown in the ratio column)."""
    return "ratio" in name or "_over_" in name


def fmt_time(seconds: float) -> str:
    """Seconds with a readable unit: ``12.3 us``, ``4.56 ms``, ``1.23 s``."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def fmt_value(value: Any) -> str:
    """A compact cell value: floats with 4 significant digits, dicts as k=v lists."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={fmt_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def rows(data: dict[str, Any]) -> list[list[str]]:
    """Table rows (without header) for one pytest-benchmark JSON document."""
    out = []
    for bench in data.get("benchmarks", []):
        stats = bench.get("stats") or {}
        extra = bench.get("extra_info") or {}
        ratios = ", ".join(
            f"{k} {v:.3g}x" if isinstance(v, (int, float)) else f"{k} {v}"
            for k, v in extra.items()
            if is_ratio(k)
        )
        others = ", ".join(f"{k}={fmt_value(v)}" for k, v in extra.items() if not is_ratio(k))
        timing = [
            fmt_time(stats[s]) if isinstance(stats.get(s), (int, float)) else "-"
            for s in ("mean", "median", "min", "stddev")
        ]
        out.append(
            [
                bench.get("fullname") or bench.get("name", "?"),
                *timing,
                str(stats.get("rounds", "-")),
                fmt_value(stats.get("ops")) if "ops" in stats else "-",
                ratios or "-",
                others or "-",
            ]
        )
    return out


HEADER = ["benchmark", "mean", "median", "min", "stddev", "rounds", "ops/s", "ratio", "extra_info"]


def render(documents: list[tuple[str, dict[str, Any]]]) -> str:
    """The Markdown report of several JSON documents (one table, one context line per document)."""
    lines = ["# Benchmark results", ""]
    table: list[list[str]] = []
    for name, data in documents:
        machine = data.get("machine_info") or {}
        cpu = (machine.get("cpu") or {}).get("brand_raw", "?")
        commit = (data.get("commit_info") or {}).get("id", "?")
        lines.append(
            f"- `{name}`: {data.get('datetime', '?')}, commit {str(commit)[:10]}, {cpu}, "
            f"Python {machine.get('python_version', '?')}"
        )
        table += rows(data)
    lines.append("")
    if not table:
        return "\n".join(lines + ["No benchmark results (were they run with --benchmark-disable?).", ""])
    lines.append("| " + " | ".join(HEADER) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * 6 + ["---", "---"]) + "|")
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table]
    return "\n".join(lines + [""])


def main(argv: list[str]) -> int:
    """Print the report of the JSON files in ``argv``; 2 on bad input."""
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 0 if argv else 2
    documents = []
    for arg in argv:
        try:
            data = json.loads(Path(arg).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            print(f"Error: cannot read benchmark results {arg!r}: {exc}", file=sys.stderr)
            return 2
        if not isinstance(data, dict) or not isinstance(data.get("benchmarks", []), list):
            print(
                f"Error: {arg!r} is not pytest-benchmark JSON. Expected an object with 'benchmarks'.",
                file=sys.stderr,
            )
            return 2
        documents.append((arg, data))
    sys.stdout.write(render(documents))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
