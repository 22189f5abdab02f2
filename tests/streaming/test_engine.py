"""The record path (decode → ops → emits) with real ack tokens, no broker (tier M)."""

from __future__ import annotations

import contextlib

import msgspec
import pytest
from django.db import OperationalError

from loom_django.core.errors import RuleViolation
from loom_django.streaming import (
    BatchStep,
    CollectBatch,
    ContextFactory,
    Drain,
    ErrorKind,
    ErrorRoute,
    ExpandStep,
    Fork,
    FromTopic,
    IntoTopic,
    PartitionPolicy,
    Process,
    RecordStep,
    ResourceScope,
    RetryPolicy,
    Route,
    Router,
    StreamCompilationError,
    StreamFlow,
    With,
    compile_flow,
    msg,
    payload,
)
from loom_django.streaming._runtime import FlowEngine, RawRecord, UnroutedErrorStop, encode_emit
from loom_django.streaming.codecs import MsgpackCodec
from loom_django.streaming.messages import Message, MessageMeta, message_type_of
from loom_django.streaming.testing import envelope_bytes
from loom_django.streaming.tracker import AckTracker
from tests.streaming.flows import Order, OrderValidated, Run, Validate, by_topic, kafka_config


class Lane(msgspec.Struct, frozen=True):
    order_id: str
    lane: str


def _lane(name):
    class Mark(RecordStep[Order, Lane]):
        def execute(self, message):
            return Lane(order_id=message.payload.order_id, lane=name)

    Mark.__qualname__ = f"Mark{name}"
    return Mark


def _flow(*nodes, output=None, errors=None, unrouted="drop"):
    return StreamFlow(
        "t",
        FromTopic("in", payload=Order),
        Process(*nodes),
        output=output,
        errors=errors,
        unrouted_errors=unrouted,
    )


def test_step_failure_becomes_one_task_envelope_with_reason_and_original_payload():
    """streaming §11.49"""
    run = Run(_flow(Validate, IntoTopic("out"), errors=IntoTopic("errors")))
    emits = run.feed(Order(order_id="a", amount=13))
    [envelope] = by_topic(emits)["errors"]
    assert envelope.kind is ErrorKind.TASK
    assert envelope.reason == "boom"
    assert envelope.original_message.payload == Order(order_id="a", amount=13)
    assert run.committed() == {("in", 0): 1}


def test_domain_error_goes_to_the_business_route_only_with_details():
    """streaming §11.50"""
    errors = [
        ErrorRoute((ErrorKind.BUSINESS,), IntoTopic("rejected")),
        ErrorRoute((ErrorKind.TASK,), IntoTopic("failed")),
    ]
    run = Run(_flow(Validate, IntoTopic("out"), errors=errors))
    topics = by_topic(run.feed(Order(order_id="a", amount=-1)))
    assert list(topics) == ["rejected"]
    assert topics["rejected"][0].details == [
        {"field": "amount", "message": "must be positive", "code": "rule_violation"}
    ]


def test_unrouted_error_is_dropped_and_committed_or_stops_the_flow():
    """streaming §11.51"""
    run = Run(_flow(Validate, IntoTopic("out")))
    assert run.feed(Order(order_id="a", amount=-1)) == []
    assert run.committed() == {("in", 0): 1}
    assert run.engine.metrics.errors[("business", False)] == 1
    failing = Run(_flow(Validate, IntoTopic("out"), unrouted="fail"))
    with pytest.raises(UnroutedErrorStop):
        failing.feed(Order(order_id="a", amount=-1))
    assert failing.committed() == {}


def test_undecodable_bytes_become_one_wire_error_and_valid_records_still_flow():
    """streaming §11.29"""
    run = Run(
        _flow(Validate, IntoTopic("out"), errors=ErrorRoute((ErrorKind.WIRE,), IntoTopic("w")))
    )
    topics = by_topic(run.feed(b"not-msgpack", Order(order_id="ok", amount=1), key=b"k"))
    [decode_error] = topics["w"]
    assert (decode_error.raw, decode_error.offset, decode_error.key) == (b"not-msgpack", 0, b"k")
    assert decode_error.error.kind is ErrorKind.WIRE
    assert decode_error.error.original_message is None
    assert topics["out"] == [OrderValidated(order_id="ok", amount=1)]
    assert run.committed() == {("in", 0): 2}


