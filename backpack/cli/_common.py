"""Helpers shared by the CLI commands: JSON output and error mapping to exit codes."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from backpack.errors import BackpackError, CheckError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_FAILED_CHECK = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C


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


def json_safe(obj: Any) -> Any:
    """Non-finite floats (a metric without samples, a diverged loss) become null: valid JSON."""
    import math

    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def report_run(run_dir: Any, history: list[dict[str, Any]], as_json: bool, **fields: Any) -> None:
    """The end of `train` / `learn`: the last epoch's loss and metrics (JSON on stdout, or a log)."""
    last = history[-1] if history else {}
    if as_json:
        echo_json(
            json_safe(
                {
                    "run": str(run_dir),
                    **fields,
                    "epoch": last.get("epoch"),
                    "loss": last.get("loss"),
                    "val": last.get("val", {}),
                }
            )
        )
        return
    log(f"Run written to {run_dir} (epoch {last.get('epoch')}, loss {last.get('loss', float('nan')):.4f}).")
    for task, metrics in last.get("val", {}).items():
        log(f"  {task}: " + ", ".join(format_metric(k, v) for k, v in metrics.items()))


# counts reported beside the metrics (LTA windows, PNR clips) and the PNR fps: shown as plain numbers
COUNT_KEYS = ("windows", "clips", "fps")


def format_metric(name: str, value: float | None) -> str:
    """``"verb_ed 0.912"``, ``"windows 106"``; a missing value (NaN in JSON: null) is ``n/a``."""
    if value is None or value != value:
        return f"{name} n/a"
    return f"{name} {value:g}" if name in COUNT_KEYS else f"{name} {value:.3f}"


def log(msg: str) -> None:
    """Human-readable progress and logs go to stderr."""
    click.echo(msg, err=True)


class _StderrHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        log(record.getMessage())


def show_data_log() -> None:
    """Send the data loader's info lines (which v1/ or v2/ folder was used) to stderr, once."""
    logger = logging.getLogger("backpack.data")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        logger.addHandler(_StderrHandler())
        logger.setLevel(logging.INFO)
        logger.propagate = False


def fail(msg: str, code: int = EXIT_FAILED_CHECK) -> None:
    """Print ``Error: msg`` on stderr and exit with ``code``."""
    click.echo(f"Error: {msg}", err=True)
    sys.exit(code)


# Library messages name Python calls; on the command line the same advice names flags/commands.
_CLI_WORDS: tuple[tuple[str, str], ...] = (
    ("Create one with Backpack.create().", "Create one with `backpack build RUN --data DATA --store STORE`."),
    ("pass overwrite=True to replace it", "pass --overwrite to replace it"),
    ("Use import_bundle() to unpack it into a directory", "Use `backpack import BUNDLE DIR` to unpack it"),
)
_SKIP_MISSING = ". Pass skip_missing=True (--skip-missing) to drop them."


def cli_words(message: str, command: click.Command | None = None) -> str:
    """``message`` with its Python hints (``Backpack.create()``, ``overwrite=True``...) in CLI words.

    The ``--skip-missing`` hint is kept only for commands that have the flag.
    """
    for python, cli in _CLI_WORDS:
        message = message.replace(python, cli)
    if _SKIP_MISSING in message:
        has_flag = command is not None and any(p.name == "skip_missing" for p in command.params)
        name = command.name if command is not None else "this command"
        hint = (
            ". Pass --skip-missing to drop them."
            if has_flag
            else f". Add the missing feature files (`backpack {name}` uses every clip of the data)."
        )
        message = message.replace(_SKIP_MISSING, hint)
    return message.replace("skip_missing=True", "--skip-missing")


def handle_errors(func: F) -> F:
    """Turn a :class:`BackpackError` into a one-line message in CLI words.

    Exit code 2 for bad input, 1 for a failed check.
    """
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CheckError as exc:
            fail(str(exc), code=EXIT_FAILED_CHECK)
        except BackpackError as exc:
            ctx = click.get_current_context(silent=True)
            fail(cli_words(str(exc), ctx.command if ctx else None), code=EXIT_USAGE)
        except OSError as exc:  # full disk, read-only file system, ulimit -f: one line, exit 1
            from backpack.errors import os_error_message

            fail(os_error_message(exc), code=EXIT_FAILED_CHECK)

    return wrapper  # type: ignore[return-value]


def preset_option(func: F) -> F:
    """``--preset default|paper`` (see :mod:`backpack.pipeline.presets`)."""
    return click.option(
        "--preset",
        default="default",
        show_default=True,
        type=click.Choice(["default", "paper"]),
        help="paper: the EgoPack recipe (Adam, batch 16, 30/40/10 epochs for AR/LTA/OSCC-PNR, lr 1e-4 "
        "AR/LTA, 1e-6 OSCC/PNR); flags given explicitly still win.",
    )(func)


