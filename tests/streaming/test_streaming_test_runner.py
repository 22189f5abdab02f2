"""``StreamingTestRunner`` (kernel-compatible, spec §8.3): payloads, messages and wire records
through a flow's record path with Bytewax's testing source and sink."""

from __future__ import annotations

import pytest

from loom_django.streaming import (
    ErrorKind,
    ErrorRoute,
    FromTopic,
    IntoTopic,
    Process,
    RecordStep,
    StreamFlow,
)
from loom_django.streaming.errors import DecodeError
from loom_django.streaming.memory import InMemoryKafka
from loom_django.streaming.messages import Message, MessageMeta
from loom_django.streaming.testing import StreamingTestRunner, envelope_bytes
from tests.streaming.flows import Order, OrderValidated, Validate, kafka_config

pytestmark = pytest.mark.stream_mem


def _flow(errors=None):
    return StreamFlow(
        "validate",
        FromTopic("orders", payload=Order),
        Process(Validate, IntoTopic("valid", payload=OrderValidated)),
        errors=errors,
    )


def test_payloads_become_messages_test_i_on_the_first_source_topic():
    seen = []

    class Spy(RecordStep[Order, Order]):
        def execute(self, message):
            seen.append((message.meta.message_id, message.meta.topic))
            return message.payload

    flow = StreamFlow("spy", FromTopic("orders", payload=Order), Process(Spy, IntoTopic("out")))
    runner = StreamingTestRunner.from_flow(flow)
    runner.with_payloads([Order(order_id="a"), Order(order_id="b")]).run()
    assert seen == [("test-0", "orders"), ("test-1", "orders")]
    assert [m.payload.order_id for m in runner.output] == ["a", "b"]


def test_errors_of_every_kind_are_captured_even_without_routes():
    runner = StreamingTestRunner.from_flow(_flow())
    runner.with_payloads([Order(order_id="ok", amount=1), Order(order_id="neg", amount=-1)])
    runner.run()
    assert [m.payload.order_id for m in runner.output] == ["ok"]
    [error] = runner.errors
    assert error.kind is ErrorKind.BUSINESS


def test_capture_errors_keeps_only_the_named_kinds():
    runner = StreamingTestRunner.from_dict(_flow(), kafka_config()).capture_errors("task")
    runner.with_payloads([Order(order_id="neg", amount=-1), Order(order_id="x", amount=13)])
    runner.run()
    assert [e.kind for e in runner.errors] == [ErrorKind.TASK]


def test_wire_records_are_decoded_so_bad_bytes_are_a_wire_error():
    kafka = InMemoryKafka()
    good = kafka.produce("orders", envelope_bytes(Order(order_id="a", amount=1)), "k")
    bad = kafka.produce("orders", b"not-msgpack", "k")
    routes = [ErrorRoute((ErrorKind.WIRE,), IntoTopic("wire"))]
    runner = StreamingTestRunner.from_flow(_flow(errors=routes)).with_messages([good, bad])
    runner.run()
    assert [m.payload.order_id for m in runner.output] == ["a"]
    [error] = runner.errors
    assert isinstance(error, DecodeError)
    assert (error.raw, error.offset) == (b"not-msgpack", bad.offset)


def test_messages_are_taken_as_they_are():
    message = Message(
        payload=Order(order_id="m", amount=2),
        meta=MessageMeta(message_id="custom-1", correlation_id="c-1", topic="orders"),
    )
    runner = StreamingTestRunner.from_flow(_flow()).with_messages([message]).run()
    [out] = runner.output
    assert out.payload == OrderValidated(order_id="m", amount=2)
    assert out.meta.correlation_id == "c-1"


def test_reset_forgets_input_output_and_errors():
    runner = StreamingTestRunner.from_flow(_flow())
    runner.with_payloads([Order(order_id="neg", amount=-1), Order(order_id="a", amount=1)]).run()
    runner.reset()
    assert (runner.output, runner.errors) == ([], [])
    runner.with_payloads([Order(order_id="b", amount=1)]).run()
    assert [m.payload.order_id for m in runner.output] == ["b"]


def test_from_yaml_compiles_against_the_file(tmp_path):
    path = tmp_path / "loom.yaml"
    path.write_text(
        "kafka:\n  consumer: {brokers: [memory]}\n  producer: {brokers: [memory]}\n"
        "  consumers:\n    orders: {topics: [orders.physical]}\n"
    )
    runner = StreamingTestRunner.from_yaml(_flow(), str(path))
    runner.with_payloads([Order(order_id="a", amount=1)]).run()
    assert [m.payload.order_id for m in runner.output] == ["a"]
    assert runner.output[0].meta.topic == "orders.physical"
