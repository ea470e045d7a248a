"""Which node input measures best? AR val top-1 of the single-task graph, both worlds, a few seeds.

Usage::

    python experiments/node_inputs.py --seeds 0 1 2 --epochs 30 \\
        --markdown experiments/results/node_inputs.md --json experiments/results/node_inputs.json

For each world ("clean", "noisy") and seed the small synthetic dataset is generated, the linear
probe (the floor) is fitted, and a single-task AR graph model is trained with each node input
(``mean``, ``submean``, ``sample``) and each ``standardize`` setting asked for. The metric is the
last epoch's val top-1 (no model selection), so nothing is picked on the val split.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any


def measure(world: str, seed: int, epochs: int, inputs: list[str], standardize: list[bool]) -> dict[str, Any]:
    """Probe and graph-model AR top-1 of one (world, seed)."""
    from backpack.data import world_config, write_synthetic
    from backpack.pipeline.linear_probe import linear_probe
    from backpack.pipeline.train import train_run

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = write_synthetic(Path(tmp) / "data", seed=seed, size=world_config("small", world))
        out["probe"] = linear_probe(data, "ar")["ar"]
        for ni in inputs:
            for std in standardize:
                run = train_run(
                    data,
                    "ar",
                    Path(tmp) / f"run_{ni}_{std}",
                    epochs=epochs,
                    seed=seed,
                    node_input=ni,
                    standardize=std,
                    device="cpu",
                    progress=False,
                )
                out[f"{ni}{'+std' if std else ''}"] = run.metrics_history[-1]["val"]["ar"]
    return out


def summarise(results: dict[str, dict[int, dict[str, Any]]]) -> str:
    """A markdown table: mean +- std over seeds of verb / noun top-1, per world and input."""
    lines = [
        "| world | input | verb top-1 | noun top-1 | % of probe (verb / noun) |",
        "|---|---|---|---|---|",
    ]
    for world, seeds in results.items():
        names = list(next(iter(seeds.values())))
        probe = {
            m: statistics.mean(s["probe"][m] for s in seeds.values()) for m in ("verb_top1", "noun_top1")
        }
        for name in names:
            cells = []
            for m in ("verb_top1", "noun_top1"):
                vals = [s[name][m] for s in seeds.values()]
                sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
                cells.append(f"{statistics.mean(vals):.1f} +- {sd:.1f}")
            ratio = " / ".join(
                f"{100 * statistics.mean(s[name][m] for s in seeds.values()) / probe[m]:.0f}%"
                for m in ("verb_top1", "noun_top1")
            )
            lines.append(f"| {world} | {name} | {cells[0]} | {cells[1]} | {ratio} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--worlds", nargs="+", default=["clean", "noisy"])
    p.add_argument("--inputs", nargs="+", default=["mean", "submean", "sample"])
    p.add_argument("--standardize", choices=["on", "off", "both"], default="on")
    p.add_argument("--markdown", type=Path)
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    std = {"on": [True], "off": [False], "both": [False, True]}[a.standardize]
    results = {w: {s: measure(w, s, a.epochs, a.inputs, std) for s in a.seeds} for w in a.worlds}
    table = summarise(results)
    print(table)
    if a.markdown:
        a.markdown.write_text(
            f"# Node inputs: AR val top-1, single-task graph, {a.epochs} epochs, seeds {a.seeds}\n\n"
            "Last epoch (no selection); small synthetic size; `probe` is the linear probe on each "
            "action's mean row.\n\n" + table
        )
    if a.json:
        a.json.write_text(json.dumps({"epochs": a.epochs, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
