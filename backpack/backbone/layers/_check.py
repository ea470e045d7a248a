"""Config checks shared by the layers (house error messages)."""

from __future__ import annotations

from backpack.errors import ConfigError, invalid


def positive_int(value: object, field: str, where: str) -> int:
    """``value`` as an int >= 1, else a ConfigError naming ``field`` and ``where``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(invalid(field, where, "a positive integer", repr(value)))
    return value


def probability(value: object, field: str, where: str) -> float:
    """``value`` as a float in [0, 1), else a ConfigError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) < 1.0:
        raise ConfigError(invalid(field, where, "a number in [0, 1)", repr(value)))
    return float(value)
