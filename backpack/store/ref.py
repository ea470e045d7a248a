"""Store references: the one parser of ``PATH``, ``PATH@VERSION`` and ``PATH@TAG``, and their opener.

A reference names a store location (a directory, a ``.zip`` bundle or an ``s3://`` prefix) and,
optionally, one of its versions by number or tag. A path that exists as written (a directory
named ``a@b``) is taken literally, and so is an ``@`` followed by a ``/`` (part of a path or URL).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from backpack.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from backpack.store.store import Backpack


def version_arg(ref: str | int | None) -> int | str | None:
    """``"3"`` -> 3 (a version number); a tag name or ``None`` stays as it is."""
    return int(ref) if isinstance(ref, str) and ref.isdigit() else ref


def split_ref(store: str, version: str | int | None = None) -> tuple[str, int | str | None]:
    """``"path@tag"`` / ``"path@3"`` -> ``(path, "tag" | 3)``; ``version`` (``--version``) must agree.

    Raises
    ------
    ConfigError
        For ``PATH@`` with nothing after the ``@``, or a ``version`` that differs from ``@ref``.
    """
    base, ref = store, None
    if "@" in store and not os.path.exists(store):
        head, _, tail = store.rpartition("@")
        if head and tail and "/" not in tail:
            base, ref = head, tail
        elif not tail:
            raise ConfigError(f"Invalid value for 'STORE'. Expected PATH or PATH@VERSION. Got {store!r}.")
    if ref is not None and version is not None and str(ref) != str(version):
        raise ConfigError(
            f"Conflicting versions for {base!r}: {ref!r} (from STORE@...) and {str(version)!r} (from "
            "--version)."
        )
    return base, version_arg(ref if ref is not None else version)


def open_ref(
    store: str,
    version: str | int | None = None,
    *,
    mode: str = "r",
    storage_options: dict[str, Any] | None = None,
    require_version: bool = False,
) -> Backpack:
    """Open the store reference ``STORE[@V]`` (or ``version``).

    ``storage_options`` go to the backend (s3: endpoint_url, key, secret, ...); they open the store
    only and are never recorded anywhere (they may hold credentials). With ``require_version`` a
    store without any version is a clear error saying how to build one.
    """
    from backpack.store.store import Backpack

    path, ref = split_ref(store, version)
    bp = Backpack.open(path, version=ref, mode=mode, storage_options=storage_options)
    if require_version and bp.version is None:
        raise StoreError(
            f"The store {path!r} has no version yet. Build one with `backpack build RUN --store {path}`."
        )
    return bp


__all__ = ["open_ref", "split_ref", "version_arg"]
