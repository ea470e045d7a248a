"""Helpers shared by the CLI commands: JSON output and error mapping to exit codes."""

from __future__ import annotations

import json
import sys
from typing import Any, Callable, TypeVar

import click

from backpack.errors import BackpackError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_FAILED_CHECK = 1
EXIT_USAGE = 2


def echo_json(obj: Any) -> None:
    """Print ``obj`` as JSON on stdout (and nothing else goes to stdout with ``--json``)."""
    click.echo(json.dumps(obj, indent=2, sort_keys=False, default=_default))


def _default(o: Any) -> Any:
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    if hasattr(o, "to_dict"):
        return o.to_dict()
    return str(o)


def log(msg: str) -> None:
    """Human-readable progress and logs go to stderr."""
    click.echo(msg, err=True)


def fail(msg: str, code: int = EXIT_FAILED_CHECK) -> None:
    """Print ``Error: msg`` on stderr and exit with ``code``."""
    click.echo(f"Error: {msg}", err=True)
    sys.exit(code)


def handle_errors(func: F) -> F:
    """Turn a :class:`BackpackError` into a one-line message and exit code 2 (bad input)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BackpackError as exc:
            fail(str(exc), code=EXIT_USAGE)

    return wrapper  # type: ignore[return-value]
