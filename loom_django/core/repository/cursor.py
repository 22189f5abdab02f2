"""Opaque, signed keyset cursor tokens shared by every repository.

A token carries the ordering values of the last row of a page (every sort field plus
the primary key as tie-breaker) and a digest of the ordering it was issued for, signed
with HMAC-SHA256. The Django app sets the secret from ``SECRET_KEY``; without it a
random per-process secret is used (tokens then do not survive a restart or cross
worker processes).

The signature also covers the *scope* active when the token is issued and read
(:func:`cursor_scope`; the REST door uses the route), so a token of one list is refused
by every other list. The payload is signed, not encrypted: clients can read the values,
which is why a route only sorts on fields its responses show.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import msgspec

from loom_django.core.errors import BadRequest
from loom_django.core.repository.abc.query import SortSpec

__all__ = [
    "cursor_ordering",
    "cursor_scope",
    "decode_cursor",
    "encode_cursor",
    "set_cursor_secret",
]

_MAC_BYTES = 16
_key: bytes = b""
_scope: ContextVar[bytes] = ContextVar("loom_cursor_scope", default=b"")


@contextmanager
def cursor_scope(scope: str) -> Iterator[None]:
    """Bind the cursors issued and accepted inside the block to ``scope`` (e.g. a route)."""
    token = _scope.set(scope.encode())
    try:
        yield
    finally:
        _scope.reset(token)


def set_cursor_secret(secret: bytes | str) -> None:
    """Sign cursor tokens with a key derived from ``secret`` (e.g. Django's SECRET_KEY)."""
    global _key
    raw = secret.encode() if isinstance(secret, str) else bytes(secret)
    _key = hashlib.sha256(b"loom_django.cursor:" + raw).digest()


set_cursor_secret(secrets.token_bytes(32))


def cursor_ordering(sort: Sequence[SortSpec], id_field: str) -> tuple[SortSpec, ...]:
    """The full keyset ordering: ``sort`` (or nothing) plus the primary key ascending.

    The primary key is appended unless ``sort`` already orders by it, so the ordering
    is total and paging visits every row exactly once.
    """
    ordering = tuple(SortSpec(s.field, "DESC" if s.direction == "DESC" else "ASC") for s in sort)
    if not any(s.field == id_field for s in ordering):
        ordering += (SortSpec(id_field, "ASC"),)
    return ordering


def _digest(ordering: Sequence[SortSpec]) -> str:
    text = ",".join(f"{s.field}:{s.direction}" for s in ordering)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(payload: bytes) -> bytes:
    scope = _scope.get()
    message = b"%d:%s|%s" % (len(scope), scope, payload) if scope else payload
    return hmac.new(_key, message, hashlib.sha256).digest()[:_MAC_BYTES]


def encode_cursor(ordering: Sequence[SortSpec], values: Sequence[Any]) -> str:
    """A signed token for the row whose ordering values are ``values``.

    ``values`` follow ``ordering`` (as returned by :func:`cursor_ordering`); datetimes,
    dates, Decimals and UUIDs are encoded as text and restored by :func:`decode_cursor`.
    """
    if len(values) != len(ordering):
        raise ValueError("encode_cursor needs one value per ordering field")
    payload = msgspec.json.encode([_digest(ordering), list(values)])
    return f"{_b64(payload)}.{_b64(_mac(payload))}"


def decode_cursor(
    token: str, ordering: Sequence[SortSpec], types: Sequence[Any] | None = None
) -> tuple[Any, ...]:
    """The ordering values stored in ``token``, converted to ``types`` when given.

    Raises:
        BadRequest: the token is malformed, was tampered with, was issued for another
            ordering, or holds values that do not convert to ``types``.
    """
    body, dot, signature = token.partition(".")
    try:
        payload, mac = _unb64(body), _unb64(signature)
    except (binascii.Error, ValueError):
        raise BadRequest("Invalid cursor: not a cursor token") from None
    if not dot or not hmac.compare_digest(mac, _mac(payload)):
        raise BadRequest(
            "Invalid cursor: signature mismatch (tampered, or issued by another list)"
        ) from None
    try:
        digest, values = msgspec.json.decode(payload, type=tuple[str, list[Any]])
    except msgspec.DecodeError:
        raise BadRequest("Invalid cursor: malformed payload") from None
    if digest != _digest(ordering) or len(values) != len(ordering):
        raise BadRequest("Invalid cursor: it was issued for a different sort order")
    if types is None:
        return tuple(values)
    return tuple(_convert(value, kind) for value, kind in zip(values, types, strict=True))


def _convert(value: Any, kind: Any) -> Any:
    if value is None or kind is None or kind is Any:
        return value
    try:
        return msgspec.convert(value, kind, strict=False)
    except msgspec.ValidationError as exc:
        raise BadRequest(f"Invalid cursor: {exc}") from None
