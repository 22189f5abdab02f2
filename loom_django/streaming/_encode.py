"""The output side of the wire: trace ids and the Kafka record of an emitted message
(value, key, headers, timestamp; spec §3.1, §3.5), with everything that does not change per
record built once per codec."""

from __future__ import annotations

import os
import time
from random import randbytes
from typing import Any

import msgspec

from loom_django.streaming.codecs import (
    CONTENT_TYPES,
    JSON_RAW,
    JsonCodec,
    KafkaCodec,
    MessageDescriptor,
    MessageEnvelope,
    MessageMetadata,
    MsgpackCodec,
)
from loom_django.streaming.messages import Message
from loom_django.streaming.plan import CompiledSink
from loom_django.streaming.tracker import Completion

__all__ = ["Emit", "EmitEncoder", "KafkaRecord", "encode_emit", "new_trace_id"]

KafkaRecord = tuple[bytes, bytes | str | None, list[tuple[str, bytes]], int | None]
"""``(value, key, headers, timestamp_ms)`` of one record to produce."""


class Emit(msgspec.Struct):
    """An item for the sink: a message for ``sink`` whose write completes ``token``."""

    sink: CompiledSink
    message: Message[Any]
    token: Completion
    message_type: str
    message_version: int
    extra_headers: dict[str, bytes] | None = None


_POOL_SIZE = 256
_trace_pool: list[str] = []


def _refill() -> None:
    blob = randbytes(16 * _POOL_SIZE).hex()
    _trace_pool.extend([blob[i : i + 32] for i in range(0, 32 * _POOL_SIZE, 32)])


if hasattr(os, "register_at_fork"):  # a forked worker must not reuse its parent's ids
    os.register_at_fork(after_in_child=_trace_pool.clear)


def new_trace_id() -> str:
    """A random 128-bit trace id as 32 hex digits (not for secrets).

    Ids are cut from one block of random bytes drawn per 256 ids (no syscall);
    ``list.pop`` is atomic, so worker threads share the pool.
    """
    try:
        return _trace_pool.pop()
    except IndexError:
        _refill()
        return _trace_pool.pop()


_CONTENT_TYPE_BYTES = {ct: ct.encode() for ct in CONTENT_TYPES.values()}

_MANAGED_HEADERS = frozenset(
    {
        "x-trace-id",
        "x-parent-trace-id",
        "x-correlation-id",
        "x-causation-id",
        "x-loom-message-type",
        "x-loom-message-version",
        "content-type",
        "x-error-kind",
        "x-error-reason",
    }
)


class EmitEncoder:
    """Encodes emitted messages with one codec; descriptors and headers that never change
    are built once."""

    __slots__ = ("_content_header", "_descriptors", "_encode", "_raw", "content_type")

    def __init__(self, codec: KafkaCodec) -> None:
        # The built-in envelope codecs' encode is one msgspec call: bind it, not the wrapper.
        exact = type(codec) in (MsgpackCodec, JsonCodec)
        self._encode = codec.envelope_encoder() if exact else codec.encode  # type: ignore[attr-defined]
        self.content_type = codec.content_type
        self._content_header = (
            "content-type",
            _CONTENT_TYPE_BYTES.get(codec.content_type) or b"",
        )
        self._raw = codec.content_type == JSON_RAW  # the only codec whose type travels in headers
        self._descriptors: dict[str, MessageDescriptor] = {}

    def _descriptor(self, message_type: str, version: int) -> MessageDescriptor:
        descriptor = self._descriptors.get(message_type)
        if descriptor is None or descriptor.message_version != version:
            descriptor = self._descriptors[message_type] = MessageDescriptor(
                message_type=message_type,
                message_version=version,
                content_type=self.content_type,
            )
        return descriptor

    def _value_key(self, emit: Emit) -> tuple[bytes, bytes | str | None, str, int | None]:
        """The encoded envelope (a new trace id for this hop, the input's trace id as
        parent, its message id as causation, its event time kept; spec §3.1), the record
        key, the new trace id and the input's event time (``None``: the producer's clock)."""
        message = emit.message
        meta = message.meta
        trace_id = new_trace_id()
        produced = meta.produced_at_ms
        descriptor = self._descriptors.get(emit.message_type)
        if descriptor is None or descriptor.message_version != emit.message_version:
            descriptor = self._descriptor(emit.message_type, emit.message_version)
        value = self._encode(
            MessageEnvelope(
                meta=MessageMetadata(
                    descriptor=descriptor,
                    trace_id=trace_id,
                    parent_trace_id=meta.trace_id,
                    correlation_id=meta.correlation_id,
                    causation_id=meta.message_id,
                    produced_at_ms=produced
                    if produced is not None
                    else time.time_ns() // 1_000_000,
                ),
                payload=message.payload,
            )
        )
        key: bytes | str | None = meta.key
        policy = emit.sink.partitioning
        if policy is not None and (key is None or policy.allow_repartition):
            strategy_key = policy.key_for(message)
            key = strategy_key if strategy_key is not None else key
        return value, key, trace_id, produced

    def encode(self, emit: Emit) -> KafkaRecord:
        """The record for ``emit``, its lineage repeated in headers: trace, parent trace,
        correlation and causation ids, content type, inbound headers passed through."""
        value, key, trace_id, produced = self._value_key(emit)
        meta = emit.message.meta
        inbound = meta.headers
        headers = (
            [(k, v) for k, v in inbound.items() if k not in _MANAGED_HEADERS] if inbound else []
        )
        headers.append(("x-trace-id", trace_id.encode()))
        if meta.trace_id:
            headers.append(("x-parent-trace-id", meta.trace_id.encode()))
        if meta.correlation_id:
            headers.append(("x-correlation-id", meta.correlation_id.encode()))
        headers.append(("x-causation-id", meta.message_id.encode()))
        if self._raw:
            headers.append(("x-loom-message-type", emit.message_type.encode()))
            headers.append(("x-loom-message-version", str(emit.message_version).encode()))
        headers.append(self._content_header)
        if emit.extra_headers:
            headers.extend(emit.extra_headers.items())
        return value, key, headers, produced

    def encode_lean(self, emit: Emit) -> KafkaRecord:
        """The record for ``emit`` with the envelope alone carrying its lineage
        (``IntoTopic(lineage_headers=False)``): only headers a step added are written."""
        value, key, _, produced = self._value_key(emit)
        extra = emit.extra_headers
        return value, key, list(extra.items()) if extra else [], produced


def encode_emit(emit: Emit, codec: KafkaCodec) -> KafkaRecord:
    """``(value, key, headers, timestamp_ms)`` of the record for ``emit`` (spec §3.1, §3.5).

    Builds an encoder per call; a sink keeps an :class:`EmitEncoder` per codec instead.
    """
    return EmitEncoder(codec).encode(emit)
