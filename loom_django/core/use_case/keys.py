"""Stable string keys for use cases, so callers can invoke them by name."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["get_use_case_key", "set_use_case_key", "use_case_key"]

_KEY_RE = re.compile(r"^[a-z0-9_.:-]+$")
_KEY_ATTR = "__loom_use_case_key__"
T = TypeVar("T", bound=type[Any])


def _validate(key: str) -> str:
    key = key.strip()
    if not key:
        raise ValueError("Use-case key cannot be empty.")
    if not _KEY_RE.fullmatch(key):
        raise ValueError(f"Use-case key must match ^[a-z0-9_.:-]+$ (got '{key}').")
    return key


def set_use_case_key(cls: type[Any], key: str) -> None:
    """Give ``cls`` the key ``key`` (validated; only on this class, not its subclasses)."""
    setattr(cls, _KEY_ATTR, (cls, _validate(key)))


def get_use_case_key(cls: type[Any]) -> str | None:
    """The key declared on ``cls`` itself, or ``None``."""
    entry = cls.__dict__.get(_KEY_ATTR)
    return entry[1] if entry else None


def use_case_key(key: str) -> Callable[[T], T]:
    """Class decorator: ``@use_case_key("orders.cancel")``."""
    validated = _validate(key)

    def decorate(cls: T) -> T:
        set_use_case_key(cls, validated)
        return cls

    return decorate
