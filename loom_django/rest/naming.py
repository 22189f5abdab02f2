"""Name conversions between the wire (camelCase) and Python (snake_case)."""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["camel_to_snake", "snake_to_camel"]

_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])")
_BOUNDARY = re.compile(r"([a-z\d])([A-Z])")


@lru_cache(maxsize=1024)
def camel_to_snake(name: str) -> str:
    """``createdAt`` → ``created_at``, ``HTTPStatus`` → ``http_status``; snake stays snake."""
    return _BOUNDARY.sub(r"\1_\2", _ACRONYM.sub(r"\1_\2", name)).lower()


def snake_to_camel(name: str) -> str:
    """``price_cents`` → ``priceCents`` (msgspec's ``rename="camel"`` spelling)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
