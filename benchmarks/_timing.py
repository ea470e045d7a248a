"""Interleaved timing rounds shared by the benchmark suites.

The machine is shared and noisy: every round times each case once, one after the other, so that
drift (another process taking a core) hits all cases of a round alike, and the ratios the suites
report compare cases measured side by side.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any


def interleaved_times(
    benchmark: Any,
    fns: Mapping[str, Callable[[], Any]],
    rounds: int,
    *,
    inner: int = 1,
    results: dict[str, Any] | None = None,
) -> dict[str, list[float]]:
    """Seconds per call of every case of ``fns`` in each of ``rounds`` interleaved rounds.

    One warm-up round (first-call allocations, thread pools) is run and discarded, then the
    rounds go through ``benchmark.pedantic``. Each case is called ``inner`` times per round (the
    time is the mean per call); ``results``, when given, receives each case's last return value.
    """
    times: dict[str, list[float]] = {name: [] for name in fns}

    def one_round() -> None:
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(inner):
                out = fn()
            times[name].append((time.perf_counter() - t0) / inner)
            if results is not None:
                results[name] = out

    one_round()
    for ts in times.values():
        ts.clear()
    benchmark.pedantic(one_round, rounds=rounds, iterations=1, warmup_rounds=0)
    return times
