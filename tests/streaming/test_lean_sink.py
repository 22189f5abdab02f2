"""``IntoTopic(lineage_headers=False)`` and ``streaming.runtime.gc_threshold``: the two
throughput options of a flow, through the real source, record path and sink (M tier)."""

from __future__ import annotations

import gc

import pytest

from loom_django.streaming import (
    ErrorKind,
    ErrorRoute,
    FromTopic,
    IntoTopic,
    Process,
    RecordStep,
    StreamCompilationError,
    StreamFlow,
    compile_flow,
)
from loom_django.streaming.testing import FlowHarness
from tests.streaming.flows import Order, OrderValidated, Validate, kafka_config

pytestmark = pytest.mark.stream_mem

LINEAGE = {"x-trace-id", "x-parent-trace-id", "x-correlation-id", "x-causation-id"}


def _flow(*, lean: bool, rejected_lean: bool = False) -> StreamFlow:
    return StreamFlow(
        name="lean",
        source=FromTopic("orders", payload=Order),
        process=Process(
            Validate, IntoTopic("valid", payload=OrderValidated, lineage_headers=not lean)
        ),
        errors=[
            ErrorRoute(
                (ErrorKind.BUSINESS,), IntoTopic("rejected", lineage_headers=not rejected_lean)
            )
        ],
    )


def _run(flow: StreamFlow, *orders: Order) -> FlowHarness:
    harness = FlowHarness(flow)
    for order in orders:
        harness.send(
            "orders",
            order,
            key="k1",
            trace_id="trace-in",
            correlation_id="corr-1",
            headers={"x-tenant": b"acme"},
        )
    harness.run()
    return harness


def test_a_lean_sink_writes_the_envelope_without_headers():
    harness = _run(_flow(lean=True), Order(order_id="o1", amount=3))
    [record] = harness.records("valid")
    assert record.headers == ()
    assert record.key == b"k1"


def test_a_lean_sink_keeps_the_lineage_in_the_envelope():
    lean = _run(_flow(lean=True), Order(order_id="o1", amount=3))
    full = _run(_flow(lean=False), Order(order_id="o1", amount=3))
    [lean_env] = lean.envelopes("valid")
    [full_env] = full.envelopes("valid")
    assert (lean_env.meta.parent_trace_id, lean_env.meta.correlation_id) == ("trace-in", "corr-1")
    assert lean_env.meta.descriptor == full_env.meta.descriptor
    assert lean_env.payload == full_env.payload
    assert len(lean_env.meta.trace_id) == 32


def test_a_full_sink_repeats_the_lineage_in_headers_and_passes_inbound_ones_through():
    harness = _run(_flow(lean=False), Order(order_id="o1", amount=3))
    [record] = harness.records("valid")
    names = {name for name, _ in record.headers}
    assert LINEAGE <= names
    assert record.header("x-tenant") == b"acme"
    assert record.header("x-trace-id") == harness.envelopes("valid")[0].meta.trace_id.encode()


def test_a_lean_error_route_still_writes_the_error_kind_and_reason():
    harness = _run(_flow(lean=False, rejected_lean=True), Order(order_id="bad", amount=-1))
    [record] = harness.records("rejected")
    assert record.header("x-error-kind") == b"business"
    assert record.header("x-error-reason")
    assert not LINEAGE & {name for name, _ in record.headers}


def test_lineage_headers_off_with_json_raw_is_a_compile_error_naming_the_sink():
    flow = StreamFlow(
        name="raw",
        source=FromTopic("orders", payload=Order),
        process=Process(IntoTopic("out", codec="json-raw", lineage_headers=False)),
    )
    with pytest.raises(StreamCompilationError, match=r"IntoTopic\(out\): lineage_headers=False"):
        compile_flow(flow, config=kafka_config())


class _SeeThreshold(RecordStep[Order, Order]):
    seen: list[int] = []

    def execute(self, message):
        self.seen.append(gc.get_threshold()[0])
        return message.payload


def _threshold_flow() -> StreamFlow:
    return StreamFlow(
        name="gc",
        source=FromTopic("orders", payload=Order),
        process=Process(_SeeThreshold, IntoTopic("out")),
    )


def test_a_run_raises_the_collector_threshold_and_restores_it():
    before = gc.get_threshold()
    _SeeThreshold.seen = []
    _run(_threshold_flow(), Order(order_id="o1", amount=1))
    assert _SeeThreshold.seen == [50_000]
    assert gc.get_threshold() == before


def test_a_null_gc_threshold_leaves_the_collector_alone():
    config = kafka_config()
    config["streaming"]["runtime"]["gc_threshold"] = None
    _SeeThreshold.seen = []
    harness = FlowHarness(_threshold_flow(), config=config)
    harness.send("orders", Order(order_id="o1", amount=1))
    harness.run()
    assert _SeeThreshold.seen == [gc.get_threshold()[0]]


def test_a_gc_threshold_below_one_is_a_compile_error():
    config = kafka_config()
    config["streaming"]["runtime"]["gc_threshold"] = 0
    with pytest.raises(StreamCompilationError, match="gc_threshold must be >= 1 or null"):
        compile_flow(_threshold_flow(), config=config)
