"""The one progress reporter of the library and the CLI (torch-free; tqdm only on a terminal).

On a terminal a tqdm bar is drawn. When stderr is a file or a pipe (a cluster log, ``2> log``)
a bar's carriage returns and cursor escapes turn into kilobytes of garbage, so the same progress
is written as plain lines, at most one every ``interval`` seconds (and always the last one)::

    epochs: 3/10 (30%) loss 0.412

Callers decide whether to report at all (``--quiet``, ``--json`` and every rank but 0 turn it off).
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

PLAIN_INTERVAL_S = 10.0  # a log line every 10 s at most: readable, and small over hours


def is_terminal(stream: IO[str] | None = None) -> bool:
    """Whether ``stream`` (default stderr) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or not a real file
        return False


class Progress:
    """Progress of ``total`` steps: a tqdm bar on a terminal, plain periodic lines otherwise.

    Parameters
    ----------
    total : int
        Number of steps.
    desc : str
        What is counted (``"epochs"``, ``"build"``).
    unit : str
        Unit shown after the count in plain lines (``""`` for none).
    enabled : bool
        False: report nothing (quiet, JSON output, ranks other than 0).
    initial : int
        Steps already done (a resumed run).
    interval : float
        Seconds between two plain lines; 0 writes one per update.
    stream : file, optional
        Where to write (default stderr, read when the object is made).
    """

    def __init__(
        self,
        total: int,
        desc: str,
        *,
        unit: str = "",
        enabled: bool = True,
        initial: int = 0,
        interval: float = PLAIN_INTERVAL_S,
        leave: bool = True,
        stream: IO[str] | None = None,
    ) -> None:
        self.total, self.desc, self.unit, self.n = int(total), desc, unit, int(initial)
        self.enabled, self.interval = enabled, interval
        self.stream = sys.stderr if stream is None else stream
        self.postfix = ""
        self._bar: Any = None
        self._last = time.monotonic()
        self._printed_n = self.n
        if enabled and is_terminal(self.stream):
            from tqdm import tqdm

            self._bar = tqdm(
                total=self.total, desc=desc, initial=self.n, leave=leave, file=self.stream, unit=unit or "it"
            )

    def line(self) -> str:
        """The plain form of the current state."""
        pct = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        unit = f" {self.unit}" if self.unit else ""
        post = f" {self.postfix}" if self.postfix else ""
        return f"{self.desc}: {self.n}/{self.total}{unit}{pct}{post}"

    def update(self, n: int = 1) -> None:
        """``n`` more steps done."""
        self.n += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._last >= self.interval or (self.n >= self.total and self._printed_n < self.total):
            self._emit(now)

    def set_postfix(self, text: str) -> None:
        """Text shown after the count (e.g. ``"loss 0.412"``)."""
        self.postfix = text
        if self._bar is not None and self.enabled:
            self._bar.set_postfix_str(text)

    def _emit(self, now: float) -> None:
        print(self.line(), file=self.stream, flush=True)
        self._last, self._printed_n = now, self.n

    def close(self) -> None:
        """End the bar (plain mode: nothing more; the last line was written by ``update``)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


__all__ = ["PLAIN_INTERVAL_S", "Progress", "is_terminal"]
