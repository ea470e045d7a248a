"""Ego4D v1 FHO at a fraction of its full size: every stage timed, its peak memory and disk, vs its floor.

The data (``ego4d_scale_data.py``: unstructured features, real counts) are scaled by
``--fractions``: 115 verbs, 478 nouns, 3,000 (verb, noun) pairs, 1536-d float16 features at
Omnivore's rate (one per 16 frames at 30 fps), OSCC v1 train 41,085 / val 28,348 clips (EgoPack's
asserts), LTA as assumed there. They are generated into ``--work`` (nothing is committed), in the
layout backpack reads, afresh for every run.

Stages, each in a fresh process (peak RSS = VmHWM of that process): ``cache`` (the feature cache
of every video), ``train`` (ar,lta,pnr, one epoch), ``build``, ``learn`` (oscc, one epoch),
``evaluate`` (the train run and the learn run on val) and ``predict`` (a hook: run where that
command exists). Floors: for ``cache`` reading the feature files and writing twice their bytes
with fsync, timed just before (the files were just written: the reads come from the page cache);
for model stages the stage's FLOPs
(torch's counter, a second run of the stage under ``FlopCounterMode``) at the rate of a 1024^3
float32 GEMM timed just before the stage. faiss's k-NN GEMMs are not in the count (the floors of
``build``/``learn``/``evaluate`` are a bit low, their ratios a bit high).

Model widths: EgoPack's AR config (hidden 1024) and D_k 256 by default; batch sizes the CLI's.

    python experiments/ego4d_scale.py --fractions 1/64,1/32 --out experiments/results/ego4d_scale
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

from backpack.data import layout

ROOT, PYPATH = str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helpers next to this script
from ego4d_scale_report import STAGES, extrapolate, report  # noqa: E402

OUTPUTS = {"train": "run", "build": "store", "learn": "learn"}  # what a stage writes under the work folder


def _vm_hwm_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _du(path: Path) -> int:
    return (
        path.stat().st_size
        if path.is_file()
        else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        if path.exists()
        else 0
    )


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one stage in this (fresh) process: seconds, peak RSS and, when asked, FLOPs."""
    import contextlib

    import torch

    from backpack.cli.main import cli
    from backpack.data import Ego4DDataset
    from backpack.pipeline import build, evaluate, learn, train  # noqa: F401  (imports out of the time)

    flops, t0 = None, time.perf_counter()
    if spec["stage"] == "cache":
        ds = Ego4DDataset(spec["data"])
        for uid in ds.video_uids:
            ds.features(uid)
    else:
        counter: Any = contextlib.nullcontext()
        if spec.get("count_flops"):
            from torch.utils.flop_counter import FlopCounterMode

            counter = FlopCounterMode(display=False)
        with counter:
            try:
                cli.main(spec["argv"], prog_name="backpack", standalone_mode=False)
            except SystemExit as exc:  # a click command that exits 0 on its own
                if exc.code not in (0, None):
                    raise
        if spec.get("count_flops"):
            flops = float(counter.get_total_flops())
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "peak_rss_mb": _vm_hwm_mb(),
        "flops": flops,
        "threads": torch.get_num_threads(),
    }


def _run_worker(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={
            **os.environ,
            "DGLBACKEND": "pytorch",
            "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, PYPATH])),
        },
    )
    if out.returncode != 0:
        raise RuntimeError(f"stage {spec['stage']} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def gemm_gflops(n: int = 1024, rounds: int = 5) -> float:
    """This process's float32 GEMM rate (median of ``rounds``), the reference of the model floors."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    ts = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        torch.mm(a, b)
        ts.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(ts) / 1e9


def io_floor_seconds(folder: Path, scratch: Path) -> tuple[float, int]:
    """The cache stage's floor: read every file of ``folder``, write twice its bytes (float16 sources
    become float32 entries) to ``scratch`` and fsync, as the cache's atomic writes do. Seconds, bytes read."""
    t0, total = time.perf_counter(), 0
    with open(scratch, "wb") as out:
        for p in sorted(folder.iterdir()):
            with open(p, "rb") as fh:
                while chunk := fh.read(1 << 24):
                    total += len(chunk)
                    out.write(chunk)
                    out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    seconds = time.perf_counter() - t0
    scratch.unlink()
    return seconds, total


def _argv(stage: str, data: Path, work: Path, args: argparse.Namespace) -> list[str] | None:
    common = ["--data", str(data), "--graph-engine", "native", "--device", "cpu"]
    nproc = ["--nproc", str(args.nproc)] if args.nproc > 1 else []
    if stage == "train":
        return ["train", *common, "--tasks", "ar,lta,pnr", "--out", str(work / "run"), "--epochs", "1"]
    if stage == "build":
        return ["build", str(work / "run"), *common, "--store", str(work / "store"), *nproc]
    if stage == "learn":
        return [
            "learn", "--task", "oscc", *common, "--from", str(work / "run"),
            "--store", str(work / "store"), "--out", str(work / "learn"), "--epochs", "1",
        ]  # fmt: skip
    if stage.startswith("evaluate"):
        run = work / ("run" if stage == "evaluate_train" else "learn")
        return ["evaluate", str(run), *common, "--split", "val", "--json"]
    if stage == "predict":  # where this version of the CLI has the command (it registers lazily)
        from backpack.cli.main import COMMANDS

        if "predict" not in COMMANDS:
            return None
        return ["predict", str(work / "run"), *common, "--split", "val", "--out", str(work / "pred")]
    raise ValueError(stage)


