"""How much room does each novel task's metric leave on the synthetic data? Label-only references.

Usage::

    python experiments/task_headroom.py --seeds 0 1 2 --markdown experiments/results/task_headroom.md

No model is trained. For each seed the synthetic dataset is generated and the **val** split scored,
with the tasks' own metrics, by predictors that use labels or the generator's latents:

* PNR: the window centre (a constant prior) and a transient oracle (the node whose input projects
  most on the true PNR signature direction, a latent no model is given).
* LTA: the most frequent train verb and noun at every future step (a constant prior), and a chain
  oracle that knows the last observed action and follows the most frequent train transitions.

A method can only show a gain on a task between its prior and a good oracle; on this data that range
is small for LTA and PNR (see ``experiments/results/key_result.md``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROWS = (
    ("pnr", "loc_error_s", "centre"),
    ("pnr", "loc_error_s", "transient oracle"),
    ("lta", "verb_ed", "constant"),
    ("lta", "verb_ed", "chain oracle"),
    ("lta", "action_ed", "constant"),
    ("lta", "action_ed", "chain oracle"),
)


def pnr_references(ds: Any, signature: np.ndarray) -> dict[str, float]:
    """Localisation error (s) of the window centre and of the transient oracle on PNR val."""
    from backpack.backbone.graph import GraphBatch
    from backpack.tasks.registry import get_task

    task = get_task("pnr")
    batch = GraphBatch.collate(task.build_samples(ds, "val", train=False, seed=0))
    targets = task.targets(batch)
    node = batch.pos.float()
    centre = -(node - (task.nodes - 1) / 2).abs()
    transient = torch.from_numpy(batch.x.double().numpy() @ signature).amax(dim=1)  # [N, S] -> [N]
    return {
        name: task.score({"pnr": s.float().unsqueeze(1)}, targets)["loc_error_s"]
        for name, s in (("centre", centre), ("transient oracle", transient))
    }


def _one_hot(ids: torch.Tensor, classes: int) -> torch.Tensor:
    # logits whose softmax puts ~all mass on ``ids``: the metric's K samples all equal the prediction
    return torch.nn.functional.one_hot(ids.clamp(min=0), classes).float() * 50.0


def lta_references(ds: Any) -> dict[str, dict[str, float]]:
    """Verb/noun/action edit distances of the constant prior and the last-action chain oracle on LTA val."""
    from backpack.tasks._clips import group_by_clip
    from backpack.tasks.registry import get_task

    task = get_task("lta")
    nv, nn_ = len(ds.taxonomy.verbs), len(ds.taxonomy.nouns)
    trans: dict[str, dict[int, Counter[int]]] = {"verb": defaultdict(Counter), "noun": defaultdict(Counter)}
    freq: dict[str, Counter[int]] = {"verb": Counter(), "noun": Counter()}
    for clip in group_by_clip(ds.action_clips("train")):
        for key in ("verb", "noun"):
            seq = [getattr(a, key) for a in clip]
            freq[key].update(seq)
            for a, b in zip(seq, seq[1:]):
                trans[key][a][b] += 1
    samples = task.build_samples(ds, "val", train=False, seed=0)
    if not samples:  # no clip of N + Z actions: the official protocol scores nothing
        return {name: task.empty_scores() for name in ("constant", "chain oracle")}
    obs, z = task.observed, task.future
    truth = {key: torch.stack([s.labels[key][obs:] for s in samples]) for key in ("verb", "noun")}
    last = {key: [int(s.labels[key][obs - 1]) for s in samples] for key in ("verb", "noun")}

    def chain(key: str, start: int) -> list[int]:
        out, cur = [], start
        for _ in range(z):
            nxt = trans[key].get(cur)
            cur = nxt.most_common(1)[0][0] if nxt else freq[key].most_common(1)[0][0]
            out.append(cur)
        return out

    preds = {
        "constant": {
            key: torch.full((len(samples), z), freq[key].most_common(1)[0][0]) for key in ("verb", "noun")
        },
        "chain oracle": {key: torch.tensor([chain(key, s) for s in last[key]]) for key in ("verb", "noun")},
    }
    return {
        name: task.score(
            {
                "verb": _one_hot(p["verb"], nv).reshape(-1, nv),
                "noun": _one_hot(p["noun"], nn_).reshape(-1, nn_),
            },
            {"verb": truth["verb"].reshape(-1), "noun": truth["noun"].reshape(-1)},
        )
        for name, p in preds.items()
    }


def headroom(seeds: list[int], size: str = "small") -> dict[str, Any]:
    """{"rows": {"task metric (reference)": [value per seed]}, "seeds": seeds}."""
    from backpack.data import Ego4DDataset, generate_synthetic
    from backpack.data.synthetic_write import write_data

    rows: dict[str, list[float]] = {f"{t} {m} ({r})": [] for t, m, r in ROWS}
    windows: list[int] = []  # official LTA windows scored per seed (NaN rows when 0)
    for seed in seeds:
        data = generate_synthetic(seed, size)  # generated once: written for the dataset, and its latents
        with tempfile.TemporaryDirectory() as tmp:
            write_data(data, Path(tmp))
            ds = Ego4DDataset(tmp)
            pnr = pnr_references(ds, data.world.signature_dir)
            lta = lta_references(ds)
            for t, m, r in ROWS:
                rows[f"{t} {m} ({r})"].append(round(float(pnr[r] if t == "pnr" else lta[r][m]), 3))
            windows.append(int(lta["constant"]["windows"]))
    return {"seeds": seeds, "size": size, "rows": rows, "lta_windows": windows}


def to_markdown(result: dict[str, Any]) -> str:
    seeds = result["seeds"]
    lines = [
        "| task metric (reference) | " + " | ".join(f"seed {s}" for s in seeds) + " | mean |",
        "|---|" + "---|" * (len(seeds) + 1),
    ]
    for name, vals in result["rows"].items():
        mean = statistics.mean(vals) if vals else float("nan")
        lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in vals) + f" | {mean:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--size", default="small")
    parser.add_argument(
        "--markdown", type=Path, help="write the table here (and the values to a .json beside it)"
    )
    args = parser.parse_args(argv)
    result = headroom(args.seeds, args.size)
    table = to_markdown(result)
    print(table)
    if args.markdown:
        args.markdown.write_text(
            f"# Task headroom on the synthetic data ({args.size})\n\n"
            f"`python experiments/task_headroom.py --seeds {' '.join(map(str, args.seeds))}`"
            f" (val split; lower is better for every row; official metrics, LTA windows per seed: "
            f"{result['lta_windows']})\n\n{table}\n"
        )
        args.markdown.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
