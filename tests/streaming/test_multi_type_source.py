"""``FromMultiTypeTopic``: the compile-time dispatch table and decoding by message type,
including error-topic records (spec §2.4)."""

from __future__ import annotations

import msgspec
import pytest

from loom_django.streaming import (
    DecodeError,
    Drain,
    ErrorEnvelope,
    ErrorKind,
    ErrorRoute,
    FromMultiTypeTopic,
    FromTopic,
    IntoTopic,
    Process,
    RecordStep,
    StreamCompilationError,
    StreamFlow,
    compile_flow,
)
from loom_django.streaming._runtime import encode_emit
from loom_django.streaming.codecs import MsgpackCodec
from loom_django.streaming.messages import message_type_of
from tests.streaming.flows import Order, Run, Validate, by_topic, kafka_config


class Refund(msgspec.Struct, frozen=True):
    __loom_message_type__ = "shop.refund"
    order_id: str


class Unknown(msgspec.Struct, frozen=True):
    __loom_message_type__ = "shop.unknown"
    x: int


PAYLOADS = (Order, Refund, ErrorEnvelope[Order], DecodeError)


def _flow(payloads=PAYLOADS, step=None):
    nodes = (step, Drain()) if step else (Drain(),)
    return StreamFlow(
        "multi",
        FromMultiTypeTopic("mixed", payloads=payloads),
        Process(*nodes),
        errors=ErrorRoute((ErrorKind.WIRE,), IntoTopic("wire")),
    )


def test_dispatch_table_keys_plain_error_and_wire_entries():
    """streaming §11.22"""
    dispatch = compile_flow(_flow(), config=kafka_config()).source.dispatch
    assert dispatch.plain == {message_type_of(Order): Order, "shop.refund": Refund}
    assert dispatch.errors == {message_type_of(Order): ErrorEnvelope[Order]}
    assert dispatch.wire is DecodeError


def test_unparameterised_error_envelope_fails_compilation():
    """streaming §11.22"""
    with pytest.raises(StreamCompilationError, match="ErrorEnvelope must be parameterised"):
        compile_flow(_flow(payloads=(Order, ErrorEnvelope)), config=kafka_config())


def _error_record(kind):
    """The bytes an error route writes for a failing Order (TASK) or for junk bytes (WIRE)."""
    flow = StreamFlow(
        "src", FromTopic("in", payload=Order), Process(Validate, Drain()), errors=IntoTopic("e")
    )
    item = Order(order_id="e", amount=13) if kind is ErrorKind.TASK else b"junk"
    [emit] = Run(flow).feed(item, settle=False)
    return encode_emit(emit, MsgpackCodec())[0]


def test_each_declared_type_decodes_to_its_class_and_unknown_types_are_wire_errors():
    """streaming §11.34"""
    seen = []

    class Spy(RecordStep):
        def execute(self, message):
            seen.append(message.payload)
            return message.payload

    run = Run(_flow(step=Spy))
    topics = by_topic(
        run.feed(
            Order(order_id="o"),
            Refund(order_id="r"),
            _error_record(ErrorKind.TASK),
            _error_record(ErrorKind.WIRE),
            Unknown(x=1),
        )
    )
    assert seen[:2] == [Order(order_id="o"), Refund(order_id="r")]
    assert isinstance(seen[2], ErrorEnvelope)
    assert seen[2].original_message.payload == Order(order_id="e", amount=13)
    assert seen[2].kind is ErrorKind.TASK
    assert isinstance(seen[3], DecodeError) and seen[3].raw == b"junk"
    [wire] = topics["wire"]
    assert "unknown message_type 'shop.unknown'" in wire.error.reason
    assert run.committed() == {("in", 0): 5}


def test_describe_names_the_union_of_a_multi_type_source():
    """streaming §7.2 describe"""
    from loom_django.streaming.describe import describe

    text = describe(compile_flow(_flow(), config=kafka_config()))["source"]["payload"]
    assert "Order" in text and "Refund" in text


def test_an_error_record_of_an_undeclared_inner_type_is_a_wire_error():
    """streaming §2.4 (unknown inner error payload type)"""
    run = Run(_flow(payloads=(Refund, ErrorEnvelope[Refund])))
    [wire] = by_topic(run.feed(_error_record(ErrorKind.TASK)))["wire"]
    assert "unknown error payload_type" in wire.error.reason
