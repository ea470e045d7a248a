"""Pictures of a novel-task run: retrieved prototypes per predicted class (paper Fig. 5) and,
when the novel task is AR, confusion matrices of the 20 largest verb and noun classes (Fig. 6)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from backpack.errors import DataError

TOP_CLASSES = 20


def _predicted(logits: torch.Tensor) -> torch.Tensor:
    """Class per row: argmax, or ``logit > 0`` for a single-logit (binary) output."""
    return (logits.squeeze(-1) > 0).long() if logits.shape[-1] == 1 else logits.argmax(dim=-1)


@torch.no_grad()
def collect(
    model: Any, samples: list, batch_size: int = 32, device: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Run ``model`` over ``samples``; keep predictions, targets and the retrieved prototype ids.

    Returns ``{"pred": {output: [M]}, "target": {output: [M]}, "ids": {task: [M, depth * k]}}``.
    """
    from backpack.backbone.graph import GraphBatch

    model.eval()
    task = model.task
    pred: dict[str, list] = {}
    target: dict[str, list] = {}
    ids: dict[str, list] = {}
    for lo in range(0, len(samples), batch_size):
        batch = GraphBatch.collate(samples[lo : lo + batch_size]).to(device)
        logits = model(task.name, batch)
        tgt = task.targets(batch)
        for out, lg in logits.items():
            pred.setdefault(out, []).append(_predicted(lg).cpu())
            if out in tgt:
                target.setdefault(out, []).append(tgt[out].reshape(-1).cpu())
        if model.interaction is not None:
            for t, chosen in model.interaction.last_neighbours.items():  # [depth, M, k]
                ids.setdefault(t, []).append(chosen.permute(1, 0, 2).reshape(chosen.shape[1], -1).cpu())
    return {
        "pred": {k: torch.cat(v) for k, v in pred.items()},
        "target": {k: torch.cat(v) for k, v in target.items()},
        "ids": {k: torch.cat(v) for k, v in ids.items()},
    }


def retrieval_counts(
    ids: torch.Tensor, pred: torch.Tensor, verb_of: np.ndarray, classes: int, verbs: int
) -> np.ndarray:
    """How often each verb's prototypes were retrieved, per predicted class: [classes, verbs].

    ``ids`` [M, r] prototype ids, ``pred`` [M] predicted class, ``verb_of`` [P] verb of each prototype.
    """
    counts = np.zeros((classes, verbs), dtype=np.int64)
    v = verb_of[ids.numpy()]  # [M, r]
    rows = np.repeat(pred.numpy().clip(0, classes - 1), v.shape[1])
    np.add.at(counts, (rows, v.ravel()), 1)
    return counts


def confusion_top(
    target: torch.Tensor, pred: torch.Tensor, top: int = TOP_CLASSES
) -> tuple[np.ndarray, list[int]]:
    """Confusion matrix (counts, true x predicted) of the ``top`` largest classes of ``target``.

    Samples of other classes, and predictions outside the ``top``, are left out: a pooled "rest"
    row/column would dwarf the others and say nothing about a class.
    """
    t, p = target.numpy(), pred.numpy()
    keep = t >= 0
    t, p = t[keep], p[keep]
    if t.size == 0:
        raise DataError("No labelled sample to draw a confusion matrix from.")
    counts = np.bincount(t)
    classes = [int(c) for c in np.argsort(-counts, kind="stable")[:top] if counts[c] > 0]
    pos = {c: i for i, c in enumerate(classes)}
    mat = np.zeros((len(classes), len(classes)), dtype=np.int64)
    both = [(pos[int(a)], pos[int(b)]) for a, b in zip(t, p) if int(a) in pos and int(b) in pos]
    if both:
        np.add.at(mat, tuple(np.array(both).T), 1)
    return mat, classes


