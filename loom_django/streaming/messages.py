"""The message a flow carries: a typed payload plus its metadata (ids, lineage, coordinates)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

__all__ = ["Message", "MessageMeta", "message_type_of", "message_version_of"]

P = TypeVar("P")


class MessageMeta(msgspec.Struct, frozen=True, kw_only=True):
    """Identity, lineage and source coordinates of one message (spec §2.1)."""

    message_id: str
    correlation_id: str | None = None
    trace_id: str | None = None
    parent_trace_id: str | None = None
    causation_id: str | None = None
    produced_at_ms: int | None = None
    message_type: str | None = None
    message_version: int | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: bytes | str | None = None
    headers: dict[str, bytes] = msgspec.field(default_factory=dict)


class Message(msgspec.Struct, Generic[P], frozen=True, kw_only=True):
    """A payload and its :class:`MessageMeta`; steps receive and may return whole messages."""

    payload: P
    meta: MessageMeta


def message_type_of(cls: type[Any]) -> str:
    """The logical message type of a payload class: ``__loom_message_type__`` or its dotted name."""
    declared = getattr(cls, "__loom_message_type__", None)
    if isinstance(declared, str) and declared:
        return declared
    return f"{cls.__module__}.{cls.__qualname__}"


def message_version_of(cls: type[Any]) -> int:
    """The contract version of a payload class (``__loom_message_version__``, default 1)."""
    version = getattr(cls, "__loom_message_version__", 1)
    return version if isinstance(version, int) else 1
