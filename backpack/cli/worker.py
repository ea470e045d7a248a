"""The program each torchrun worker runs: join the process group, run one ``backpack`` command.

``python -m backpack.cli.worker <backpack arguments>``. Only rank 0 keeps stdout (so
``--json`` prints one document) and progress bars; every rank keeps stderr. A rank that fails
prints ``Error: [rank R/N] ...`` and records its error for the launcher
(:func:`backpack.cli.launch.launch`), then exits non-zero: torchrun stops the others.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from backpack import safe_json
from backpack.cli.launch import HIDDEN_ARGS_VAR, HIDDEN_OPTION, STATUS_DIR_VAR


class _Tail:
    """stderr that also keeps its last lines, to find the ``Error: ...`` line a command printed."""

    def __init__(self, stream: TextIO, keep: int = 8192) -> None:
        self._stream, self._keep, self.text = stream, keep, ""

    def write(self, s: str) -> int:
        self.text = (self.text + s)[-self._keep :]
        return self._stream.write(s)

    def last_error(self) -> str:
        lines = [ln for ln in self.text.splitlines() if ln.startswith("Error: ")]
        return lines[-1][len("Error: ") :] if lines else ""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _record_failure(rank: int, world: int, code: int, error: str) -> None:
    status_dir = os.environ.get(STATUS_DIR_VAR)
    if not status_dir:
        return
    path = Path(status_dir) / f"rank{rank:05d}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps({"rank": rank, "world_size": world, "code": code, "error": error, "time": time.time()})
    )
    os.replace(tmp, path)  # the launcher never reads a half-written record


def run_as_rank(body: Callable[[], Any]) -> int:
    """Join the job (torchrun's environment), run ``body``, leave; return the rank's exit code.

    A failure (an exception, or a command exiting non-zero) prints ``Error: [rank R/N] ...`` on
    stderr and leaves a record for the launcher. Non-zero ranks get no stdout and no progress bars.
    """
    import click

    from backpack.distributed.env import init_from_env, shutdown
    from backpack.errors import BackpackError

    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    if rank != 0:
        os.environ["TQDM_DISABLE"] = "1"  # one progress display per job
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 -- one JSON document per job
    tail = _Tail(sys.stderr)
    sys.stderr = tail  # type: ignore[assignment]
    code, error = 0, ""
    try:
        init_from_env()
        body()
    except click.exceptions.Exit as exc:
        code = int(exc.exit_code)
    except click.ClickException as exc:
        code, error = exc.exit_code, exc.format_message()
    except click.exceptions.Abort:
        code, error = 1, "aborted"
    except SystemExit as exc:  # the commands' fail() helpers exit with their code
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        error = "" if code == 0 else (tail.last_error() or f"the command exited with code {code}")
    except BackpackError as exc:
        code, error = 2, str(exc)
    except Exception as exc:  # noqa: BLE001 -- any crash must stop the job with a clear message
        traceback.print_exc()
        code, error = 1, f"{type(exc).__name__}: {exc}"
    sys.stderr = tail._stream
    if code != 0:
        print(f"Error: [rank {rank}/{world}] {error}", file=sys.stderr, flush=True)
        _record_failure(rank, world, code, error)
    else:
        shutdown()
    return code


def restore_storage_options(args: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    """``args`` with the ``--storage-option`` values :func:`~backpack.cli.launch.launch` moved
    into ``environ[HIDDEN_ARGS_VAR]`` put back right after the command name."""
    raw = environ.get(HIDDEN_ARGS_VAR)
    if not raw or not args:
        return list(args)
    values = safe_json.loads(raw, f"${HIDDEN_ARGS_VAR}")
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError(
            f"Invalid value of ${HIDDEN_ARGS_VAR}. Expected a JSON list of strings. "
            f"Got {type(values).__name__}."
        )
    return [args[0], *(tok for v in values for tok in (HIDDEN_OPTION, v)), *args[1:]]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``backpack <argv>`` as one rank of the job; return its exit code."""
    given = list(sys.argv[1:] if argv is None else argv)

    def body() -> None:
        from backpack.cli.main import cli

        args = restore_storage_options(given, os.environ)  # a bad value fails like any rank error
        cli.main(args=args, prog_name="backpack", standalone_mode=False)

    return run_as_rank(body)


def exit_now(code: int) -> None:
    """Flush and end the process at once: a rank's job is done, and waiting for library threads
    (OpenMP, DGL, gloo) at interpreter exit could keep torchrun waiting on a finished worker."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