def test_decoded_message_carries_envelope_and_record_metadata():
    """streaming §11.27"""
    seen = []

    class Spy(RecordStep[Order, Order]):
        def execute(self, message):
            seen.append(message.meta)
            return message.payload

    run = Run(_flow(Spy, Drain()))
    run.offset = 3
    run.feed(Order(order_id="a"), key=b"tenant-a")
    meta = seen[0]
    assert meta.message_id == "in:0:3"
    assert (meta.correlation_id, meta.trace_id, meta.key, meta.headers) == (
        "corr-1",
        "trace-1",
        b"tenant-a",
        {"h": b"1"},
    )
    assert meta.message_type == message_type_of(Order)


def test_router_by_selector_routes_lanes_in_input_order_with_default():
    """streaming §11.35"""
    router = Router.by(
        msg.payload.segment,
        {"vip": Process(_lane("vip")), "standard": Process(_lane("standard"))},
        default=Process(_lane("manual")),
    )
    run = Run(_flow(router, IntoTopic("out")))
    out = by_topic(
        run.feed(
            Order(order_id="1", segment="vip"),
            Order(order_id="2"),
            Order(order_id="3", segment="unknown"),
        )
    )["out"]
    assert [p.lane for p in out] == ["vip", "standard", "manual"]


def test_router_branch_ending_in_a_topic_does_not_rejoin_and_no_match_passes_through():
    """streaming §11.37, §11.38"""
    router = Router.when([Route(payload.segment == "vip", Process(IntoTopic("orders.vip")))])
    run = Run(_flow(router, IntoTopic("out")))
    topics = by_topic(run.feed(Order(order_id="1", segment="vip"), Order(order_id="2")))
    assert [p.order_id for p in topics["orders.vip"]] == ["1"]
    assert [p.order_id for p in topics["out"]] == ["2"]


def test_fork_without_default_completes_unmatched_records_so_offsets_commit():
    """streaming §11.39, §11.40"""
    fork = Fork.by(payload.segment, {"vip": Process(IntoTopic("vip"))})
    run = Run(_flow(fork))
    emits = run.feed(Order(order_id="0", segment="manual"), Order(order_id="1", segment="vip"))
    assert [e.sink.topic for e in emits] == ["vip"]
    assert run.committed() == {("in", 0): 2}
    assert run.engine.metrics.unmatched["Fork"] == 1


def test_fork_when_is_first_match():
    """streaming §11.39"""
    fork = Fork.when(
        [
            Route(payload.segment == "vip", Process(IntoTopic("vip"))),
            Route(payload.amount > 100, Process(IntoTopic("std"))),
        ],
        default=Process(Drain()),
    )
    run = Run(_flow(fork))
    topics = by_topic(
        run.feed(
            Order(order_id="a", segment="vip", amount=100),
            Order(order_id="b", segment="manual", amount=500),
        )
    )
    assert [p.order_id for p in topics["vip"]] == ["a"]
    assert [p.order_id for p in topics["std"]] == ["b"]


class Split(ExpandStep[Order, Order]):
    def execute(self, message):
        return [message.payload] * message.payload.amount


def test_expand_to_zero_commits_and_to_three_commits_only_after_all_three_written():
    """streaming §11.56"""
    run = Run(_flow(Split, IntoTopic("out")))
    assert run.feed(Order(order_id="none", amount=0)) == []
    assert run.committed() == {("in", 0): 1}
    emits = run.feed(Order(order_id="three", amount=3), settle=False)
    assert len(emits) == 3
    emits[0].token.done()
    emits[1].token.done()
    assert run.committed() == {("in", 0): 1}
    emits[2].token.done()
    assert run.committed() == {("in", 0): 2}


def test_step_replacing_meta_with_empty_coordinates_does_not_block_commits():
    """streaming §11.56"""

    class Replace(RecordStep[Order, Order]):
        def execute(self, message):
            return Message(payload=message.payload, meta=MessageMeta(message_id="new"))

    run = Run(_flow(Replace, IntoTopic("out")))
    run.feed(Order(order_id="a"))
    assert run.committed() == {("in", 0): 1}


def test_batch_step_returning_fewer_items_fails_every_message_of_the_batch():
    """streaming §11.52"""

    class Short(BatchStep[Order, Order]):
        def execute(self, messages):
            return [m.payload for m in messages][:-1]

    from loom_django.streaming import ForEach

    run = Run(_flow(CollectBatch(10, 1), Short, ForEach(), IntoTopic("out"), errors=IntoTopic("e")))
    envelopes = by_topic(run.feed(Order(order_id="a"), Order(order_id="b")))["e"]
    assert len(envelopes) == 2
    assert all("returned 1 items for a batch of 2" in e.reason for e in envelopes)