def measure(fraction: Fraction, args: argparse.Namespace) -> dict[str, Any]:
    """Generate the data at ``fraction`` (if absent) and run every stage: the row of the table."""
    from ego4d_scale_data import write_scaled

    tag = f"{fraction.numerator}_{fraction.denominator}"
    data, work = args.work / f"data-{tag}", args.work / f"work-{tag}"
    t0 = time.perf_counter()
    shutil.rmtree(data, ignore_errors=True)
    counts = write_scaled(data, float(fraction), dim=args.dim, seed=0)
    gen_s = time.perf_counter() - t0
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    counts["feature_bytes"] = _du(data / layout.DEFAULT_FEATURES)
    row: dict[str, Any] = {"fraction": str(fraction), "generate_s": gen_s, "data": counts}
    for stage in STAGES:
        if stage == "cache":
            floor, nbytes = io_floor_seconds(data / layout.DEFAULT_FEATURES, work / "io-floor.bin")
            res = _run_worker({"stage": "cache", "data": str(data)}, args.timeout)
            res.update(floor_s=floor, floor_kind=f"read {nbytes / 2**20:.0f} MiB, write 2x")
            res["disk_bytes"] = _du(data / layout.CACHE_FOLDER)
        else:
            argv = _argv(stage, data, work, args)
            if argv is None:
                row[stage] = None
                continue
            if stage == "train":
                argv += ["--hidden", str(args.hidden), "--feat-dim", str(args.feat_dim)]
                argv += ["--nproc", str(args.nproc)] if args.nproc > 1 else []
            rate = gemm_gflops()
            res = _run_worker({"stage": stage, "argv": argv}, args.timeout)
            if args.count_flops and args.nproc == 1:
                # the same stage again under the FLOP counter (slower: its time is not used)
                out = OUTPUTS.get(stage)
                if out:
                    shutil.move(str(work / out), str(work / f"{out}.timed"))
                res["flops"] = _run_worker({"stage": stage, "argv": argv, "count_flops": True}, args.timeout)[
                    "flops"
                ]
                if out:
                    shutil.rmtree(work / out)
                    shutil.move(str(work / f"{out}.timed"), str(work / out))
                res.update(
                    gemm_gflops=rate, floor_s=res["flops"] / (rate * 1e9), floor_kind="FLOPs / GEMM rate"
                )
            disk = OUTPUTS.get(stage)
            res["disk_bytes"] = _du(work / disk) if disk else 0
        if res.get("floor_s"):
            res["over_floor"] = res["seconds"] / res["floor_s"]
        row[stage] = res
        print(f"[{fraction}] {stage}: {res['seconds']:.1f} s, {res['peak_rss_mb']:.0f} MB", file=sys.stderr)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--fractions", default="1/256,1/128", help="Comma-separated fractions of full size.")
    p.add_argument("--work", type=Path, default=Path("/tmp/ego4d_scale"), help="Where data and runs go.")
    p.add_argument("--out", type=Path, help="Write OUT.json and OUT.md (the table).")
    p.add_argument("--dim", type=int, default=1536, help="Feature width (Omnivore: 1536).")
    p.add_argument("--hidden", type=int, default=1024, help="Backbone width (EgoPack's AR config: 1024).")
    p.add_argument("--feat-dim", type=int, default=256, help="D_k of the task features.")
    p.add_argument("--nproc", type=int, default=1, help="Processes for train and build (torchrun).")
    p.add_argument("--no-flops", dest="count_flops", action="store_false", help="Skip the FLOP count runs.")
    p.add_argument("--keep", action="store_true", help="Keep the runs and store of each fraction.")
    p.add_argument("--timeout", type=float, default=3600.0, help="Seconds per stage.")
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    rows = []
    for f in args.fractions.split(","):
        rows.append(measure(Fraction(f), args))
        if args.out:  # each finished fraction is kept even if a later, larger one fails
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.with_suffix(".partial.json").write_text(json.dumps(rows, indent=1) + "\n")
    import torch

    result = {
        "command": "python experiments/ego4d_scale.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0],
        "config": {k: getattr(args, k) for k in ("dim", "hidden", "feat_dim", "nproc")},
        "rows": rows,
        "full_size": {
            st: {k: extrapolate(rows, st, k) for k in ("seconds", "floor_s", "peak_rss_mb", "disk_bytes")}
            for st in STAGES
        },
    }
    table = report(rows, args)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
        args.out.with_suffix(".table.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