def retrieval_figure(
    counts: np.ndarray,
    verbs: list[str],
    class_names: list[str],
    chance: np.ndarray,
    title: str,
    legend_title: str,
    footer: dict[str, Any],
) -> Any:
    """Paper Fig. 5: per predicted class, the share of retrieved prototypes of each verb.

    ``chance`` [V]: the share each verb would get if prototypes were retrieved uniformly at random
    (its share of the store's prototypes), drawn as black ticks.
    """
    from backpack.pipeline.figures import add_footer, pyplot

    plt = pyplot()
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(max(6.5, 0.42 * len(verbs) + 2.5), 3.8))
    width = 0.8 / max(1, len(class_names))
    x = np.arange(len(verbs))
    for i, name in enumerate(class_names):
        ax.bar(x - 0.4 + (i + 0.5) * width, share[i], width, label=name)
    ax.hlines(chance, x - 0.42, x + 0.42, colors="black", linewidth=1.2, label="chance (uniform retrieval)")
    ax.set_xticks(x, verbs, rotation=60, ha="right", fontsize=8)
    ax.set_xlim(-0.6, len(verbs) - 0.4)
    ax.set_xlabel("verb of the retrieved prototype")
    ax.set_ylabel("share of retrieved prototypes")
    ax.set_title(title, fontsize=10)
    # outside the axes, so it never covers a bar
    ax.legend(title=legend_title, fontsize=8, title_fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    add_footer(fig, **footer)
    return fig


def confusion_figure(mat: np.ndarray, names: list[str], title: str, footer: dict[str, Any]) -> Any:
    """Paper Fig. 6: a row-normalised confusion matrix with a labelled colour bar."""
    from backpack.pipeline.figures import add_footer, pyplot

    plt = pyplot()
    norm = mat / np.maximum(mat.sum(axis=1, keepdims=True), 1)
    n = len(names)
    size = max(5.0, 0.32 * n + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ticks = 9 if n <= 20 else 7
    ax.set_xticks(range(n), names, rotation=60, ha="right", fontsize=ticks)
    ax.set_yticks(range(n), names, fontsize=ticks)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title, fontsize=10)
    bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    bar.set_label("fraction of the true class's samples")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    add_footer(fig, **footer)
    return fig


def explain_run(
    run_dir: str | os.PathLike[str],
    data_root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    store: str | None = None,
    split: str = "val",
    device: str = "auto",
    storage_options: dict[str, Any] | None = None,
    fmt: str = "png",
    dpi: int | None = None,
    skip_missing: bool = False,
) -> list[Path]:
    """Write the pictures of a ``backpack learn`` run into ``out``; returns the written paths.

    ``retrieved_<task>.<fmt>`` per backpack task, and for AR as the novel task
    ``confusion_verb.<fmt>`` and ``confusion_noun.<fmt>``. A run without a backpack (MTL+FT) has
    nothing to explain and is refused. ``storage_options`` (s3: endpoint_url, key, secret, ...)
    open the run's store (or ``store``). ``fmt``: png, pdf or svg.
    """
    from backpack.data import Ego4DDataset
    from backpack.errors import ConfigError
    from backpack.pipeline.devices import resolve_device
    from backpack.pipeline.figures import DPI, check_format, save, short_store
    from backpack.pipeline.learn import load_learner_run
    from backpack.pipeline.learner_runs import read_learn_config

    dpi = DPI if dpi is None else dpi
    check_format(fmt, dpi)
    if not read_learn_config(run_dir).uses_backpack:
        raise ConfigError(
            f"Run {str(run_dir)!r} learned without a backpack (--no-backpack or --k 0): it retrieves no "
            "prototype, so there is nothing to explain. Explain a run of `backpack learn --store ...`."
        )
    dev = resolve_device(device)
    run = load_learner_run(run_dir, device=str(dev), store=store, storage_options=storage_options)
    from backpack.pipeline.evaluate import recorded_feature_time

    ds = Ego4DDataset(
        data_root,
        features=run.base.features,
        skip_missing=skip_missing,
        tasks=[run.config.task],
        splits=[split],
        **recorded_feature_time(run.base),
    )
    samples = run.model.task.build_samples(
        ds, split, train=False, seed=run.config.seed, node_input=run.base.node_input
    )
    if not samples:
        raise DataError(
            f"No {run.config.task!r} sample in split {split!r} of {str(data_root)!r}. Expected at least 1. "
            "Got 0."
        )
    res = collect(run.model, samples, device=dev)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    first = next(iter(run.model.outputs))
    n_classes = max(2, run.model.outputs[first])
    class_names = ["no", "yes"] if run.model.outputs[first] <= 2 else [str(i) for i in range(n_classes)]
    if run.model.outputs[first] > 2:  # e.g. AR verbs: name the classes, show the largest few only
        vocab = run.taxonomy.verbs if first == "verb" else run.taxonomy.nouns
        class_names = list(vocab)
    cfg = run.config
    version = run.store.version if run.store is not None else cfg.store_version
    url = run.store.url if run.store is not None else cfg.store_url
    footer = {"run": Path(run_dir).name, "store": short_store(url, version), "split": split}
    n = int(res["pred"][first].numel())  # predictions (one per action for AR, per clip otherwise)
    for task, ids in res["ids"].items():
        view = run.store.task(task)
        verb_of = view.keys[:, 0].astype(np.int64)
        counts = retrieval_counts(ids, res["pred"][first], verb_of, n_classes, len(run.taxonomy.verbs))
        per_class = np.bincount(res["pred"][first].numpy().clip(0, n_classes - 1), minlength=n_classes)
        rows = np.argsort(-counts.sum(axis=1), kind="stable")[:4]
        rows = [r for r in rows if counts[r].sum() > 0]
        used = counts.sum(axis=0) > 0
        chance = np.bincount(verb_of, minlength=len(run.taxonomy.verbs)) / max(1, verb_of.size)
        shown = f"{len(rows)} most predicted of {n_classes}" if n_classes > len(rows) else "all"
        fig = retrieval_figure(
            counts[rows][:, used],
            [v for v, u in zip(run.taxonomy.verbs, used) if u],
            [f"{class_names[r]} ({per_class[r]} samples)" for r in rows],
            chance[used],
            f"{cfg.task} ({split}, {n} samples): which {task} prototypes it retrieves, by verb\n"
            f"k = {cfg.k} per layer, depth {cfg.depth}, store version {version}",
            f"predicted {cfg.task} {first} ({shown})",
            footer,
        )
        written.append(save(fig, folder, f"retrieved_{task}", fmt, dpi))
    if cfg.task == "ar":
        for out_name, vocab in (("verb", run.taxonomy.verbs), ("noun", run.taxonomy.nouns)):
            mat, classes = confusion_top(res["target"][out_name], res["pred"][out_name])
            labelled = int((res["target"][out_name] >= 0).sum())
            fig = confusion_figure(
                mat,
                [vocab[c] for c in classes],
                f"AR {out_name}s ({split}): the {len(classes)} largest classes\n"
                f"{int(mat.sum())} of {labelled} labelled actions (true and predicted among them)",
                footer,
            )
            written.append(save(fig, folder, f"confusion_{out_name}", fmt, dpi))
    return written


__all__ = [
    "collect",
    "confusion_figure",
    "confusion_top",
    "explain_run",
    "retrieval_counts",
    "retrieval_figure",
]
