"""Named training recipes of ``train`` and ``learn`` (``--preset``).

``default``: the CLI defaults (Adam, lr 1e-3, 10 epochs, batch 16; ``learn`` trains the pre-trained
parts at lr x 0.1). They suit the synthetic data, on which a CPU run must end in minutes: an epoch
there is tens of steps, where the paper's small learning rates (1e-6 for OSCC/PNR) were chosen for
Ego4D, whose epochs are thousands of steps (41,085 OSCC train clips at batch 16).

``paper``: the recipe of the EgoPack paper, section 4: Adam, batch 16, 30 / 40 / 10 epochs for AR /
LTA / OSCC and PNR, lr 1e-4 for AR and LTA and 1e-6 for OSCC and PNR (the same lr for every part:
``base_lr_scale`` 1). The official configs agree (sapeirone/EgoPack ``experiments/egopack/*.yaml``).
The paper gives the recipe per novel task; for a multi-task ``train`` the preset takes the longest
epochs and the largest lr of the tasks trained (``ar,lta,pnr``: 40 epochs, lr 1e-4). The official
multi-task stage uses 40 epochs, batch 16 and lr 1e-5 (``experiments/mtl.yaml``); see docs/ego4d.md.
"""

from __future__ import annotations

from typing import Any

from backpack.errors import ConfigError

PRESETS = ("default", "paper")

# task -> (epochs, lr) of the paper's section 4
PAPER = {"ar": (30, 1e-4), "lta": (40, 1e-4), "oscc": (10, 1e-6), "pnr": (10, 1e-6)}
PAPER_BATCH = 16


def preset_settings(preset: str, tasks: list[str], learn: bool = False) -> dict[str, Any]:
    """The settings ``preset`` fixes for ``tasks`` (``{}`` for ``default``: the CLI defaults stand).

    Keys: ``epochs``, ``lr``, ``batch_size`` (and ``base_lr_scale`` for ``learn``).
    """
    if preset not in PRESETS:
        raise ConfigError(f"Invalid value for '--preset'. Expected one of {list(PRESETS)}. Got {preset!r}.")
    if preset == "default":
        return {}
    unknown = [t for t in tasks if t not in PAPER]
    if unknown:
        raise ConfigError(
            f"Invalid value for '--preset' with tasks {unknown}. "
            f"Expected tasks of the paper: {sorted(PAPER)}."
        )
    out: dict[str, Any] = {
        "epochs": max(PAPER[t][0] for t in tasks),
        "lr": max(PAPER[t][1] for t in tasks),
        "batch_size": PAPER_BATCH,
    }
    if learn:
        out["base_lr_scale"] = 1.0
    return out
