"""Arguments shared by the store commands: ``STORE[@V]``, ``--storage-option``, error mapping.

Only click and the standard library here (see :mod:`backpack.cli.store_cmds`).
"""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable
from typing import Any

import click

from backpack.cli._common import EXIT_FAILED_CHECK, EXIT_USAGE, fail, handle_errors


def parse_store_ref(store: str, version: str | None) -> tuple[str, str | None]:
    """Split ``path@ref`` into (path, ref) with :func:`backpack.store.ref.split_ref`; errors exit 2."""
    from backpack.errors import ConfigError
    from backpack.store.ref import split_ref

    try:
        path, ref = split_ref(store, version)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    return path, None if ref is None else str(ref)


def version_arg(ref: str | None) -> int | str | None:
    """``"3"`` -> 3 (a version number); a tag name or ``None`` stays as it is."""
    from backpack.store.ref import version_arg as _version_arg

    return _version_arg(ref)


# Values of these stay strings even when they look like numbers.
_SECRET_KEYS = {"key", "secret", "token", "username", "password"}


def _option_value(key: str, value: str) -> Any:
    import json

    low = value.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if key in _SECRET_KEYS:
        return value
    if value.strip().lstrip("-").isdigit():
        return int(value)
    if value.strip().startswith("{"):  # e.g. client_kwargs={"region_name": "eu-west-1"}
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            fail(
                f"Invalid value for '--storage-option {key}'. Expected a JSON object. Got {value!r}.",
                EXIT_USAGE,
            )
    return value


def parse_storage_options(items: tuple[str, ...]) -> dict[str, Any] | None:
    """``("endpoint_url=http://...", "anon=true", "max_concurrency=4")`` -> dict.

    ``true``/``false`` become booleans, integers ints (except credentials), ``{...}`` JSON objects.
    """
    opts: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            fail(f"Invalid value for '--storage-option'. Expected KEY=VALUE. Got {item!r}.", EXIT_USAGE)
        opts[key] = _option_value(key, value)
    return opts or None


def _store_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """House errors -> exit 2 (bad input), but a damaged store -> exit 1 (a failed check)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from backpack.errors import BackpackError, IntegrityError

        try:
            return func(*args, **kwargs)
        except IntegrityError as exc:
            fail(str(exc), EXIT_FAILED_CHECK)
        except OSError as exc:  # unreadable file, permissions: input problems, not bugs
            if isinstance(exc, BackpackError):  # NotFoundError is a FileNotFoundError too
                raise
            from backpack.errors import WRITE_ERRNOS, os_error_message

            name = errno.errorcode.get(exc.errno or -1)  # a refused write is a failure, not bad input
            fail(os_error_message(exc), EXIT_FAILED_CHECK if name in WRITE_ERRNOS else EXIT_USAGE)

    return handle_errors(wrapper)


def storage_option_flag(func: Callable[..., Any]) -> Callable[..., Any]:
    """Only the ``--storage-option KEY=VALUE`` option (repeatable; parse with :func:`parse_storage_options`).

    For commands that also open a store but map errors themselves (build, learn, evaluate, explain).
    """
    return click.option(
        "--storage-option",
        "storage_option",
        multiple=True,
        metavar="KEY=VALUE",
        help="Backend option of the store, repeatable (s3: endpoint_url, key, secret, anon=true, ...).",
    )(func)


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options every command taking a STORE has: --storage-option; plus error mapping."""
    return storage_option_flag(_store_errors(func))


def open_store(store: str, version: str | None, storage_option: tuple[str, ...], mode: str = "r") -> Any:
    """``Backpack.open`` of ``STORE[@V]`` (or ``--version``) with the parsed ``--storage-option``s."""
    from backpack.store import Backpack

    path, ref = parse_store_ref(store, version)
    return Backpack.open(
        path, version=version_arg(ref), mode=mode, storage_options=parse_storage_options(storage_option)
    )
