"""Figures of the reliability tests, per attack class: cases tried, survived, losses, peak memory.

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=. python experiments/reliability_figures.py \\
        --markdown experiments/results/reliability.md --json experiments/results/reliability.json

Runs the default (not ``slow``) hostile-input, kill, concurrency and write-error tests in this
process through pytest and reads what they report: each test case is one attack (a parametrized
case counts once), *survived* means the test passed (the attack was refused with a house error,
or the store stayed consistent), *lost* sums the ``lost: N`` / ``damaged: N`` / ``changed: N`` /
``crashes: N`` figures the tests print (a class whose tests print none says so), and the peak
memory column lists every ``peak X MiB (bound Y MiB)`` line the tests print next to the bound
their assertion enforces. Nothing here is computed beside the tests: a number the tests do not
measure is reported as not measured. About 4 minutes on one core.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import time
from pathlib import Path
from typing import Any

# class -> pytest node-id prefixes (relative to the repository root)
CLASSES: dict[str, list[str]] = {
    "lost updates (stale parent, update retry)": [
        "tests/store/test_lost_updates.py::test_stale",
        "tests/store/test_lost_updates.py::test_retry",
        "tests/store/test_lost_updates.py::test_writer",
        "tests/store/test_state_machine.py",
        "tests/store/test_concurrency.py",
        "tests/reliability/test_load.py",
    ],
    "tag churn while reading": ["tests/store/test_lost_updates.py::test_tags"],
    "metadata integrity (manifests, tags, index settings)": ["tests/store/test_metadata_integrity.py"],
    "orphans and gc (local, S3, zip)": ["tests/store/test_gc.py", "tests/store/test_s3_gc.py"],
    "hostile JSON (depth, huge numbers)": ["tests/reliability/test_hostile_json.py"],
    "sizes: arrays, bundles, query files": [
        "tests/reliability/test_hostile_sizes.py",
        "tests/reliability/test_bundle_in_place.py",
        "tests/reliability/test_hostile_bundle.py",
        "tests/reliability/test_hostile_store.py",
        "tests/reliability/test_write_errors.py::test_query",
    ],
    ".pt feature files": ["tests/reliability/test_pt_sizes.py"],
    "feature cache (NaN, changed files)": ["tests/reliability/test_cache_seal.py"],
    "pickle payloads": ["tests/reliability/test_checkpoint_pickle.py"],
    "write path (errno, UTF-8, escapes, NaN JSON)": [
        "tests/reliability/test_write_errors.py::test_refused",
        "tests/reliability/test_write_errors.py::test_message",
        "tests/reliability/test_write_errors.py::test_log",
        "tests/reliability/test_write_errors.py::test_inspect",
        "tests/reliability/test_disk_full.py",
        "tests/reliability/test_readonly.py",
    ],
    "SIGKILL of writers (store API)": ["tests/reliability/test_kill_store.py"],
    "S3 outage": ["tests/reliability/test_s3_outage.py"],
    "fuzzed metadata, stores, bundles": ["tests/reliability/test_fuzz.py"],
}

_PEAK = re.compile(r"^(?P<what>.*?):? (?:peak|RSS grew) (?P<peak>[\d.]+) MiB \(bound (?P<bound>[\d.]+)")
_LOST = re.compile(r"(?:lost|partial|damaged|changed|crashes|false damage)\"?: (\d+)")
_FIGURE = re.compile(r"kills|kill points|injected|outages|fuzz|load:|inputs|writers|churn|gc on", re.I)


class _Recorder:
    """A pytest plugin keeping, per test case, its outcome and what it printed."""

    def __init__(self) -> None:
        self.cases: dict[str, dict[str, Any]] = {}

    def pytest_runtest_logreport(self, report: Any) -> None:
        case = self.cases.setdefault(report.nodeid, {"outcome": "passed", "out": ""})
        if report.failed:
            case["outcome"] = "failed"
        elif report.skipped and case["outcome"] == "passed" and report.when in ("setup", "call"):
            case["outcome"] = "skipped"
        if report.when == "call":
            case["out"] += report.capstdout


def _class_of(nodeid: str) -> str | None:
    for name, prefixes in CLASSES.items():
        if any(nodeid.startswith(p) for p in prefixes):
            return name
    return None


def summarise(cases: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per class from the recorded cases."""
    rows = []
    for name in CLASSES:
        mine = {k: v for k, v in cases.items() if _class_of(k) == name}
        lines = [ln.strip() for c in mine.values() for ln in c["out"].splitlines() if ln.strip()]
        losses = [int(m) for ln in lines for m in _LOST.findall(ln)]
        peaks = [m.groupdict() for ln in lines if (m := _PEAK.match(ln))]
        rows.append(
            {
                "class": name,
                "cases": len(mine),
                "survived": sum(c["outcome"] == "passed" for c in mine.values()),
                "failed": sorted(k for k, c in mine.items() if c["outcome"] == "failed"),
                "skipped": sum(c["outcome"] == "skipped" for c in mine.values()),
                "lost": sum(losses) if losses else None,
                "loss_reports": len(losses),
                "peaks": peaks,
                "figures": [ln for ln in lines if _FIGURE.search(ln) and not _PEAK.match(ln)],
            }
        )
    return rows


