"""Storage backends of the store: the abstract :class:`Backend` and its local, zip and S3 implementations.

A backend module registers itself with :func:`register_backend`; :func:`open_backend` picks one by the
shape of the location (a directory, a ``.zip`` file, an ``s3://`` prefix).
"""

from __future__ import annotations

from backpack.store.backends.base import Backend, open_backend, register_backend

__all__ = ["Backend", "open_backend", "register_backend"]
