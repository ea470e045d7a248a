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
    """Confusion matrix of the ``top`` largest classes of ``target``, the rest pooled into a last "rest" row/column."""
    t, p = target.numpy(), pred.numpy()
    keep = t >= 0
    t, p = t[keep], p[keep]
    if t.size == 0:
        raise DataError("No labelled sample to draw a confusion matrix from.")
    classes = [int(c) for c in np.argsort(-np.bincount(t), kind="stable")[:top] if np.bincount(t)[c] > 0]
    pos = {c: i for i, c in enumerate(classes)}
    rest = len(classes)
    mat = np.zeros((rest + 1, rest + 1), dtype=np.int64)
    np.add.at(mat, ([pos.get(int(x), rest) for x in t], [pos.get(int(x), rest) for x in p]), 1)
    return mat, classes


def _plot_retrieval(
    counts: np.ndarray, verbs: list[str], class_names: list[str], title: str, path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(verbs)), 3.5))
    width = 0.8 / max(1, len(class_names))
    x = np.arange(len(verbs))
    for i, name in enumerate(class_names):
        ax.bar(x + i * width, share[i], width, label=f"predicted {name}")
    ax.set_xticks(x + 0.4 - width / 2, verbs, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("share of retrieved prototypes")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_confusion(mat: np.ndarray, names: list[str], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    norm = mat / np.maximum(mat.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7, 6))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def explain_run(
    run_dir: str | os.PathLike[str],
    data_root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    store: str | None = None,
    split: str = "val",
    device: str = "auto",
    storage_options: dict[str, Any] | None = None,
) -> list[Path]:
    """Write the pictures of a ``backpack learn`` run into ``out``; returns the written PNG paths.

    ``retrieved_<task>.png`` per backpack task (for runs with a backpack), and for AR as the novel
    task ``confusion_verb.png`` and ``confusion_noun.png``. ``storage_options`` (s3: endpoint_url,
    key, secret, ...) open the run's store (or ``store``).
    """
    from backpack.data import Ego4DDataset
    from backpack.pipeline.devices import resolve_device
    from backpack.pipeline.learn import load_learner_run

    dev = resolve_device(device)
    run = load_learner_run(run_dir, device=str(dev), store=store, storage_options=storage_options)
    from backpack.pipeline.evaluate import recorded_feature_time

    ds = Ego4DDataset(
        data_root,
        features=run.base.features,
        tasks=[run.config.task],
        splits=[split],
        **recorded_feature_time(run.base),
    )
    samples = run.model.task.build_samples(
        ds, split, train=False, seed=run.config.seed, node_input=run.base.node_input
    )
    if not samples:
        raise DataError(
            f"No {run.config.task!r} sample in split {split!r} of {str(data_root)!r}. Expected at least 1. Got 0."
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
    for task, ids in res["ids"].items():
        view = run.store.task(task)
        counts = retrieval_counts(
            ids, res["pred"][first], view.keys[:, 0].astype(np.int64), n_classes, len(run.taxonomy.verbs)
        )
        rows = np.argsort(-counts.sum(axis=1), kind="stable")[:4]
        used = counts.sum(axis=0) > 0
        path = folder / f"retrieved_{task}.png"
        _plot_retrieval(
            counts[rows][:, used],
            [v for v, u in zip(run.taxonomy.verbs, used) if u],
            [class_names[r] for r in rows],
            f"{run.config.task} ({split}): {task} prototypes retrieved, by verb",
            path,
        )
        written.append(path)
    if run.config.task == "ar":
        for out_name, vocab in (("verb", run.taxonomy.verbs), ("noun", run.taxonomy.nouns)):
            mat, classes = confusion_top(res["target"][out_name], res["pred"][out_name])
            path = folder / f"confusion_{out_name}.png"
            _plot_confusion(
                mat,
                [vocab[c] for c in classes] + ["rest"],
                f"AR {out_name}s ({split}): top-{len(classes)} classes",
                path,
            )
            written.append(path)
    return written


__all__ = ["collect", "confusion_top", "explain_run", "retrieval_counts"]
