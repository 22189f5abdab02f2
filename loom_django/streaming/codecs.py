"""Wire codecs: the loom-kernel msgpack envelope (default), the same envelope as JSON, and
payload-only JSON whose metadata travels in Kafka headers.

Encoders and decoders are built once per payload type and reused for every record.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar

import msgspec

from loom_django.extras import require

__all__ = [
    "CONTENT_TYPES",
    "JSON",
    "JSON_RAW",
    "MSGPACK",
    "JsonCodec",
    "JsonRawCodec",
    "KafkaCodec",
    "MessageDescriptor",
    "MessageEnvelope",
    "MessageMetadata",
    "MsgpackCodec",
    "SchemaRef",
    "codec_for",
]

P = TypeVar("P")

MSGPACK = "application/x-loom-msgpack"
JSON = "application/x-loom-json"
JSON_RAW = "application/json"
CONTENT_TYPES = {"msgpack": MSGPACK, "json": JSON, "json-raw": JSON_RAW}
"""Content type written in the ``content-type`` header per codec id."""


class SchemaRef(msgspec.Struct, frozen=True, kw_only=True):
    """Reference to an external schema of the payload."""

    namespace: str
    name: str
    version: int | None = None
    format: str | None = None


class MessageDescriptor(msgspec.Struct, frozen=True, kw_only=True):
    """The payload's logical contract: type, version, content type, schema."""

    message_type: str = "loom.streaming.message"
    message_version: int = 1
    content_type: str = MSGPACK
    schema_ref: SchemaRef | None = None


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class MessageMetadata(msgspec.Struct, frozen=True, kw_only=True):
    """Envelope metadata (loom-kernel field names, so services interoperate)."""

    descriptor: MessageDescriptor = msgspec.field(default_factory=MessageDescriptor)
    trace_id: str | None = None
    parent_trace_id: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    produced_at_ms: int = msgspec.field(default_factory=_now_ms)


class MessageEnvelope(msgspec.Struct, Generic[P], frozen=True, kw_only=True):
    """What an envelope codec puts on the wire: metadata plus the payload."""

    meta: MessageMetadata
    payload: P


class KafkaCodec(Protocol):
    """Encodes envelopes to record values and decodes them back."""

    content_type: str

    def encode(self, envelope: MessageEnvelope[Any]) -> bytes:
        """The record value for ``envelope``."""
        ...

    def decode(
        self, raw: bytes, payload_type: type[Any], headers: Mapping[str, bytes] | None = None
    ) -> MessageEnvelope[Any]:
        """The envelope in ``raw`` (raises ``msgspec.DecodeError``/``ValidationError``)."""
        ...


class MsgpackCodec:
    """msgspec MessagePack of the envelope; byte-compatible with loom-kernel's ``MsgspecCodec``."""

    content_type = MSGPACK

    def __init__(self) -> None:
        self._encoder = msgspec.msgpack.Encoder()
        self._decoders: dict[type[Any], msgspec.msgpack.Decoder[Any]] = {}

    def encode(self, envelope: MessageEnvelope[Any]) -> bytes:
        """The record value for ``envelope``."""
        return self._encoder.encode(envelope)

    def envelope_encoder(self) -> Callable[[MessageEnvelope[Any]], bytes]:
        """What ``encode`` calls (the reused msgspec encoder's ``encode``): a sink encoding
        every record calls it directly."""
        return self._encoder.encode

    def decode(
        self, raw: bytes, payload_type: type[Any], headers: Mapping[str, bytes] | None = None
    ) -> MessageEnvelope[Any]:
        """The envelope in ``raw``."""
        envelope: MessageEnvelope[Any] = self.envelope_decoder(payload_type).decode(raw)
        return envelope

    def envelope_decoder(self, payload_type: Any) -> msgspec.msgpack.Decoder[Any]:
        """The reusable decoder of ``MessageEnvelope[payload_type]`` (headers are not read)."""
        decoder = self._decoders.get(payload_type)
        if decoder is None:
            decoder = msgspec.msgpack.Decoder(MessageEnvelope[payload_type])
            self._decoders[payload_type] = decoder
        return decoder