def _peak_cell(peaks: list[dict[str, str]]) -> str:
    """``n measured: min-max MiB (bound b MiB)`` per bound; the full list goes under the table."""
    by_bound: dict[str, list[float]] = {}
    for p in peaks:
        by_bound.setdefault(p["bound"], []).append(float(p["peak"]))
    parts = [
        f"{len(v)} measured: {min(v):.2f}-{max(v):.2f} MiB (bound {b} MiB)"
        for b, v in sorted(by_bound.items(), key=lambda kv: float(kv[0]))
    ]
    return "; ".join(parts) or "-"


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The table (and the printed figures under it)."""
    out = [
        "# Reliability figures",
        "",
        f"`python experiments/reliability_figures.py` on {meta['date']}: Python {meta['python']}, "
        f"{meta['wall_s']:.0f} s wall, OMP_NUM_THREADS=1, the default (not slow) tests. One case = one "
        "test case (a parametrized case counts once; one case may hold many attacks, see the figures "
        "below). *lost*: the sum of the loss counts the tests print (`lost`, `damaged`, `changed`, "
        "`false damage`, "
        "`crashes`); 'not printed' where a class's tests assert it but print no count. Peak memory: "
        "tracemalloc (RSS growth for the FAISS claim) of each hostile-input case that measures it, "
        "next to the bound its assertion enforces.",
        "",
        "| class | cases | survived | lost | peak memory vs bound |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lost = "not printed" if r["lost"] is None else f"{r['lost']} ({r['loss_reports']} counts)"
        peaks = _peak_cell(r["peaks"])
        survived = f"{r['survived']}" + (f" (failed: {', '.join(r['failed'])})" if r["failed"] else "")
        if r["skipped"]:
            survived += f" ({r['skipped']} skipped)"
        out.append(f"| {r['class']} | {r['cases']} | {survived} | {lost} | {peaks} |")
    out += ["", "## Peak memory of each hostile-input case", ""]
    for r in rows:
        for p in r["peaks"]:
            out.append(f"- {r['class']}: {p['what']}: {p['peak']} MiB (bound {p['bound']} MiB)")
    out += ["", "## Figures printed by the tests", ""]
    for r in rows:
        for line in r["figures"]:
            out.append(f"- {r['class']}: {line}")
    out += [
        "",
        "Not run here (slow, minutes each): `backpack build` SIGKILLed through the real CLI "
        "(`tests/reliability/test_kill_cli.py`), 200 random kills, the 60 s load test, 8 x 5 S3 "
        "writers, kill + resume of train/learn; run them with `pytest -m slow tests/reliability`.",
        "",
    ]
    return "\n".join(out)


def main() -> None:
    """Run the tests, write the tables."""
    import pytest

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", type=Path, default=Path("experiments/results/reliability.md"))
    parser.add_argument("--json", type=Path, default=Path("experiments/results/reliability.json"))
    args = parser.parse_args()
    files = sorted({p.split("::")[0] for prefixes in CLASSES.values() for p in prefixes})
    recorder = _Recorder()
    t0 = time.monotonic()
    pytest.main(["-q", "-m", "not slow", "-p", "no:cacheprovider", *files], plugins=[recorder])
    cases = {k: v for k, v in recorder.cases.items() if _class_of(k) is not None}
    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "wall_s": time.monotonic() - t0,
    }
    rows = summarise(cases)
    args.markdown.write_text(markdown(rows, meta))
    args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    print(args.markdown.read_text())


if __name__ == "__main__":
    main()
