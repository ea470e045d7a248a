"""The trainer's Adam (backpack/pipeline/trainer.py): fused where this torch has the kernel, the
same update as the per-tensor loop, and a checkpoint from either kernel resumes under the other."""

from __future__ import annotations

import pytest
import torch

from backpack.pipeline.checkpoint import optimizer_tensors, restore_optimizer
from backpack.pipeline.trainer import fused_adam_supported, make_optimizer, match_optimizer_flags


def _params(seed: int = 0) -> list[torch.nn.Parameter]:
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(*s, generator=g)) for s in ((7, 5), (5,), (3, 4, 2))]


def _grads(params: list[torch.nn.Parameter], seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    for p in params:
        p.grad = torch.randn(p.shape, generator=g)


def test_fused_only_where_the_kernel_exists_and_the_same_update_as_the_loop() -> None:
    ours, ref = _params(), _params()
    opt = make_optimizer([{"params": ours[:2], "lr": 0.1}, {"params": ours[2:]}], lr=0.01)
    assert bool(opt.param_groups[0]["fused"]) == fused_adam_supported("cpu")
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]  # groups and their rates are kept
    loop = torch.optim.Adam([{"params": ref[:2], "lr": 0.1}, {"params": ref[2:]}], lr=0.01, foreach=False)
    for step in range(5):
        _grads(ours, step)
        _grads(ref, step)
        opt.step()
        loop.step()
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert not torch.equal(ours[0], _params()[0])  # it did move


def test_plain_parameters_become_one_group() -> None:
    opt = make_optimizer(iter(_params()), lr=0.5)
    assert len(opt.param_groups) == 1 and opt.param_groups[0]["lr"] == 0.5


@pytest.mark.parametrize("saved_fused", [True, None])
def test_a_checkpoint_of_either_kernel_resumes_with_this_process_s_kernel(saved_fused: bool | None) -> None:
    params = _params()
    opt = make_optimizer(params, lr=0.01)
    _grads(params, 0)
    opt.step()
    tensors, meta = optimizer_tensors(opt)
    # what another torch would have written: the other kernel's flag in the saved groups
    meta = {
        **meta,
        "param_groups": meta["param_groups"].replace('"fused": null', '"fused": true')
        if saved_fused
        else meta["param_groups"].replace('"fused": true', '"fused": null'),
    }
    again = _params()
    resumed = make_optimizer(again, lr=0.01)
    restore_optimizer(resumed, tensors, meta)
    assert resumed.param_groups[0]["fused"] == saved_fused  # load_state_dict took the saved flag ...
    match_optimizer_flags(resumed)
    assert bool(resumed.param_groups[0]["fused"]) == fused_adam_supported("cpu")  # ... and it is undone
    _grads(again, 1)
    resumed.step()  # runs (a fused flag on a torch without the CPU kernel would raise here)
    assert all(float(resumed.state[p]["step"]) == 2.0 for p in again)
