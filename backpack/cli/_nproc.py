"""``--nproc N`` for click commands: relaunch the command under torchrun (stdlib + click only).

Usage in a CLI module (the decorator goes *below* ``@click.command``)::

    @click.command("build")
    @nproc_option
    def build_cmd(...): ...   # the body runs on every rank; no nproc parameter is passed to it
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

HELP = (
    "Processes to run on this machine with torchrun (torch.distributed, gloo on CPU / nccl on GPUs); "
    "only rank 0 writes. For several machines run torchrun yourself (docs/distributed.md)."
)


def command_argv(ctx: click.Context, skip: tuple[str, ...] = ("nproc",)) -> list[str]:
    """The command line (command name first) that reproduces ``ctx``'s parameters."""
    argv: list[str] = [ctx.info_name or ctx.command.name or ""]
    positional: list[str] = []
    for param in ctx.command.params:
        if param.name in skip or param.name not in ctx.params:
            continue
        value = ctx.params[param.name]
        if isinstance(param, click.Argument):
            values = value if isinstance(value, (list, tuple)) else [value]
            positional += [str(v) for v in values if v is not None]
            continue
        if not isinstance(param, click.Option) or value is None or param.hidden and value == param.default:
            continue
        if param.is_flag and not param.count:
            if value == param.default:
                continue
            if value:
                argv.append(param.opts[0])
            elif param.secondary_opts:
                argv.append(param.secondary_opts[0])
            continue
        if param.count:
            argv += [param.opts[0]] * int(value)
            continue
        values = value if param.multiple else [value]
        for v in values:
            if isinstance(v, (list, tuple)):  # nargs > 1
                argv += [param.opts[0], *map(str, v)]
            else:
                argv += [param.opts[0], str(v)]
    return argv + (["--", *positional] if any(p.startswith("-") for p in positional) else positional)


def nproc_option(func: F) -> F:
    """Add ``--nproc N``: with N > 1 (outside torchrun) re-run the command on N processes and exit."""

    @click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True, help=HELP)
    @functools.wraps(func)
    def wrapper(*args: Any, nproc: int = 1, **kwargs: Any) -> Any:
        from backpack.distributed.env import under_torchrun

        if under_torchrun():  # started by torchrun (directly or through --nproc): join the job
            from backpack.distributed.env import init_from_env

            init_from_env()
        elif nproc > 1:
            from backpack.cli.launch import launch

            ctx = click.get_current_context()
            sys.exit(launch(command_argv(ctx), nproc))
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


__all__ = ["command_argv", "nproc_option"]
