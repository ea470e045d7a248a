"""Sweep EgoPack's k (nearest prototypes) and depth (interaction layers) on the demo's data, over
seeds, like the paper's Fig. 4; also the key comparison EgoPack vs MTL+FT vs single-task.

Usage::

    python experiments/sweep_k_depth.py --novel oscc --seeds 0 1 2 --out ./backpack-demo \\
        --markdown experiments/results/sweep_k_depth.md
    python experiments/sweep_k_depth.py --novel ar --seeds 0 1 2 --methods-only

Each seed reuses (or trains) the demo's runs in ``OUT/seed-S`` (``backpack demo --seed S``), then
learns the novel task for every (k, depth) in ``OUT/seed-S/sweep/``. The table holds the mean and
standard deviation over seeds of the novel task's main metric (k = 0 is MTL+FT: no interaction).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

MAIN_METRIC = {"oscc": "accuracy", "ar": "verb_top1", "lta": "action_ed", "pnr": "loc_error_s"}
HIGHER_IS_BETTER = {"oscc": True, "ar": True, "lta": False, "pnr": False}


def _cell(values: list[float]) -> str:
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {sd:.3f}"


def sweep(
    out: Path,
    novel: str,
    seeds: list[int],
    ks: list[int],
    depths: list[int],
    methods_only: bool,
    device: str = "cpu",
) -> dict[str, Any]:
    from backpack.pipeline.demo import DemoConfig, run_demo
    from backpack.pipeline.learn import evaluate_learner_run, learn_novel_task

    metric = MAIN_METRIC[novel]
    methods: dict[str, list[float]] = {}
    grid: dict[tuple[int, int], list[float]] = {}
    for seed in seeds:
        cfg = DemoConfig(novel=novel, seed=seed)
        res = run_demo(out, cfg, device=device, progress=False, log=lambda m: print(m, file=sys.stderr))
        for method, tasks in res["table"].items():
            if novel in tasks:
                methods.setdefault(method, []).append(tasks[novel][metric])
        print(f"seed {seed}: " + ", ".join(f"{m} {v[-1]:.3f}" for m, v in methods.items()), file=sys.stderr)
        if methods_only:
            continue
        mtl = Path(res["runs"]["mtl"])
        root = mtl.parent.parent
        store = root / f"store-{mtl.name}"
        for k in ks:
            for depth in depths if k > 0 else [depths[0]]:
                run_dir = root / "sweep" / f"{novel}-k{k}-d{depth}"
                if not (run_dir / "checkpoint.json").is_file():
                    if run_dir.exists():
                        import shutil

                        shutil.rmtree(run_dir)
                    learn_novel_task(
                        root / "data",
                        mtl,
                        f"{store}@mtl",
                        run_dir,
                        cfg.learn_config(k=k, depth=depth),
                        device=device,
                        progress=False,
                    )
                value = evaluate_learner_run(run_dir, root / "data", device=device)[novel][metric]
                grid.setdefault((k, depth), []).append(value)
                print(f"seed {seed} k {k} depth {depth}: {value:.3f}", file=sys.stderr)
    return {
        "novel": novel,
        "metric": metric,
        "seeds": seeds,
        "methods": methods,
        "grid": {f"k{k}-d{d}": v for (k, d), v in grid.items()},
        "ks": ks,
        "depths": depths,
    }


def to_markdown(result: dict[str, Any]) -> str:
    novel, metric = result["novel"], result["metric"]
    better = "higher" if HIGHER_IS_BETTER[novel] else "lower"
    lines = [
        f"Novel task {novel.upper()}, {metric} ({better} is better), mean ± sd over seeds {result['seeds']}.",
        "",
        "| Method | " + f"{novel.upper()} {metric} |",
        "|---|---|",
    ]
    lines += [f"| {m} | {_cell(v)} |" for m, v in result["methods"].items()]
    if result["grid"]:
        depths = result["depths"]
        lines += [
            "",
            "| k \\ depth | " + " | ".join(str(d) for d in depths) + " |",
            "|---|" + "---|" * len(depths),
        ]
        for k in result["ks"]:
            cells = [
                _cell(result["grid"].get(f"k{k}-d{d}", []))
                if k > 0
                else _cell(result["grid"].get(f"k0-d{depths[0]}", []))
                for d in depths
            ]
            lines.append(f"| {k}{' (MTL+FT)' if k == 0 else ''} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--novel", default="oscc", choices=sorted(MAIN_METRIC))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--ks", type=int, nargs="+", default=[0, 1, 2, 4, 8])
    p.add_argument("--depths", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--out", type=Path, default=Path("./backpack-demo"))
    p.add_argument("--methods-only", action="store_true", help="Only EgoPack vs MTL+FT vs single-task.")
    p.add_argument("--markdown", type=Path, default=None, help="Also write the table to this file.")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    result = sweep(args.out, args.novel, args.seeds, args.ks, args.depths, args.methods_only, args.device)
    md = to_markdown(result)
    print(md)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        # the file says how it was made (thread count matters: float sums differ across thread counts)
        cmd = " ".join(
            ["python", "experiments/sweep_k_depth.py", *(argv if argv is not None else sys.argv[1:])]
        )
        threads = os.environ.get("OMP_NUM_THREADS", "default")
        args.markdown.write_text(f"Command: `OMP_NUM_THREADS={threads} {cmd}`\n\n{md}\n")
        args.markdown.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
