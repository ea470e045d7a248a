"""GraphSample validation and GraphBatch.collate / to."""

from __future__ import annotations

import pytest
import torch

from backpack.backbone import GraphBatch, GraphSample
from backpack.errors import BackpackError, DataError
from tests.backbone.bb_graphs import chain_edges, mixed_samples


def test_collate_offsets_edges_and_graph_ids() -> None:
    a = GraphSample(torch.zeros(3, 2, 4), chain_edges(3), labels={"y": torch.tensor([1, 2, 3])})
    b = GraphSample(
        torch.ones(2, 2, 4),
        torch.tensor([[0], [1]]),
        pos=torch.tensor([5, 7]),
        labels={"y": torch.tensor([4, 5])},
    )
    batch = GraphBatch.collate([a, b])
    assert batch.num_graphs == 2 and batch.num_nodes == 5 and batch.num_edges == 5
    assert batch.src.tolist() == [0, 1, 1, 2, 3] and batch.dst.tolist() == [1, 2, 0, 1, 4]
    assert batch.graph.tolist() == [0, 0, 0, 1, 1]
    assert batch.pos.tolist() == [0, 1, 2, 5, 7]
    assert batch.labels["y"].tolist() == [1, 2, 3, 4, 5]
    assert torch.equal(batch.x[3:], torch.ones(2, 2, 4))
    assert batch.src.dtype == batch.dst.dtype == batch.pos.dtype == batch.graph.dtype == torch.long


def test_collate_graph_level_scalar_labels_become_one_row_per_graph() -> None:
    samples = [
        GraphSample(torch.zeros(n, 1, 2), chain_edges(n), labels={"state": torch.tensor(n % 2)})
        for n in (2, 3, 4)
    ]
    assert GraphBatch.collate(samples).labels["state"].tolist() == [0, 1, 0]


def test_collate_int32_edges_and_isolated_graphs() -> None:
    samples = [
        GraphSample(torch.zeros(2, 1, 2), torch.tensor([[0], [1]], dtype=torch.int32)),
        GraphSample(torch.zeros(3, 1, 2), torch.zeros(2, 0, dtype=torch.long)),
    ]
    batch = GraphBatch.collate(samples)
    assert batch.src.dtype == torch.long and batch.num_edges == 1 and batch.graph.tolist() == [0, 0, 1, 1, 1]


def test_to_moves_tensors_and_drops_engine_cache() -> None:
    batch = GraphBatch.collate(mixed_samples())
    batch.cache["native.in_degree"] = torch.ones(1)
    moved = batch.to("cpu")
    assert moved.cache == {} and torch.equal(moved.x, batch.x) and moved.num_graphs == batch.num_graphs
    assert set(moved.labels) == set(batch.labels) and moved.device.type == "cpu"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"x": torch.zeros(3, 4), "edges": chain_edges(3)}, "x.shape"),
        ({"x": torch.zeros(3, 1, 4), "edges": torch.zeros(3, 2, dtype=torch.long)}, "edges.shape"),
        ({"x": torch.zeros(3, 1, 4), "edges": torch.zeros(2, 1)}, "edges.dtype"),
        ({"x": torch.zeros(3, 1, 4), "edges": torch.tensor([[0], [3]])}, "edges"),
        ({"x": torch.zeros(3, 1, 4), "edges": torch.tensor([[-1], [0]])}, "edges"),
        ({"x": torch.zeros(3, 1, 4), "edges": chain_edges(3), "pos": torch.arange(4)}, "pos.shape"),
    ],
)
def test_sample_rejects_bad_input(kwargs: dict, field: str) -> None:
    with pytest.raises(DataError, match=f"Invalid value for '{field}' in GraphSample") as info:
        GraphSample(**kwargs)
    assert isinstance(info.value, (BackpackError, ValueError)) and "Expected" in str(info.value)


def test_collate_rejects_empty_list() -> None:
    with pytest.raises(DataError, match="empty list"):
        GraphBatch.collate([])


def test_collate_rejects_mismatched_feature_shapes() -> None:
    samples = [
        GraphSample(torch.zeros(2, 3, 8), chain_edges(2)),
        GraphSample(torch.zeros(2, 3, 9), chain_edges(2)),
    ]
    with pytest.raises(
        DataError, match=r"'x.shape\[1:\]' in graph 1 of the batch. Expected \[3, 8\]. Got \[3, 9\]"
    ):
        GraphBatch.collate(samples)


def test_collate_rejects_mismatched_label_names() -> None:
    samples = [
        GraphSample(torch.zeros(2, 1, 2), chain_edges(2), labels={"verb": torch.zeros(2)}),
        GraphSample(torch.zeros(2, 1, 2), chain_edges(2), labels={"noun": torch.zeros(2)}),
    ]
    with pytest.raises(DataError, match="'labels' in graph 1"):
        GraphBatch.collate(samples)
