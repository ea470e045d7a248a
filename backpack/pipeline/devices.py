"""Which torch device a run uses: the one home of ``--device`` parsing (training, evaluation, explain)."""

from __future__ import annotations

import torch

from backpack.errors import ConfigError, invalid


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is checked."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ConfigError(invalid("device", "training", "auto, cpu or cuda[:i]", device)) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(invalid("device", "training", "auto or cpu (CUDA is not available here)", device))
    return dev


__all__ = ["resolve_device"]
