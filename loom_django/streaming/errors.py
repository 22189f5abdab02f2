"""Streaming errors: the kinds a message can fail with, the envelopes routed to error topics,
and the exceptions the door raises.

Hierarchy::

    StreamCompilationError (CompilationError)   a flow is invalid; every problem listed
    KafkaDeliveryError (RuntimeError)           a produced record was not delivered
    InvalidFlowConfig (ValueError)              the kafka/streaming configuration is invalid
    InlineSuspensionError (RuntimeError)        a use case needed an event loop in inline mode
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Generic, TypeVar

import msgspec

from loom_django.core.errors import CompilationError

__all__ = [
    "BatchRolledBack",
    "DecodeError",
    "ErrorEnvelope",
    "ErrorKind",
    "ErrorMessage",
    "InlineSuspensionError",
    "InvalidFlowConfig",
    "KafkaDeliveryError",
    "StreamCompilationError",
    "error_message_type",
]

P = TypeVar("P")


class ErrorKind(StrEnum):
    """Why a message failed: bad bytes, a routing failure, a technical or a business failure."""

    WIRE = "wire"
    ROUTING = "routing"
    TASK = "task"
    BUSINESS = "business"


def error_message_type(kind: ErrorKind) -> str:
    """The envelope message type of an error record of ``kind``."""
    return f"loom.streaming.error.{kind.value}"


class ErrorMessage(msgspec.Struct, Generic[P], frozen=True, kw_only=True):
    """The original message inside an error envelope (payload plus its metadata)."""

    payload: P
    message_id: str | None = None
    correlation_id: str | None = None
    trace_id: str | None = None
    causation_id: str | None = None
    produced_at_ms: int | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: bytes | None = None
    headers: dict[str, bytes] = msgspec.field(default_factory=dict)


class ErrorEnvelope(msgspec.Struct, Generic[P], frozen=True, kw_only=True):
    """A processing failure of one message, written to the error route of its kind."""

    kind: ErrorKind
    reason: str
    payload_type: str | None = None
    original_message: ErrorMessage[P] | None = None
    details: list[dict[str, str]] = msgspec.field(default_factory=list)
    attempts: int = 1
    flow: str | None = None
    node: str | None = None


class DecodeError(msgspec.Struct, frozen=True, kw_only=True):
    """A record whose bytes could not be decoded (kind WIRE); keeps the raw record."""

    error: ErrorEnvelope[Any]
    raw: bytes
    topic: str | None = None
    key: bytes | None = None
    headers: dict[str, bytes] = msgspec.field(default_factory=dict)
    partition: int | None = None
    offset: int | None = None
    timestamp_ms: int | None = None


class StreamCompilationError(CompilationError):
    """A flow failed to compile; ``errors`` lists every problem, each naming flow and node."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__(
            f"Compilation failed with {len(self.errors)} error(s): " + "; ".join(self.errors)
        )


class KafkaDeliveryError(RuntimeError):
    """Records could not be delivered to ``topic`` (and the sink has no DLQ)."""

    def __init__(self, topic: str, reason: str) -> None:
        super().__init__(f"delivery to topic {topic!r} failed: {reason}")
        self.topic = topic
        self.reason = reason


class InvalidFlowConfig(ValueError):
    """The ``kafka`` or ``streaming`` configuration is invalid; the message names the key."""


class InlineSuspensionError(RuntimeError):
    """A use case run with ``mode="inline"`` awaited something that needs an event loop (a
    real suspension, Django's async ORM, an async HTTP client); its writes were rolled back.

    Run it with ``mode="bridged"`` (or ``"auto"``, which falls back by itself).
    """


class BatchRolledBack(RuntimeError):
    """This message's writes were rolled back because another message of its
    ``transaction="batch"`` batch failed (or the batch's COMMIT did); the reason names the
    failing message and its error. The message itself may be fine: re-driving it can succeed.
    """