def test_retry_policy_retries_task_errors_and_counts_attempts():
    """streaming §11.53"""
    calls = {"n": 0}

    class Flaky(RecordStep[Order, Order]):
        retry = RetryPolicy(max_attempts=3, backoff_ms=1)

        def execute(self, message):
            calls["n"] += 1
            if message.payload.order_id == "always" or calls["n"] <= 2:
                raise OperationalError("db gone")
            return message.payload

    run = Run(_flow(Flaky, IntoTopic("out"), errors=IntoTopic("e")))
    assert len(by_topic(run.feed(Order(order_id="ok")))["out"]) == 1
    assert sum(run.engine.metrics.retries.values()) == 2
    [envelope] = by_topic(run.feed(Order(order_id="always")))["e"]
    assert envelope.attempts == 3


def test_business_errors_are_not_retried():
    """streaming §11.53"""
    calls = {"n": 0}

    class Reject(RecordStep[Order, Order]):
        retry = RetryPolicy(max_attempts=5, backoff_ms=1)

        def execute(self, message):
            calls["n"] += 1
            raise RuleViolation("x", "no")

    Run(_flow(Reject, IntoTopic("out"), errors=IntoTopic("e"))).feed(Order(order_id="a"))
    assert calls["n"] == 1


def test_with_worker_scope_opens_a_client_once_and_batch_scope_once_per_batch():
    """streaming §11.44"""
    events = []

    @contextlib.contextmanager
    def client(name):
        events.append(f"open {name}")
        yield name
        events.append(f"close {name}")

    class Use(RecordStep[Order, Order]):
        def execute(self, message, client):
            events.append(f"use {client}")
            return message.payload

    run = Run(_flow(CollectBatch(2, 1), With(process=Process(Use), client=client("w"))))
    run.feed(*[Order(order_id=str(i)) for i in range(4)])
    run.engine.close()
    assert events.count("open w") == 1 and events.count("close w") == 1

    counter = iter(range(1, 10))
    events.clear()
    batch = With(
        ResourceScope.BATCH,
        process=Process(Use),
        client=ContextFactory(lambda: client(next(counter))),
    )
    run = Run(_flow(CollectBatch(2, 1), batch))
    run.feed(*[Order(order_id=str(i)) for i in range(4)])
    assert [e for e in events if e.startswith("use")] == ["use 1", "use 1", "use 2", "use 2"]
    assert events.count("close 1") == events.count("close 2") == 1
    assert run.committed() == {("in", 0): 4}


def test_with_directly_after_the_source_processes_and_writes_every_record():
    """streaming §11.45"""
    run = Run(_flow(With(process=Process(Validate, IntoTopic("out")))))
    out = by_topic(run.feed(*[Order(order_id=str(i), amount=1) for i in range(3)]))["out"]
    assert len(out) == 3


def test_output_envelope_lineage_type_and_timestamp():
    """streaming §11.31, §11.32"""
    run = Run(_flow(Validate, IntoTopic("out")))
    [emit] = run.feed(Order(order_id="a", amount=1), settle=False)
    value, key, headers, ts = encode_emit(emit, MsgpackCodec())
    env = MsgpackCodec().decode(value, OrderValidated)
    assert env.meta.descriptor.message_type == message_type_of(OrderValidated)
    assert env.meta.causation_id == "in:0:0"
    assert env.meta.parent_trace_id == "trace-1"
    assert env.meta.trace_id not in (None, "trace-1")
    assert env.meta.correlation_id == "corr-1"
    assert ts == env.meta.produced_at_ms
    names = {k for k, _ in headers}
    assert {"x-trace-id", "x-parent-trace-id", "x-correlation-id", "content-type"} <= names


@pytest.mark.parametrize(
    ("in_key", "repartition", "expected"),
    [(None, False, b"order-123"), (b"in", False, b"in"), (b"in", True, b"order-123")],
)
def test_output_key_follows_the_partition_policy(in_key, repartition, expected):
    """streaming §11.30"""

    class KeyByOrder:
        def partition_key(self, message):
            return f"order-{message.payload.order_id}".encode()

    policy = PartitionPolicy(KeyByOrder(), allow_repartition=repartition)
    run = Run(_flow(IntoTopic("out", partitioning=policy)))
    [emit] = run.feed(Order(order_id="123"), key=in_key, settle=False)
    assert encode_emit(emit, MsgpackCodec())[1] == expected