def apply_preset(
    preset: str, tasks: list[str], values: dict[str, Any], learn: bool = False
) -> dict[str, Any]:
    """``values`` with the preset's settings, except the options given explicitly on the command line."""
    from backpack.pipeline.presets import preset_settings

    ctx = click.get_current_context()
    out = dict(values)
    for name, value in preset_settings(preset, tasks, learn).items():
        if ctx.get_parameter_source(name) != click.core.ParameterSource.COMMANDLINE:
            out[name] = value
    return out


def quiet_option(func: F) -> F:
    """``--quiet / -q``: no progress on stderr (warnings and errors still go there)."""
    return click.option("--quiet", "-q", "quiet", is_flag=True, help="No progress output on stderr.")(func)


# The options many commands take, declared once: the same name, default, help and behaviour everywhere.
def json_option(func: F) -> F:
    """``--json``: only the result, as JSON, on stdout (logs and progress go to stderr or nowhere)."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print only the result as JSON on stdout (no progress)."
    )(func)


def device_option(func: F) -> F:
    """``--device auto|cpu|cuda[:i]`` (auto: CUDA when available, else the CPU)."""
    return click.option(
        "--device", default="auto", show_default=True, help="auto (CUDA when available), cpu or cuda[:i]."
    )(func)


def graph_engine_option(func: F) -> F:
    """``--graph-engine auto|dgl|native``: how the temporal graph's message passing runs."""
    return click.option(
        "--graph-engine",
        "engine",
        default="auto",
        show_default=True,
        type=click.Choice(["auto", "dgl", "native"]),
        help="Temporal graph engine: dgl, native (plain torch), or auto (dgl where installed).",
    )(func)


def tensorboard_option(func: F) -> F:
    """``--tensorboard DIR``: also write each epoch's loss and validation metrics as TensorBoard scalars."""
    return click.option(
        "--tensorboard",
        "tensorboard",
        default=None,
        metavar="DIR",
        type=click.Path(file_okay=False),
        help="Also log each epoch's loss and validation metrics to TensorBoard in DIR (needs the "
        "tensorboard package).",
    )(func)


def epoch_logger(tensorboard: str | None) -> tuple[Any, Any]:
    """``(on_epoch, close)`` for ``--tensorboard DIR`` (``(None, no-op)`` without it).

    Called before any data loads: without the tensorboard package it raises at once (no torch yet).
    """
    if tensorboard is None:
        return None, lambda: None
    from backpack.pipeline.tensorboard_log import epoch_logger as logger
    from backpack.pipeline.tensorboard_log import require_tensorboard

    require_tensorboard()
    return logger(tensorboard)


def figure_options(func: F) -> F:
    """``--format png|pdf|svg`` and ``--dpi`` of the commands that draw figures (explain, curves, inspect)."""
    func = click.option(
        "--dpi", default=150, show_default=True, type=click.IntRange(min=10), help="Resolution of PNG files."
    )(func)
    return click.option(
        "--format",
        "fmt",
        default="png",
        show_default=True,
        type=click.Choice(["png", "pdf", "svg"]),  # backpack.pipeline.figures.FORMATS (not imported here)
        help="File format of the figures.",
    )(func)


def data_option(exists: bool) -> Callable[[F], F]:
    """``--data DIR``: the data root. ``exists``: click refuses a missing folder (the commands without
    it check the root themselves, where the message can name the Ego4D layout levels)."""
    return click.option(
        "--data",
        "data",
        required=True,
        type=click.Path(exists=exists, file_okay=False),
        help="Data root (Ego4D layout).",
    )


def skip_missing_option(func: F) -> F:
    """``--skip-missing``: drop clips whose video has no feature file (default: such a clip is an error)."""
    return click.option(
        "--skip-missing", "skip_missing", is_flag=True, help="Drop clips whose video has no feature file."
    )(func)


def resume_command(extra: tuple[str, ...] = ("--resume",)) -> str:
    """The command line that re-runs the current command (plus ``extra`` when not already given)."""
    import shlex

    from backpack.cli._nproc import command_argv

    ctx = click.get_current_context()
    # only what the user typed (defaults stay implicit); --nproc kept: the job resumes as it ran
    defaults = tuple(
        name for name in ctx.params if ctx.get_parameter_source(name) == click.core.ParameterSource.DEFAULT
    )
    argv = command_argv(ctx, skip=defaults)
    argv += [e for e in extra if e not in argv]
    return "backpack " + shlex.join(argv)


def interrupted(kept: str, extra: tuple[str, ...] = ("--resume",)) -> None:
    """The one way ``build``, ``learn`` and ``train`` end on Ctrl-C: what was kept, and how to go on.

    Exits with code 130 (stopped by SIGINT) after one line on stderr.
    """
    fail(f"Interrupted. {kept} Continue with: {resume_command(extra)}", code=EXIT_INTERRUPTED)


def saved_epoch(out: str, epochs: int) -> str:
    """What an interrupted ``train`` / ``learn`` kept in ``out``: its last finished epoch (no torch)."""
    from pathlib import Path

    try:
        epoch = int(json.loads((Path(out) / "checkpoint.json").read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return f"No epoch had finished: nothing is saved in {out} yet."
    return f"Epoch {epoch} of {epochs} is the last one saved in {out}."
