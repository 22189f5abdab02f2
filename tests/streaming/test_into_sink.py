"""The ``IntoSink`` protocol for third-party storage sinks (spec §2.5): structural detection,
compile-time checks, one partition per worker from ``streaming.sinks.<name>``, ack tokens
completed only after ``write_batch`` returned, WRITE lifecycle spans."""

from __future__ import annotations

import pytest

from loom_django.streaming import (
    FromTopic,
    IntoSink,
    IntoTopic,
    Process,
    Route,
    Router,
    SinkPartition,
    StreamCompilationError,
    StreamFlow,
    compile_flow,
    payload,
)
from loom_django.streaming.observe import Observation, Phase, Scope, instrument
from tests.streaming.flows import Order, OrderValidated, Run, Validate, kafka_config


class ListPartition:
    """Keeps what it was asked to write; fails while ``failing`` is set."""

    def __init__(self, config, worker_index, worker_count):
        self.config = config
        self.worker = (worker_index, worker_count)
        self.rows = []
        self.closed = 0
        self.failing = False

    def write_batch(self, items):
        if self.failing:
            raise ConnectionError("audit store down")
        self.rows.extend(items)

    def close(self):
        self.closed += 1


class AuditSink:
    """A small third-party sink: no loom base class, only the protocol's attributes."""

    def __init__(self, name="audit", payload=OrderValidated, router_branch_safe=True):
        self.name = name
        self.payload = payload
        self.router_branch_safe = router_branch_safe
        self.partitions = []

    def build_partition(
        self, config, worker_index, worker_count, bridge=None, session_manager=None
    ):
        part = ListPartition(config, worker_index, worker_count)
        self.partitions.append(part)
        return part


def _config(**sinks):
    cfg = kafka_config()
    cfg["streaming"]["sinks"] = sinks or {"audit": {"table": "audit_log"}}
    return cfg


def _run(sink, config=None):
    flow = StreamFlow(
        "audited", FromTopic("in", payload=Order), Process(Validate, sink), errors=IntoTopic("e")
    )
    return Run(flow, config=config or _config())


def test_an_object_with_the_protocols_attributes_is_an_into_sink():
    """streaming §2.5: detected structurally"""
    sink = AuditSink()
    assert isinstance(sink, IntoSink)
    assert isinstance(sink.build_partition({}, 0, 1), SinkPartition)


def test_write_batch_receives_the_messages_and_their_offsets_commit_after_it_returned():
    """streaming §2.5: tokens complete only after write_batch returns"""
    sink = AuditSink()
    run = _run(sink)
    emits = run.feed(Order(order_id="a", amount=1), Order(order_id="b", amount=2))
    assert emits == []
    [part] = sink.partitions
    assert [m.payload for m in part.rows] == [
        OrderValidated(order_id="a", amount=1),
        OrderValidated(order_id="b", amount=2),
    ]
    assert part.config == {"table": "audit_log"}
    assert part.worker == (0, 1)
    assert run.tracker.to_commit() == {("in", 0): 2}


def test_a_failing_write_batch_routes_every_message_of_the_batch_and_commits_nothing_early():
    """streaming §2.5: nothing of a failed write counts as written"""
    sink = AuditSink()
    run = _run(sink)
    run.feed(Order(order_id="a", amount=1))
    sink.partitions[0].failing = True
    emits = run.feed(Order(order_id="b", amount=2), Order(order_id="c", amount=3), settle=False)
    assert [e.sink.topic for e in emits] == ["e", "e"]
    assert all("audit store down" in e.message.payload.reason for e in emits)
    assert run.tracker.to_commit() == {("in", 0): 1}  # b and c wait for their error records


def test_each_partition_is_built_once_per_worker_and_closed_when_the_run_ends():
    """streaming §2.5: build_partition per worker; close() at shutdown"""
    sink = AuditSink()
    run = _run(sink)
    run.feed(Order(order_id="a", amount=1))
    run.feed(Order(order_id="b", amount=1))
    run.engine.close()
    [part] = sink.partitions
    assert part.closed == 1


def test_a_write_is_a_write_lifecycle_span():
    """streaming §6.9: Scope.WRITE span per storage flush"""

    class Recorder:
        events: list = []

        def on_event(self, event):
            self.events.append(event)

    run = _run(AuditSink())
    recorder = Recorder()
    instrument(run.engine, Observation("audited", [recorder]))
    run.feed(Order(order_id="a", amount=1))
    writes = [(e.phase, e.name, e.items) for e in recorder.events if e.scope is Scope.WRITE]
    assert writes == [(Phase.START, "audit", 1), (Phase.END, "audit", 1)]


def _errors(flow, config):
    with pytest.raises(StreamCompilationError) as info:
        compile_flow(flow, config=config)
    return info.value.errors


def test_a_sink_without_its_configuration_section_does_not_compile():
    """streaming §2.5: a missing section is a compile error"""
    flow = StreamFlow("audited", FromTopic("in", payload=Order), Process(Validate, AuditSink()))
    assert _errors(flow, kafka_config()) == [
        "audited.audit: no configuration section streaming.sinks.audit"
    ]


def test_a_sink_without_a_name_does_not_compile():
    """streaming §2.5: a missing name is a compile error"""
    flow = StreamFlow("audited", FromTopic("in", payload=Order), Process(Validate, AuditSink("")))
    [error] = _errors(flow, _config())
    assert "IntoSink needs a non-empty name" in error


def test_a_sink_whose_payload_does_not_accept_the_upstream_type_does_not_compile():
    """streaming §2.12: the declared payload is checked against the inferred upstream type"""
    flow = StreamFlow("audited", FromTopic("in", payload=Order), Process(AuditSink()))
    [error] = _errors(flow, _config())
    assert "payload OrderValidated does not accept Order" in error


def test_a_sink_that_is_not_router_branch_safe_cannot_end_a_router_branch():
    """streaming §2.5: router_branch_safe"""
    unsafe = AuditSink(payload=None, router_branch_safe=False)
    router = Router.when([Route(payload.segment == "vip", Process(unsafe))])
    flow = StreamFlow("audited", FromTopic("in", payload=Order), Process(router, IntoTopic("o")))
    [error] = _errors(flow, _config())
    assert "is not router_branch_safe" in error