def test_no_policy_keeps_the_input_key():
    """streaming §11.30"""
    run = Run(_flow(IntoTopic("out")))
    [emit] = run.feed(Order(order_id="1"), key=b"k", settle=False)
    assert encode_emit(emit, MsgpackCodec())[1] == b"k"


def _codec_run(codec):
    cfg = kafka_config()
    cfg["kafka"]["codec"] = codec
    flow = StreamFlow("c", FromTopic("in", payload=Order), Process(Validate, IntoTopic("out")))
    plan = compile_flow(flow, config=cfg)
    return FlowEngine(plan), AckTracker()


def test_json_codec_decodes_json_envelopes_and_writes_json_with_its_content_type():
    """streaming §11.33 (in memory)"""
    from loom_django.streaming.codecs import JsonCodec

    engine, tracker = _codec_run("json")
    value = envelope_bytes(Order(order_id="j", amount=2), codec="json")
    [emit] = engine.process(
        [RawRecord(value, None, {}, "in", 0, 0, None, tracker.register("in", 0, 0))]
    )
    out, _, headers, _ = encode_emit(emit, JsonCodec())
    assert JsonCodec().decode(out, OrderValidated).payload == OrderValidated(order_id="j", amount=2)
    assert ("content-type", b"application/x-loom-json") in headers


def test_json_raw_codec_reads_payload_only_json_with_type_from_headers():
    """streaming §11.33 (in memory)"""
    from loom_django.streaming.codecs import JsonRawCodec

    engine, tracker = _codec_run("json-raw")
    value = msgspec.json.encode(Order(order_id="r", amount=3))
    headers = {"x-loom-message-type": b"shop.order", "x-correlation-id": b"c-9"}
    [emit] = engine.process(
        [RawRecord(value, None, headers, "in", 0, 0, 5, tracker.register("in", 0, 0))]
    )
    assert emit.message.meta.message_type == "shop.order"
    assert emit.message.meta.correlation_id == "c-9"
    out, _, out_headers, _ = encode_emit(emit, JsonRawCodec())
    assert msgspec.json.decode(out) == {"order_id": "r", "amount": 3}
    assert ("x-loom-message-type", message_type_of(OrderValidated).encode()) in out_headers


def test_an_envelope_without_trace_id_gets_a_new_one():
    """streaming §11.28"""
    seen = []

    class Spy(RecordStep[Order, Order]):
        def execute(self, message):
            seen.append(message.meta.trace_id)
            return message.payload

    run = Run(_flow(Spy, Drain()))
    run.engine.process(
        [
            RawRecord(
                envelope_bytes(Order(order_id="a")),
                None,
                {},
                "in",
                0,
                0,
                None,
                run.tracker.register("in", 0, 0),
            )
        ]
    )
    assert seen[0] and len(seen[0]) == 32


def _flaky(failures):
    """A step class failing ``failures`` times with ``OperationalError``; counts its calls."""

    class Flaky(RecordStep[Order, Order]):
        calls = 0

        def execute(self, message):
            type(self).calls += 1
            if type(self).calls <= failures:
                raise OperationalError("db gone")
            return message.payload

    return Flaky


def test_flow_default_retry_applies_to_steps_without_their_own_policy():
    """streaming §5.4 (streaming.flows.<flow>.retry)"""
    flaky = _flaky(2)
    cfg = kafka_config()
    cfg["streaming"]["flows"] = {"t": {"retry": {"max_attempts": 3, "backoff_ms": 1}}}
    run = Run(_flow(flaky, IntoTopic("out")), config=cfg)
    assert len(by_topic(run.feed(Order(order_id="a")))["out"]) == 1
    assert flaky.calls == 3
    cfg["streaming"]["flows"] = {"t": {"retry": {"attempts": 3}}}
    with pytest.raises(StreamCompilationError, match="unknown keys attempts"):
        Run(_flow(flaky, IntoTopic("out")), config=cfg)


def test_with_retry_applies_to_its_inner_steps():
    """streaming §5.4 (With(retry=...))"""
    flaky = _flaky(1)
    scope = With(retry=RetryPolicy(max_attempts=2, backoff_ms=1), process=Process(flaky))
    run = Run(_flow(scope))
    run.feed(Order(order_id="a"))
    assert flaky.calls == 2
    assert run.committed() == {("in", 0): 1}
