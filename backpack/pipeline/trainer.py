"""A generic multi-task training loop (also used by the novel-task learner with its own model).

Each step takes one batch of every task, averages the task losses and takes one Adam step. An
epoch has as many steps as the largest task has batches; smaller tasks cycle through fresh
permutations. Randomness is re-seeded from (seed, epoch) at the start of every epoch, so a run
resumed from the checkpoint of epoch e is identical to one that never stopped.
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from backpack.backbone.graph import GraphBatch, GraphSample
from backpack.errors import ConfigError, DataError, RunError, invalid
from backpack.pipeline.checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from backpack.pipeline.devices import resolve_device
from backpack.tasks.base import Task


def epoch_orders(
    sizes: dict[str, int], batch_size: int, seed: int, epoch: int
) -> tuple[int, dict[str, np.ndarray]]:
    """Steps of an epoch and, per task, the sample indices it visits (steps * batch_size of them)."""
    steps = max(math.ceil(n / batch_size) for n in sizes.values())
    orders = {}
    for i, (name, n) in enumerate(sorted(sizes.items())):
        rng = np.random.default_rng([seed, epoch, i])
        need = steps * batch_size
        reps = math.ceil(need / n)
        orders[name] = np.concatenate([rng.permutation(n) for _ in range(reps)])[:need]
    return steps, orders


def _check_inputs(
    tasks: dict[str, Task], train: dict[str, list[GraphSample]], epochs: int, lr: float, batch_size: int
) -> None:
    if not tasks:
        raise ConfigError("No task to train. Expected at least 1. Got 0.")
    for name in tasks:
        if not train.get(name):
            raise DataError(f"No training sample for task {name!r}. Expected at least 1. Got 0.")
    for field, value, ok in (
        ("epochs", epochs, isinstance(epochs, int) and epochs >= 1),
        ("lr", lr, isinstance(lr, (int, float)) and lr > 0),
        ("batch_size", batch_size, isinstance(batch_size, int) and batch_size >= 1),
    ):
        if not ok:
            raise ConfigError(invalid(field, "training", "a positive number", value))


def _param_groups(model: torch.nn.Module, parameters: Any) -> list[dict[str, Any]]:
    """Adam groups of the trainable parameters (plain parameters become one group)."""
    items = list(parameters) if parameters is not None else list(model.parameters())
    if items and all(isinstance(g, dict) for g in items):
        groups = [{**g, "params": [p for p in g["params"] if p.requires_grad]} for g in items]
        return [g for g in groups if g["params"]]
    return [{"params": [p for p in items if p.requires_grad]}]


@functools.cache
def fused_adam_supported(device_type: str) -> bool:
    """Whether this torch has a fused Adam kernel for ``device_type`` (CUDA: torch >= 2.0; CPU: >= 2.4).

    Probed once per device type (construction refuses unsupported devices), not read from a version table.
    """
    if device_type == "cuda" and not torch.cuda.is_available():
        return False
    try:
        torch.optim.Adam([torch.zeros(1, device=device_type, requires_grad=True)], fused=True)
    except (RuntimeError, ValueError, TypeError):
        return False
    return True


def _fused_for(params: list[torch.Tensor]) -> bool:
    return (
        bool(params)
        and all(p.is_floating_point() for p in params)
        and len({p.device for p in params}) == 1
        and fused_adam_supported(params[0].device.type)
    )


def make_optimizer(parameters: Any, lr: float, weight_decay: float = 0.0) -> torch.optim.Adam:
    """The Adam of :func:`fit`: fused (one kernel over all parameters) where this torch has it.

    The fused kernel computes the same update as the per-tensor loop; on the CPU (torch 2.13, Ego4D
    sizes) it cut the optimizer step 4x (``benchmarks/bench_learner.py``). torch 2.2 has no CPU
    kernel and keeps the loop. ``parameters``: parameters or Adam groups, as in :func:`fit`.
    ``weight_decay`` > 0 gives AdamW (decoupled decay, which Adam's L2 term is not); 0 keeps Adam.
    """
    groups = (
        parameters
        if isinstance(parameters, list) and parameters and isinstance(parameters[0], dict)
        else [{"params": list(parameters)}]
    )
    params = [p for g in groups for p in g["params"]]
    kind, extra = (
        (torch.optim.AdamW, {"weight_decay": weight_decay}) if weight_decay > 0 else (torch.optim.Adam, {})
    )
    if _fused_for(params):
        return kind(groups, lr=lr, fused=True, **extra)
    return kind(groups, lr=lr, **extra)


def match_optimizer_flags(optimizer: torch.optim.Optimizer) -> None:
    """After ``load_state_dict``: this process's kernel choice, not the one saved with the checkpoint.

    ``load_state_dict`` restores every group option, ``fused`` included: a run saved where the fused
    CPU kernel exists would fail to resume under torch 2.2, and one saved under 2.2 would lose it.
    """
    params = [p for g in optimizer.param_groups for p in g["params"]]
    fused = _fused_for(params)
    for group in optimizer.param_groups:
        group["fused"] = True if fused else None
        group["foreach"] = None
    if fused:  # the fused kernel wants its step counters as float32 on the parameters' device
        for p in params:
            st = optimizer.state.get(p, {})
            if isinstance(st.get("step"), torch.Tensor):
                st["step"] = st["step"].to(device=p.device, dtype=torch.float32)


def fit(
    model: torch.nn.Module,
    tasks: dict[str, Task],
    train_samples: dict[str, list[GraphSample]],
    val_samples: dict[str, list[GraphSample]],
    *,
    epochs: int,
    lr: float,
    batch_size: int = 16,
    seed: int = 0,
    device: str | torch.device = "cpu",
    out_dir: str | os.PathLike[str],
    resume: bool = False,
    progress: bool = True,
    extra_state: dict[str, Any] | None = None,
    parameters: Any = None,
    weight_decay: float = 0.0,
    resample: Callable[[int], dict[str, list[GraphSample]]] | None = None,
    select: tuple[str, str] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Train ``model`` on ``tasks`` with Adam and the mean of the task losses; checkpoint each epoch.

    Parameters
    ----------
    model : any module with ``forward(task, batch) -> {output: logits}``.
    tasks : task name -> Task (gives ``loss`` and ``evaluate``).
    train_samples, val_samples : task name -> graphs. Validation metrics are computed every epoch.
    out_dir : where checkpoints and ``metrics.jsonl`` go.
    resume : continue from the checkpoint in ``out_dir`` (a finished run returns its history; a
        run killed before its first checkpoint starts again from epoch 1).
    extra_state : JSON-able dict stored in ``checkpoint.json`` (e.g. the learner's own settings).
    parameters : what Adam optimises (default: every parameter that requires grad): parameters, or
        Adam parameter groups (dicts with ``"params"`` and an optional ``"lr"``, e.g. a lower rate for
        pre-trained parts); a group without ``"lr"`` uses ``lr``.
    weight_decay : decoupled weight decay (AdamW) when > 0.
    resample : ``epoch -> {task: graphs}``, the training draw of each epoch (augmentation re-drawn
        per epoch; it must depend only on the epoch so that a resumed run sees the same draws and
        keep the sizes of ``train_samples``). None trains on ``train_samples`` every epoch.
    select : ``(task, metric)``: also keep the best epoch by that validation metric
        (:mod:`backpack.pipeline.selection`); None keeps only the last.
    on_epoch : called on rank 0 with each epoch's record once its checkpoint (and its line of
        ``metrics.jsonl``) is written, e.g. to log it elsewhere (TensorBoard).

    Returns
    -------
    list of dict
        One record per epoch: ``{"epoch", "loss", "train_loss": {task: ..},
        "val": {task: {metric: ..}}, "seconds"}``.
    """
    from backpack.distributed import (
        all_reduce_mean,
        broadcast_object,
        is_main_process,
        local_batch,
        unwrap_model,
        world_size,
        wrap_model,
    )
    from backpack.distributed.env import device_for_rank
    from backpack.pipeline.evaluate import evaluate_model
    from backpack.progress import Progress, is_terminal

    _check_inputs(tasks, train_samples, epochs, lr, batch_size)
    if batch_size < world_size():
        raise ConfigError(
            invalid(
                "batch_size",
                "distributed training",
                f">= the number of processes ({world_size()})",
                batch_size,
            )
        )
    dev = device_for_rank(resolve_device(device))
    out = Path(out_dir)
    main = is_main_process()  # only rank 0 writes, evaluates and shows progress
    model.to(dev)
    optimizer = make_optimizer(_param_groups(model, parameters), lr, weight_decay)
    start, history = 0, []
    if resume and (out / CHECKPOINT).is_file():
        start, history, _ = load_checkpoint(out, model, optimizer)
        match_optimizer_flags(optimizer)
        history = [r for r in history if r.get("epoch", 0) <= start]
    elif (out / CHECKPOINT).exists():
        raise RunError(
            f"Run folder {str(out)!r} already holds a checkpoint. Use resume (--resume) or another folder."
        )
    names = sorted(tasks)
    # DDP: a multi-task step uses every parameter (one forward per task, then one backward); a
    # single task may leave some unused (e.g. the learner's base classifiers)
    net = wrap_model(model, dev, find_unused_parameters=len(names) == 1)
    sizes = {t: len(train_samples[t]) for t in names}
    show = progress and main
    bar = Progress(epochs, "epochs", enabled=show, initial=start, interval=0)
    for epoch in range(start + 1, epochs + 1):
        t0 = time.perf_counter()
        torch.manual_seed(seed * 1_000_003 + epoch)  # dropout: the same per epoch, resumed or not
        steps, orders = epoch_orders(sizes, batch_size, seed, epoch)
        if resample is not None:
            train_samples = resample(epoch)
            if {t: len(train_samples[t]) for t in names} != sizes:
                raise RunError(f"The training draw of epoch {epoch} changed the number of graphs.")
        net.train()
        sums = {t: torch.zeros((), device=dev) for t in names}  # summed on the device: no sync per step
        # steps within an epoch: a bar on a terminal only (a log gets one line per epoch)
        inner = Progress(steps, f"epoch {epoch}", enabled=show and is_terminal(), leave=False)
        for step in range(steps):
            losses = []
            for t in names:
                # every rank takes its share of the same global batch (all of it in one process)
                idx = local_batch(orders[t][step * batch_size : (step + 1) * batch_size])
                batch = GraphBatch.collate([train_samples[t][i] for i in idx]).to(dev, non_blocking=True)
                loss = tasks[t].loss(net(t, batch), batch)
                losses.append(loss)
                sums[t] += loss.detach()
            # one backward of the mean of the task losses (DDP needs one backward per step)
            total = torch.stack(losses).mean()
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
            inner.update(1)
        inner.close()
        train_loss = all_reduce_mean({t: float(sums[t]) / steps for t in names})
        if main:
            plain = unwrap_model(net)
            val = evaluate_model(plain, tasks, val_samples, dev, seed=seed) if val_samples else {}
            record = {
                "epoch": epoch,
                "loss": float(np.mean(list(train_loss.values()))),
                "train_loss": train_loss,
                "val": val,
                "seconds": round(time.perf_counter() - t0, 3),
            }
            history.append(record)
            if select is not None and val:
                from backpack.pipeline.selection import update_best

                update_best(out, plain, epoch, val, *select)
            save_checkpoint(out, plain, optimizer, epoch, history, extra_state)
            bar.set_postfix(f"loss {record['loss']:.3f}")
            bar.update(1)
            if on_epoch is not None:
                on_epoch(record)
    bar.close()
    # the other ranks wait here for rank 0's last checkpoint and get its history
    return broadcast_object(history)
