"""SAGELayer (eq. 1-2), PositionalEncoding and TRNEncoder against hand-written formulas; config checks."""

from __future__ import annotations

import math

import pytest
import torch

from backpack.backbone import GraphBatch, GraphSample, PositionalEncoding, SAGELayer, TRNEncoder, get_engine
from backpack.errors import ConfigError
from tests.backbone.bb_graphs import AVAILABLE_ENGINES


@pytest.mark.parametrize("engine", AVAILABLE_ENGINES)
def test_sage_layer_is_equations_1_and_2(engine: str) -> None:
    torch.manual_seed(0)
    layer = SAGELayer(4, 3)
    # node 2 <- {0, 1}; node 0 <- {2}; node 1 isolated
    batch = GraphBatch.collate([GraphSample(torch.zeros(3, 1, 1), torch.tensor([[0, 1, 2], [2, 2, 0]]))])
    f = torch.randn(3, 4)
    out = layer(f, batch, get_engine(engine))
    phi = lambda j: torch.relu(layer.proj.weight @ f[j] + layer.proj.bias)  # noqa: E731
    g = [phi(2), torch.zeros(4), (phi(0) + phi(1)) / 2]  # eq. (2)
    for i in range(3):
        expected = (
            layer.lin_root.weight @ f[i] + layer.lin_neigh.weight @ g[i] + layer.lin_neigh.bias
        )  # eq. (1)
        torch.testing.assert_close(out[i], expected)


def test_sage_layer_parameters_shapes_reset_and_repr() -> None:
    layer = SAGELayer(6, 5, activation="leaky_relu")
    shapes = {n: tuple(p.shape) for n, p in layer.named_parameters()}
    assert shapes == {
        "proj.weight": (6, 6),
        "proj.bias": (6,),
        "lin_neigh.weight": (5, 6),
        "lin_neigh.bias": (5,),
        "lin_root.weight": (5, 6),
    }  # one bias b in eq. (1)
    before = layer.proj.weight.detach().clone()
    torch.manual_seed(123)
    layer.reset_parameters()
    assert not torch.equal(before, layer.proj.weight)
    assert repr(layer) == "SAGELayer(6, 5, phi=leaky_relu)"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"in_dim": 0, "out_dim": 4}, "in_dim"),
        ({"in_dim": 4, "out_dim": -1}, "out_dim"),
        ({"in_dim": 4.0, "out_dim": 4}, "in_dim"),
        ({"in_dim": True, "out_dim": 4}, "in_dim"),
        ({"in_dim": 4, "out_dim": 4, "activation": "swish"}, "activation"),
    ],
)
def test_sage_layer_rejects_bad_config(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=f"Invalid value for '{field}' in SAGELayer"):
        SAGELayer(**kwargs)


def test_sage_layer_rejects_wrong_input_width() -> None:
    batch = GraphBatch.collate([GraphSample(torch.zeros(2, 1, 1), torch.tensor([[0], [1]]))])
    with pytest.raises(ConfigError, match=r"Expected \[N, 4\]. Got \[2, 5\]"):
        SAGELayer(4, 4)(torch.zeros(2, 5), batch, get_engine("native"))


def test_positional_encoding_values() -> None:
    pe = PositionalEncoding(6)
    out = pe(torch.tensor([0, 3]))
    assert out.shape == (2, 6)
    assert out[0].tolist() == pytest.approx([0, 1, 0, 1, 0, 1])
    expected = []
    for i in range(3):
        angle = 3 / 10_000 ** (2 * i / 6)
        expected += [math.sin(angle), math.cos(angle)]
    assert out[1].tolist() == pytest.approx(expected, abs=1e-6)


def test_positional_encoding_odd_dim_has_no_state_and_distinguishes_positions() -> None:
    pe = PositionalEncoding(5)
    out = pe(torch.arange(30))
    assert out.shape == (30, 5) and pe.state_dict() == {}
    assert torch.cdist(out, out).add(torch.eye(30)).min() > 1e-3  # every position distinct
    assert repr(pe) == "PositionalEncoding(5, base=10000)"


@pytest.mark.parametrize(
    "kwargs, field", [({"dim": 0}, "dim"), ({"dim": 4, "base": 1}, "base"), ({"dim": 4, "base": "x"}, "base")]
)
def test_positional_encoding_rejects_bad_config(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=f"'{field}' in PositionalEncoding"):
        PositionalEncoding(**kwargs)


def test_positional_encoding_rejects_2d_positions() -> None:
    with pytest.raises(ConfigError, match=r"Expected \[N\]"):
        PositionalEncoding(4)(torch.zeros(2, 2, dtype=torch.long))


def test_trn_encoder_concatenates_sub_segments_into_mlp() -> None:
    torch.manual_seed(0)
    enc = TRNEncoder(4, 6, sub_segments=3).eval()
    x = torch.randn(5, 3, 4)
    flat = torch.cat([x[:, 0], x[:, 1], x[:, 2]], dim=1)
    expected = enc.fc2(torch.relu(enc.fc1(flat)))
    torch.testing.assert_close(enc(x), expected)
    assert not torch.allclose(enc(x.flip(1)), enc(x))  # sub-segment order matters (not a mean)
    assert repr(enc) == "TRNEncoder(3x4 -> 6)"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"in_dim": 0, "hidden": 4}, "in_dim"),
        ({"in_dim": 4, "hidden": 0}, "hidden"),
        ({"in_dim": 4, "hidden": 4, "sub_segments": 0}, "sub_segments"),
        ({"in_dim": 4, "hidden": 4, "dropout": 1.0}, "dropout"),
        ({"in_dim": 4, "hidden": 4, "dropout": -0.1}, "dropout"),
    ],
)
def test_trn_encoder_rejects_bad_config(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=f"'{field}' in TRNEncoder"):
        TRNEncoder(**kwargs)


@pytest.mark.parametrize("shape", [(5, 2, 4), (5, 3, 5), (5, 12)])
def test_trn_encoder_rejects_wrong_input_shape(shape: tuple[int, ...]) -> None:
    with pytest.raises(ConfigError, match=r"Expected \[N, 3, 4\]"):
        TRNEncoder(4, 6, sub_segments=3)(torch.zeros(shape))
