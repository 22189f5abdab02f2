"""Multi-type sources: the dispatch table built at compile time and the decoder that probes a
record's message type before decoding it into the declared class (spec §2.4, §3.3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, get_args, get_origin

import msgspec

from loom_django.streaming.codecs import JSON_RAW, KafkaCodec, MessageEnvelope
from loom_django.streaming.errors import DecodeError, ErrorEnvelope, ErrorKind, error_message_type
from loom_django.streaming.messages import message_type_of
from loom_django.streaming.plan import Dispatch

__all__ = ["MultiTypeDecoder", "WIRE_TYPE", "dispatch_table"]

WIRE_TYPE = error_message_type(ErrorKind.WIRE)
"""The message type of ``DecodeError`` records."""

_ENVELOPE_TYPES = frozenset(
    error_message_type(k) for k in (ErrorKind.ROUTING, ErrorKind.TASK, ErrorKind.BUSINESS)
)


def dispatch_table(payloads: Sequence[Any]) -> tuple[Dispatch, list[str]]:
    """The dispatch table of ``payloads`` and the problems found (one message each)."""
    plain: dict[str, type[Any]] = {}
    errors: dict[str, Any] = {}
    wire: type[Any] | None = None
    problems: list[str] = []
    for item in payloads:
        if item is DecodeError:
            wire = DecodeError
        elif item is ErrorEnvelope:
            problems.append("ErrorEnvelope must be parameterised (ErrorEnvelope[Payload])")
        elif get_origin(item) is ErrorEnvelope:
            (inner,) = get_args(item)
            errors[message_type_of(inner)] = item
        elif isinstance(item, type) and issubclass(item, msgspec.Struct):
            key = message_type_of(item)
            if key in plain:
                problems.append(f"two payload classes share the message type {key!r}")
            plain[key] = item
        else:
            problems.append(f"payload must be a msgspec Struct class (got {item!r})")
    return Dispatch(plain=plain, errors=errors, wire=wire), problems


class _Descriptor(msgspec.Struct):
    message_type: str = ""


class _Meta(msgspec.Struct):
    descriptor: _Descriptor = msgspec.field(default_factory=_Descriptor)


class _Probe(msgspec.Struct):
    meta: _Meta
    payload: msgspec.Raw


class _ErrorProbe(msgspec.Struct):
    payload_type: str | None = None


class MultiTypeDecoder:
    """A codec-shaped decoder for ``FromMultiTypeTopic``: probes the envelope's message type
    (the ``x-loom-message-type`` header for ``json-raw``) and decodes into the declared class.

    Raises (from ``decode``):
        ValueError: unknown message type or unknown inner error payload type.
        msgspec.DecodeError: the probe or the record cannot be decoded.
    """

    def __init__(self, codec: KafkaCodec, dispatch: Dispatch) -> None:
        self._codec = codec
        self._dispatch = dispatch
        self.content_type = codec.content_type
        if codec.content_type == JSON_RAW:
            self._probe: Any = None
            self._inner: Any = msgspec.json.Decoder(_ErrorProbe)
        elif codec.content_type.endswith("json"):
            self._probe = msgspec.json.Decoder(_Probe)
            self._inner = msgspec.json.Decoder(_ErrorProbe)
        else:
            self._probe = msgspec.msgpack.Decoder(_Probe)
            self._inner = msgspec.msgpack.Decoder(_ErrorProbe)

    def encode(self, envelope: MessageEnvelope[Any]) -> bytes:
        """Encoding is the wrapped codec's."""
        return self._codec.encode(envelope)

    def decode(
        self, raw: bytes, payload_type: Any = None, headers: Mapping[str, bytes] | None = None
    ) -> MessageEnvelope[Any]:
        """The envelope in ``raw``, its payload an instance of the class its type selects."""
        if self._probe is None:
            value = (headers or {}).get("x-loom-message-type")
            message_type = value.decode("utf-8", "replace") if value else ""
            body: bytes = raw
        else:
            probe = self._probe.decode(raw)
            message_type = probe.meta.descriptor.message_type
            body = bytes(probe.payload)
        return self._codec.decode(raw, self._target(message_type, body), headers)

    def _target(self, message_type: str, body: bytes) -> Any:
        dispatch = self._dispatch
        target = dispatch.plain.get(message_type)
        if target is not None:
            return target
        if message_type == WIRE_TYPE and dispatch.wire is not None:
            return dispatch.wire
        if message_type in _ENVELOPE_TYPES and dispatch.errors:
            inner = self._inner.decode(body).payload_type
            target = dispatch.errors.get(inner or "")
            if target is None:
                raise ValueError(f"unknown error payload_type {inner!r} in a {message_type} record")
            return target
        raise ValueError(f"unknown message_type {message_type!r}")
