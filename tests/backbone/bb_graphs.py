"""Graph builders and slow reference implementations shared by the backbone tests (seeded).

A plain module with a unique name (imported as ``bb_graphs``) so it cannot clash with the helpers
of other test folders.
"""

from __future__ import annotations

import torch

from backpack.backbone import GraphBatch, GraphSample, dgl_available


def chain_edges(n: int) -> torch.Tensor:
    """Previous/next edges of a chain of n nodes (AR, OSCC, PNR), both directions."""
    a = torch.arange(n - 1)
    return (
        torch.stack((torch.cat((a, a + 1)), torch.cat((a + 1, a))))
        if n > 1
        else torch.zeros(2, 0, dtype=torch.long)
    )


def lta_edges(observed: int = 2, future: int = 20) -> torch.Tensor:
    """LTA graph (Fig. 3b): a chain over all nodes plus every future node <-> every observed node."""
    n = observed + future
    chain = chain_edges(n)
    obs = torch.arange(observed).repeat_interleave(future)
    fut = torch.arange(observed, n).repeat(observed)
    return torch.cat((chain, torch.stack((obs, fut)), torch.stack((fut, obs))), dim=1)


def make_sample(gen: torch.Generator, n: int, edges: torch.Tensor, dim: int = 8, sub: int = 3) -> GraphSample:
    return GraphSample(
        torch.randn(n, sub, dim, generator=gen), edges, labels={"y": torch.randint(0, 5, (n,), generator=gen)}
    )


def mixed_samples(seed: int = 0, dim: int = 8, sub: int = 3) -> list[GraphSample]:
    """AR-like chains, an LTA-like dense graph, a graph of isolated nodes, a single node, one-way edges."""
    gen = torch.Generator().manual_seed(seed)
    one_way = torch.tensor([[0, 0, 1, 3], [1, 2, 2, 2]])  # node 3 -> 2 only; node 4 isolated
    return [
        make_sample(gen, 9, chain_edges(9), dim, sub),
        make_sample(gen, 22, lta_edges(), dim, sub),
        make_sample(gen, 4, torch.zeros(2, 0, dtype=torch.long), dim, sub),
        make_sample(gen, 1, torch.zeros(2, 0, dtype=torch.long), dim, sub),
        make_sample(gen, 5, one_way, dim, sub),
        make_sample(gen, 16, chain_edges(16), dim, sub),
    ]


def mixed_batch(seed: int = 0, dim: int = 8, sub: int = 3) -> GraphBatch:
    """A batch of the six graphs of ``mixed_samples``."""
    return GraphBatch.collate(mixed_samples(seed, dim, sub))


def dense_mean_neighbours(batch: GraphBatch, h: torch.Tensor) -> torch.Tensor:
    """Reference: mean over in-neighbours through a dense count matrix (multi-edges counted)."""
    adj = torch.zeros(batch.num_nodes, batch.num_nodes, dtype=h.dtype)
    adj.index_put_((batch.dst, batch.src), torch.ones(batch.num_edges, dtype=h.dtype), accumulate=True)
    return adj @ h / adj.sum(1, keepdim=True).clamp(min=1)


def loop_max_pool(batch: GraphBatch, h: torch.Tensor) -> torch.Tensor:
    """Reference: a Python loop over graphs; 0 for a graph without nodes."""
    rows = []
    for g in range(batch.num_graphs):
        members = h[batch.graph == g]
        rows.append(members.max(0).values if len(members) else h.new_zeros(h.shape[1]))
    return torch.stack(rows)


def loop_mean_pool(batch: GraphBatch, h: torch.Tensor) -> torch.Tensor:
    rows = []
    for g in range(batch.num_graphs):
        members = h[batch.graph == g]
        rows.append(members.mean(0) if len(members) else h.new_zeros(h.shape[1]))
    return torch.stack(rows)


# every engine that can run here: DGL only where it imports (the main env)
AVAILABLE_ENGINES = ["native"] + (["dgl"] if dgl_available() else [])
