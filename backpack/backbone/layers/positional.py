"""Sinusoidal positional encoding of a node's temporal position (Vaswani et al., used in Sec. 3.2)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from backpack.backbone.layers._check import positive_int
from backpack.errors import ConfigError, invalid


# PE(p, 2i) = sin(p / base^(2i/d)), PE(p, 2i+1) = cos(p / base^(2i/d))  (Sec. 3.2, ref. [64])
class PositionalEncoding(nn.Module):
    """Sinusoidal encoding of integer (or fractional) positions, computed on the fly (no max length).

    Parameters
    ----------
    dim : int
        Size of the encoding (the node feature size it is added to); odd sizes drop the last cosine.
    base : float
        The wavelength base (10,000 in the Transformer).

    Shapes: pos [N] -> [N, dim].
    """

    def __init__(self, dim: int, base: float = 10_000.0) -> None:
        super().__init__()
        self.dim = positive_int(dim, "dim", "PositionalEncoding")
        if not isinstance(base, (int, float)) or isinstance(base, bool) or base <= 1:
            raise ConfigError(invalid("base", "PositionalEncoding", "a number > 1", repr(base)))
        self.base = float(base)
        # not persistent: a pure function of (dim, base), so checkpoints need not carry it
        self.register_buffer("inv_freq", torch.empty((dim + 1) // 2), persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Recompute the frequencies (the layer has no trainable parameters)."""
        exponent = torch.arange(0, self.dim, 2, dtype=torch.float64) / self.dim
        self.inv_freq.copy_((1.0 / self.base**exponent).to(self.inv_freq.dtype))

    def forward(self, pos: Tensor) -> Tensor:
        if pos.dim() != 1:
            raise ConfigError(invalid("pos.shape", "PositionalEncoding input", "[N]", list(pos.shape)))
        angles = pos.to(self.inv_freq.dtype).unsqueeze(1) * self.inv_freq.unsqueeze(0)  # [N, ceil(d/2)]
        # interleave sin/cos as [sin0, cos0, sin1, cos1, ...]; trim the last cos for odd dims
        pe = torch.stack((angles.sin(), angles.cos()), dim=2).flatten(1)
        return pe[:, : self.dim]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.dim}, base={self.base:g})"