class JsonCodec:
    """msgspec JSON of the same envelope (``bytes`` fields become base64 strings)."""

    content_type = JSON

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()
        self._decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}

    def encode(self, envelope: MessageEnvelope[Any]) -> bytes:
        """The record value for ``envelope``."""
        return self._encoder.encode(envelope)

    def envelope_encoder(self) -> Callable[[MessageEnvelope[Any]], bytes]:
        """What ``encode`` calls (the reused msgspec encoder's ``encode``): a sink encoding
        every record calls it directly."""
        return self._encoder.encode

    def decode(
        self, raw: bytes, payload_type: type[Any], headers: Mapping[str, bytes] | None = None
    ) -> MessageEnvelope[Any]:
        """The envelope in ``raw``."""
        envelope: MessageEnvelope[Any] = self.envelope_decoder(payload_type).decode(raw)
        return envelope

    def envelope_decoder(self, payload_type: Any) -> msgspec.json.Decoder[Any]:
        """The reusable decoder of ``MessageEnvelope[payload_type]`` (headers are not read)."""
        decoder = self._decoders.get(payload_type)
        if decoder is None:
            decoder = msgspec.json.Decoder(MessageEnvelope[payload_type])
            self._decoders[payload_type] = decoder
        return decoder


def _text(headers: Mapping[str, bytes], key: str) -> str | None:
    value = headers.get(key)
    return value.decode("utf-8", "replace") if value is not None else None


class JsonRawCodec:
    """Payload-only JSON for non-loom producers/consumers; metadata lives in Kafka headers
    (``x-loom-message-type``, ``x-loom-message-version``, the trace headers)."""

    content_type = JSON_RAW

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()
        self._decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}

    def encode(self, envelope: MessageEnvelope[Any]) -> bytes:
        """The payload as JSON (the metadata goes to headers, written by the sink)."""
        return self._encoder.encode(envelope.payload)

    def decode(
        self, raw: bytes, payload_type: type[Any], headers: Mapping[str, bytes] | None = None
    ) -> MessageEnvelope[Any]:
        """An envelope around the JSON payload, its metadata taken from ``headers``."""
        decoder = self._decoders.get(payload_type)
        if decoder is None:
            decoder = msgspec.json.Decoder(payload_type)
            self._decoders[payload_type] = decoder
        hdrs = headers or {}
        version = _text(hdrs, "x-loom-message-version")
        descriptor = MessageDescriptor(
            message_type=_text(hdrs, "x-loom-message-type") or "loom.streaming.message",
            message_version=int(version) if version and version.isdecimal() else 1,
            content_type=JSON_RAW,
        )
        return MessageEnvelope(
            meta=MessageMetadata(
                descriptor=descriptor,
                trace_id=_text(hdrs, "x-trace-id"),
                parent_trace_id=_text(hdrs, "x-parent-trace-id"),
                correlation_id=_text(hdrs, "x-correlation-id"),
                causation_id=_text(hdrs, "x-causation-id"),
                produced_at_ms=0,
            ),
            payload=decoder.decode(raw),
        )


_BUILTIN: dict[str, type[Any]] = {
    "msgpack": MsgpackCodec,
    "json": JsonCodec,
    "json-raw": JsonRawCodec,
}


def codec_for(codec_id: str) -> KafkaCodec:
    """A new codec for ``codec_id``: ``msgpack``, ``json``, ``json-raw`` or a dotted path to a
    class implementing :class:`KafkaCodec`.

    Raises:
        ValueError: unknown id, or a dotted path that does not resolve to a class.
    """
    builtin = _BUILTIN.get(codec_id)
    if builtin is not None:
        codec: KafkaCodec = builtin()
        return codec
    module_path, _, attr = codec_id.rpartition(".")
    if not module_path:
        raise ValueError(
            f"unknown codec {codec_id!r} (expected msgpack, json, json-raw or a dotted path)"
        )
    try:
        cls = getattr(require(module_path, extra="stream"), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"codec {codec_id!r} cannot be imported: {exc}") from None
    custom: KafkaCodec = cls()
    return custom
