"""Idempotency records (spec §5.8): what a flow emitted for a key, stored in the use case's
transaction and read back when the key comes again; plus retention (``prune-inbox``)."""

from __future__ import annotations

import importlib
import re
from datetime import timedelta
from typing import Any

import msgspec

from loom_django.streaming.messages import Message

__all__ = ["Stored", "find", "parse_duration", "prune", "record"]

_NOTHING = ""  # result_type of a key whose step emitted nothing
_encoder = msgspec.msgpack.Encoder()


class Stored(msgspec.Struct, frozen=True):
    """The result a key produced the first time (``None``: the step emitted nothing)."""

    result: Any


def find(flow: str, key: str, using: str = "default") -> Stored | None:
    """The stored result of ``key`` in ``flow``, or ``None`` when the key is new."""
    from django.db import connections

    connection = connections[using]
    with connection.cursor() as cursor:  # one indexed lookup, no ORM compile per message
        cursor.execute(_sql(connection, _FIND), [flow, key])
        row = cursor.fetchone()
    if row is None:
        return None
    data, type_path = row
    if not type_path or data is None:
        return Stored(None)
    return Stored(msgspec.msgpack.decode(bytes(data), type=_import(type_path)))


def record(flow: str, key: str, result: Any, using: str = "default") -> None:
    """Store ``result`` (what the step emitted for ``key``) in the current transaction.

    A :class:`~loom_django.streaming.messages.Message` is stored as its payload (a replay
    re-emits it with the incoming message's metadata).

    Raises:
        django.db.IntegrityError: ``key`` was recorded concurrently (another worker).
    """
    from django.db import connections
    from django.utils import timezone

    if isinstance(result, Message):
        result = result.payload
    if result is None:
        data, type_path = None, _NOTHING
    else:
        cls = type(result)
        data, type_path = _encoder.encode(result), f"{cls.__module__}:{cls.__qualname__}"
    connection = connections[using]
    created = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(_sql(connection, _INSERT), [flow, key, data, type_path, created])


_FIND = "SELECT {result}, {result_type} FROM {table} WHERE {flow} = %s AND {key} = %s"
_INSERT = (
    "INSERT INTO {table} ({flow}, {key}, {result}, {result_type}, {created_at}) "
    "VALUES (%s, %s, %s, %s, %s)"
)
_SQL_CACHE: dict[tuple[str, str], str] = {}


def _sql(connection: Any, template: str) -> str:
    """``template`` with the inbox's table and column names quoted for ``connection``."""
    cached = _SQL_CACHE.get((connection.vendor, template))
    if cached is None:
        quote = connection.ops.quote_name
        names = ("flow", "key", "result", "result_type", "created_at")
        cached = template.format(
            table=quote("loom_django_stream_inbox"), **{n: quote(n) for n in names}
        )
        _SQL_CACHE[(connection.vendor, template)] = cached
    return cached


def _import(path: str) -> Any:
    module, _, qualname = path.partition(":")
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """``"7d"``, ``"12h"``, ``"30m"``, ``"45s"``, ``"2w"`` as a ``timedelta``.

    Raises:
        ValueError: not a number followed by one of s, m, h, d, w.
    """
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"expected a duration such as 7d, 12h, 30m (got {text!r})")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def prune(older_than: timedelta, *, flow: str | None = None, using: str = "default") -> int:
    """Delete inbox rows created more than ``older_than`` ago; returns how many."""
    from django.utils import timezone

    from loom_django.streaming.models import StreamInbox

    rows = StreamInbox.objects.using(using).filter(created_at__lt=timezone.now() - older_than)
    if flow is not None:
        rows = rows.filter(flow=flow)
    deleted, _ = rows.delete()
    return deleted
