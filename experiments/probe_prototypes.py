"""Which store tasks know the action? Prototype retrieval accuracy of the demo's backpacks.

Usage::

    python experiments/probe_prototypes.py --out ./backpack-demo --seeds 0 1 2 \\
        --markdown experiments/results/probe_prototypes.md

For each seed and novel task whose demo runs exist in ``OUT/seed-S`` (see ``sweep_k_depth.py``),
the multi-task run's heads embed the AR **val** clips and each store task's nearest prototype is
compared with the clip's (verb, noun) (:func:`backpack.pipeline.probe.probe_store`). It explains
the key result: EgoPack can only help a novel task through store tasks that retrieve better than chance.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

ALL = ("ar", "lta", "oscc", "pnr")


def probe(out: Path, seeds: list[int], novels: list[str], k: int = 1) -> dict[str, Any]:
    from backpack.data import Ego4DDataset
    from backpack.pipeline import load_run
    from backpack.pipeline.probe import probe_store
    from backpack.store import Backpack

    rows: dict[str, dict[str, dict[str, list[float]]]] = {}
    for novel in novels:
        name = "mtl-" + "-".join(t for t in ALL if t != novel)
        for seed in seeds:
            root = out / f"seed-{seed}"
            run_dir, store = root / "runs" / name, root / f"store-{name}"
            if not (run_dir / "checkpoint.json").is_file() or not store.is_dir():
                print(f"skip {novel} seed {seed}: no {run_dir} or {store}", file=sys.stderr)
                continue
            with Backpack.open(store, version="mtl") as bp:
                res = probe_store(
                    load_run(run_dir).model,
                    Ego4DDataset(root / "data"),
                    {t: bp.task(t) for t in bp.task_names},
                    k=k,
                )
            for task, hits in res.items():
                for key, v in hits.items():
                    rows.setdefault(novel, {}).setdefault(task, {}).setdefault(key, []).append(v)
            print(
                f"{novel} seed {seed}: " + ", ".join(f"{t} verb {h['verb']:.2f}" for t, h in res.items()),
                file=sys.stderr,
            )
    return {"seeds": seeds, "k": k, "rows": rows}


def to_markdown(result: dict[str, Any]) -> str:
    lines = [
        f"Nearest-prototype (k = {result['k']}) hit rate on the AR val clips, mean over seeds "
        f"{result['seeds']}.",
        "",
        "| novel task (store built without it) | store task | verb | noun | (verb, noun) | chance verb | "
        "chance noun |",
        "|---|---|---|---|---|---|---|",
    ]
    for novel, tasks in result["rows"].items():
        for task, hits in tasks.items():
            cells = [
                f"{statistics.mean(hits[k]):.2f}"
                for k in ("verb", "noun", "pair", "chance_verb", "chance_noun")
            ]
            lines.append(f"| {novel.upper()} | {task} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("./backpack-demo"))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--novel", nargs="+", default=list(ALL), choices=ALL)
    p.add_argument("--k", type=int, default=1)
    p.add_argument("--markdown", type=Path, default=None)
    args = p.parse_args(argv)
    result = probe(args.out, args.seeds, args.novel, args.k)
    md = to_markdown(result)
    print(md)
    if args.markdown:
        cmd = " ".join(
            ["python", "experiments/probe_prototypes.py", *(argv if argv is not None else sys.argv[1:])]
        )
        args.markdown.write_text(f"Command: `{cmd}`\n\n{md}\n")
        args.markdown.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
