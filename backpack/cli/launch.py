"""``--nproc N``: re-execute a ``backpack`` command under ``torchrun`` on this machine.

The command line becomes::

    python -m torch.distributed.run --nnodes 1 --nproc-per-node N --master-addr 127.0.0.1 \
        --master-port <free> -m backpack.cli.worker <the same arguments, without --nproc>

Each worker (:mod:`backpack.cli.worker`) joins the process group and runs the command;
torchrun stops every worker as soon as one fails. Workers that fail leave a small status file,
so the launcher can name the rank and its error instead of torchrun's generic summary. For
several machines, run torchrun yourself on each (see docs/distributed.md)::

    torchrun --nnodes 2 --node-rank 0 --nproc-per-node 8 --master-addr HOST --master-port 29500 \
        -m backpack.cli.worker train --data data/ --tasks ar,lta --out runs/mtl
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from backpack import safe_json
from backpack.errors import ConfigError, invalid

STATUS_DIR_VAR = "BACKPACK_DIST_STATUS_DIR"
WORKER_MODULE = "backpack.cli.worker"
# --storage-option values (credentials) reach the workers through this variable (a JSON list), not
# their command lines: any user of the machine can read a command line (ps), not the environment.
HIDDEN_ARGS_VAR = "BACKPACK_DIST_STORAGE_OPTIONS"
HIDDEN_OPTION = "--storage-option"


def hide_storage_options(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``argv`` without its ``--storage-option`` values, and those values (in order).

    Both ``--storage-option V`` and ``--storage-option=V`` are taken out; nothing after ``--``.
    """
    shown: list[str] = []
    hidden: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            shown += args[i:]
            break
        if arg == HIDDEN_OPTION and i + 1 < len(args):
            hidden.append(args[i + 1])
            i += 2
            continue
        if arg.startswith(HIDDEN_OPTION + "="):
            hidden.append(arg[len(HIDDEN_OPTION) + 1 :])
        else:
            shown.append(arg)
        i += 1
    return shown, hidden


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def torchrun_command(
    argv: Sequence[str],
    nproc: int,
    *,
    port: int | None = None,
    monitor_interval: float = 0.5,
    entry: Sequence[str] = ("-m", WORKER_MODULE),
) -> list[str]:
    """The torchrun command line that runs ``backpack <argv>`` on ``nproc`` local processes.

    Parameters
    ----------
    argv : the ``backpack`` arguments, e.g. ``["build", "runs/mtl", "--store", "store/"]``.
    nproc : processes on this machine (>= 1).
    port : rendezvous port on 127.0.0.1 (default: a free one).
    monitor_interval : how often (s) torchrun checks its workers: how soon a failure stops the job.
    entry : what each worker runs (default: the ``backpack`` worker; a script path for tests).
    """
    if not isinstance(nproc, int) or isinstance(nproc, bool) or nproc < 1:
        raise ConfigError(invalid("nproc", "the launcher", "an integer >= 1", repr(nproc)))
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "1",
        "--node-rank",
        "0",
        "--nproc-per-node",
        str(nproc),
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(port or free_port()),
        "--max-restarts",
        "0",
        "--monitor-interval",
        str(monitor_interval),
        *entry,
        *argv,
    ]


def read_failures(status_dir: str | os.PathLike[str]) -> list[dict]:
    """Status records of the workers that failed, earliest first."""
    out = []
    for path in sorted(Path(status_dir).glob("rank*.json")):
        try:
            out.append(safe_json.load_file(path))
        except (OSError, ValueError):  # a worker killed while writing it: its record is useless
            continue
    return sorted(out, key=lambda r: (r.get("time", 0.0), r.get("rank", 0)))


def _run(cmd: list[str], env: dict[str, str], timeout: float | None) -> int:
    """Run torchrun in its own process group, so a timeout ends its workers too."""
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    try:
        return proc.wait(timeout=timeout)
    except BaseException:  # a timeout or Ctrl-C: stop torchrun and every worker it started
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        raise


def launch(
    argv: Sequence[str],
    nproc: int,
    *,
    env: dict[str, str] | None = None,
    entry: Sequence[str] = ("-m", WORKER_MODULE),
    timeout: float | None = None,
) -> int:
    """Run ``backpack <argv>`` on ``nproc`` processes with torchrun; return the exit code.

    0 when every rank succeeded; otherwise the code of the first rank that failed (2 for bad
    input, 1 otherwise), after printing ``Error: ... rank R of N ...`` on stderr. ``entry`` is
    what each worker runs (see :func:`torchrun_command`); ``timeout`` (s) bounds the whole job.
    The ``--storage-option`` values go to the ``backpack`` worker in its environment, not on its
    command line (see :data:`HIDDEN_ARGS_VAR`).
    """
    run_env = dict(os.environ if env is None else env)
    # torchrun prints a banner about OMP_NUM_THREADS when it is unset: set it (cores per process)
    run_env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    argv = list(argv)
    if tuple(entry) == ("-m", WORKER_MODULE):  # only our worker knows to put them back
        argv, hidden = hide_storage_options(argv)
        run_env.pop(HIDDEN_ARGS_VAR, None)
        if hidden:
            run_env[HIDDEN_ARGS_VAR] = json.dumps(hidden)
    with tempfile.TemporaryDirectory(prefix="backpack-dist-") as status_dir:
        run_env[STATUS_DIR_VAR] = status_dir
        rc = _run(torchrun_command(argv, nproc, entry=entry), run_env, timeout)
        if rc == 0:
            return 0
        failures = read_failures(status_dir)
    if failures:
        first = failures[0]
        print(
            f"Error: the distributed job stopped: rank {first.get('rank')} of {nproc} failed: "
            f"{first.get('error')} (every rank was stopped; only rank 0 writes, atomically, "
            "so nothing was half-written).",
            file=sys.stderr,
        )
        code = int(first.get("code", 1))
        return code if code in (1, 2) else 1
    print(
        f"Error: the distributed job stopped: torchrun exited with code {rc} "
        "(a worker was killed; see the messages above).",
        file=sys.stderr,
    )
    return 1


__all__ = [
    "HIDDEN_ARGS_VAR",
    "STATUS_DIR_VAR",
    "free_port",
    "hide_storage_options",
    "launch",
    "read_failures",
    "torchrun_command",
]
