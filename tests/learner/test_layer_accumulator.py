"""The eq. (3) layer and the streaming prototype accumulator (torch only)."""

from __future__ import annotations

import pytest
import torch

from backpack.errors import ConfigError, DataError
from backpack.models import PrototypeAccumulator, PrototypeRefinement


def test_layer_matches_equation_3() -> None:
    torch.manual_seed(0)
    layer = PrototypeRefinement(8)
    torch.nn.init.normal_(layer.lin_root.weight)
    f, protos = torch.randn(5, 8), torch.randn(10, 8)
    ids = torch.randint(0, 10, (5, 3))
    out = layer(f, protos, ids)
    pooled = torch.stack([protos[i].max(dim=0).values for i in ids])
    expected = f @ layer.lin_root.weight.T + layer.lin_root.bias + pooled @ layer.lin_proto.weight.T
    torch.testing.assert_close(out, expected)


def test_layer_gradients_reach_weights_and_features_not_prototypes() -> None:
    torch.manual_seed(0)
    layer = PrototypeRefinement(4)
    f = torch.randn(3, 4, requires_grad=True)
    protos = torch.randn(6, 4)
    layer(f, protos, torch.tensor([[0, 1], [2, 3], [4, 5]])).sum().backward()
    assert f.grad is not None and f.grad.abs().sum() > 0
    assert layer.lin_proto.weight.grad.abs().sum() > 0
    assert layer.lin_root.weight.grad.abs().sum() > 0
    assert protos.grad is None


def test_layer_reset_and_repr() -> None:
    layer = PrototypeRefinement(4)
    torch.nn.init.zeros_(layer.lin_root.weight)
    layer.reset_parameters()
    torch.testing.assert_close(layer.lin_root.weight, torch.eye(4))
    assert repr(layer) == "PrototypeRefinement(4, bias=True)"


@pytest.mark.parametrize(
    "f,protos,ids",
    [
        (torch.zeros(3, 5), torch.zeros(6, 4), torch.zeros(3, 2, dtype=torch.long)),
        (torch.zeros(3, 4), torch.zeros(6, 5), torch.zeros(3, 2, dtype=torch.long)),
        (torch.zeros(3, 4), torch.zeros(6, 4), torch.zeros(2, 2, dtype=torch.long)),
    ],
)
def test_layer_rejects_bad_shapes(f: torch.Tensor, protos: torch.Tensor, ids: torch.Tensor) -> None:
    with pytest.raises(ConfigError, match="Expected"):
        PrototypeRefinement(4)(f, protos, ids)


def test_layer_rejects_bad_dim() -> None:
    with pytest.raises(ConfigError, match="'dim'"):
        PrototypeRefinement(0)


def test_accumulator_means_match_groupby() -> None:
    g = torch.Generator().manual_seed(0)
    keys = torch.randint(0, 4, (200, 2), generator=g)
    feats = {"ar": torch.randn(200, 3, generator=g), "pnr": torch.randn(200, 2, generator=g)}
    acc = PrototypeAccumulator([tuple(k) for k in keys.tolist()], {"ar": 3, "pnr": 2})
    for lo in range(0, 200, 64):  # streamed in chunks
        acc.update(keys[lo : lo + 64], {t: f[lo : lo + 64] for t, f in feats.items()})
    out_keys, protos, support = acc.finalize()
    assert [tuple(k) for k in out_keys.tolist()] == sorted({tuple(k) for k in keys.tolist()})
    for i, (v, n) in enumerate(out_keys.tolist()):
        mask = (keys[:, 0] == v) & (keys[:, 1] == n)
        assert support[i] == int(mask.sum())
        for t in feats:
            torch.testing.assert_close(
                torch.from_numpy(protos[t][i]), feats[t][mask].double().mean(0).float()
            )


def test_accumulator_state_is_independent_of_the_number_of_clips() -> None:
    keys = [(v, n) for v in range(5) for n in range(7)]
    acc = PrototypeAccumulator(keys, {"ar": 16})
    before = acc.state_nbytes()
    g = torch.Generator().manual_seed(1)
    for _ in range(50):
        k = torch.randint(0, 5, (100, 2), generator=g)
        acc.update(k, {"ar": torch.randn(100, 16, generator=g)})
    assert acc.state_nbytes() == before == 35 * 16 * 8 + 35 * 8
    assert int(acc.counts.sum()) == 5000


def test_accumulator_merge_equals_single_pass() -> None:
    keys = [(0, 0), (0, 1), (2, 1)]
    g = torch.Generator().manual_seed(2)
    k = torch.tensor(keys)[torch.randint(0, 3, (60,), generator=g)]
    f = torch.randn(60, 4, generator=g)
    whole, a, b = (PrototypeAccumulator(keys, {"ar": 4}) for _ in range(3))
    whole.update(k, {"ar": f})
    a.update(k[:25], {"ar": f[:25]})
    b.update(k[25:], {"ar": f[25:]})
    a.merge(b)
    torch.testing.assert_close(a.sums["ar"], whole.sums["ar"])
    assert torch.equal(a.counts, whole.counts)


def test_accumulator_drops_unseen_keys_and_rejects_unknown() -> None:
    acc = PrototypeAccumulator([(0, 0), (1, 1)], {"ar": 2})
    acc.update(torch.tensor([[1, 1]]), {"ar": torch.ones(1, 2)})
    keys, protos, support = acc.finalize()
    assert keys.tolist() == [[1, 1]] and support.tolist() == [1]
    with pytest.raises(DataError, match=r"\(0, 1\)"):
        acc.update(torch.tensor([[0, 1]]), {"ar": torch.ones(1, 2)})
    with pytest.raises(ConfigError, match="tasks"):
        acc.update(torch.tensor([[0, 0]]), {"lta": torch.ones(1, 2)})
    with pytest.raises(ConfigError, match=r"\[1, 2\]"):
        acc.update(torch.tensor([[0, 0]]), {"ar": torch.ones(1, 3)})


def test_accumulator_rejects_empty() -> None:
    with pytest.raises(DataError, match="empty"):
        PrototypeAccumulator([], {"ar": 2})
    acc = PrototypeAccumulator([(0, 0)], {"ar": 2})
    with pytest.raises(DataError, match="No sample"):
        acc.finalize()
