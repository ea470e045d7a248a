"""Deprecated entry point: ``python -m backpack.distributed.worker`` is now ``python -m backpack.cli.worker``.

Kept for one release (removed in 0.3) so that torchrun command lines written for 0.1 keep working.
"""

from __future__ import annotations

import sys
import warnings

if __name__ == "__main__":
    warnings.warn(
        "python -m backpack.distributed.worker is deprecated; use python -m backpack.cli.worker "
        "(removed in backpack 0.3).",
        DeprecationWarning,
        stacklevel=1,
    )
    from backpack.cli.worker import main

    sys.exit(main())
