"""The M tier (spec §8.1, §8.3): flows run by Bytewax (``run_main`` in the test thread) through
the real source, record path, sink and commit code, on the in-memory Kafka transport."""

from __future__ import annotations

import threading

import msgspec
import pytest

from loom_django.streaming import (
    ErrorKind,
    ErrorRoute,
    ExpandStep,
    Fork,
    FromTopic,
    IntoTopic,
    Process,
    RecordStep,
    Router,
    StreamFlow,
    msg,
    payload,
)
from loom_django.streaming._murmur2 import partition_for
from loom_django.streaming.errors import KafkaDeliveryError
from loom_django.streaming.testing import FlowHarness, FlowHarnessTimeout, InMemoryKafka
from tests.streaming.flows import Order, OrderValidated, Validate

pytestmark = pytest.mark.stream_mem


def _validate_flow(name="validate", dlq=None):
    return StreamFlow(
        name=name,
        source=FromTopic("orders", payload=Order),
        process=Process(Validate, IntoTopic("valid", payload=OrderValidated, dlq=dlq)),
        errors=[
            ErrorRoute((ErrorKind.BUSINESS,), IntoTopic("rejected")),
            ErrorRoute((ErrorKind.TASK, ErrorKind.WIRE), IntoTopic("failed")),
        ],
    )


class Lane(msgspec.Struct, frozen=True):
    order_id: str
    lane: str


def _lane(name):
    class Mark(RecordStep[Order, Lane]):
        def execute(self, message):
            return Lane(order_id=message.payload.order_id, lane=name)

    Mark.__qualname__ = f"Mark{name}"
    return Mark


def test_outputs_keep_the_input_key_and_lineage_and_every_offset_commits():
    """streaming §11.30, §11.31, §11.54 through the real sink"""
    harness = FlowHarness(_validate_flow())
    for i in range(5):
        harness.send(
            "orders",
            Order(order_id=f"o{i}", amount=i + 1),
            key="k1",
            trace_id="trace-in",
            correlation_id="corr-1",
        )
    harness.run()
    assert [m.order_id for m in harness.messages("valid")] == [f"o{i}" for i in range(5)]
    record = harness.records("valid")[0]
    envelope = harness.envelopes("valid")[0]
    assert record.key == b"k1"
    assert envelope.meta.parent_trace_id == "trace-in"
    assert envelope.meta.correlation_id == "corr-1"
    assert record.timestamp_ms == envelope.meta.produced_at_ms
    assert record.header("x-correlation-id") == b"corr-1"
    assert harness.committed("orders") == {partition_for(b"k1", 4): 5}
    assert harness.kafka.lag(harness.plan.source.group_id, "orders") == 0


def test_each_error_kind_reaches_its_route():
    """streaming §11.29, §11.49, §11.50"""
    harness = FlowHarness(_validate_flow())
    harness.send("orders", Order(order_id="ok", amount=1))
    harness.send("orders", Order(order_id="neg", amount=-1))
    harness.send("orders", Order(order_id="boom", amount=13))
    harness.send_raw("orders", b"not-msgpack", key="k")
    harness.run()
    [business] = harness.errors("business")
    [task] = harness.errors(ErrorKind.TASK)
    [wire] = harness.errors("wire")
    assert business.details[0]["field"] == "amount"
    assert (task.reason, task.original_message.payload["order_id"]) == ("boom", "boom")
    assert (wire.raw, wire.key, wire.error.kind) == (b"not-msgpack", b"k", ErrorKind.WIRE)
    assert [m.order_id for m in harness.messages("valid")] == ["ok"]
    assert sum(harness.committed().values()) == 4
    assert harness.metrics()["errors"] == {"business": 1, "task": 1, "wire": 1}


def test_router_lanes_follow_the_segment_in_input_order():
    """streaming §11.35"""
    router = Router.by(
        msg.payload.segment,
        {"vip": Process(_lane("vip")), "standard": Process(_lane("standard"))},
        default=Process(_lane("manual")),
    )
    flow = StreamFlow("route", FromTopic("in", payload=Order), Process(router, IntoTopic("out")))
    harness = FlowHarness(flow)
    for i, segment in enumerate(("vip", "standard", "unknown")):
        harness.send("in", Order(order_id=str(i), segment=segment), key="one-key")
    harness.run()
    assert [m["lane"] for m in harness.messages("out")] == ["vip", "standard", "manual"]


def test_fork_without_default_still_commits_past_an_unmatched_first_record():
    """streaming §11.39, §11.40"""
    fork = Fork.by(payload.segment, {"vip": Process(IntoTopic("vip"))})
    harness = FlowHarness(StreamFlow("fork", FromTopic("in", payload=Order), Process(fork)))
    harness.send("in", Order(order_id="0", segment="manual"), key="k")
    harness.send("in", Order(order_id="1", segment="vip"), key="k")
    harness.run()
    assert [m["order_id"] for m in harness.messages("vip")] == ["1"]
    assert harness.committed() == {partition_for(b"k", 4): 2}


class Split(ExpandStep[Order, Order]):
    def execute(self, message):
        return [message.payload] * message.payload.amount


def test_expand_to_zero_and_to_three_both_commit_after_their_writes():
    """streaming §11.56"""
    flow = StreamFlow("split", FromTopic("in", payload=Order), Process(Split, IntoTopic("out")))
    harness = FlowHarness(flow)
    harness.send("in", Order(order_id="none", amount=0), key="k")
    harness.send("in", Order(order_id="three", amount=3), key="k")
    harness.run()
    assert len(harness.records("out")) == 3
    assert harness.committed() == {partition_for(b"k", 4): 2}


def test_an_injected_delivery_failure_goes_to_the_dlq_and_commits():
    """streaming §11.57"""
    harness = FlowHarness(_validate_flow(dlq="valid.dlq"))
    harness.kafka.fail_deliveries("valid", 1, "broker unavailable")
    harness.send("orders", Order(order_id="a", amount=1), key="k")
    harness.run()
    [dead] = harness.records("valid.dlq")
    assert dead.header("x-dlq-error") == b"broker unavailable"
    assert harness.records("valid") == []
    assert harness.committed() == {partition_for(b"k", 4): 1}
    assert harness.metrics()["dlq"] == {"valid.dlq": 1}


def test_a_delivery_failure_without_dlq_stops_the_run_and_commits_nothing():
    """streaming §11.57, §11.77 (M part)"""
    harness = FlowHarness(_validate_flow())
    harness.kafka.fail_deliveries("valid", 1, "broker unavailable")
    harness.send("orders", Order(order_id="a", amount=1), key="k")
    with pytest.raises(KafkaDeliveryError, match="'valid'.*broker unavailable"):
        harness.run()
    assert harness.committed() == {}


def test_stop_drains_what_was_polled_and_commits_exactly_what_was_written():
    """streaming §11.74 (M part): graceful stop"""
    harness = FlowHarness(_validate_flow())
    for i in range(300):
        harness.send("orders", Order(order_id=str(i), amount=1), key=str(i % 5))

    def stop_after_some():
        while harness.runner is None or harness.runner.tracker.completed_total < 20:
            threading.Event().wait(0.001)
        harness.stop()

    threading.Thread(target=stop_after_some, daemon=True).start()
    harness.run()
    written = len(harness.records("valid"))
    assert 20 <= written
    assert sum(harness.committed().values()) == written


def test_max_messages_stops_once_that_many_records_completed():
    """streaming §11.75 (M part)"""
    harness = FlowHarness(_validate_flow())
    for i in range(50):
        harness.send("orders", Order(order_id=str(i), amount=1))
    harness.run(max_messages=10)
    assert harness.metrics()["completed"] >= 10
    assert sum(harness.committed().values()) == harness.metrics()["completed"]


def test_two_workers_split_the_partitions_and_write_each_record_once():
    """streaming §11.61 (M part)"""
    harness = FlowHarness(_validate_flow(), workers=2)
    for i in range(40):
        harness.send("orders", Order(order_id=str(i), amount=1), key=f"key-{i}")
    harness.run()
    assert sorted(int(m.order_id) for m in harness.messages("valid")) == list(range(40))
    assert sum(harness.committed().values()) == 40


def test_a_second_run_reads_only_what_arrived_since_the_last_commit():
    """streaming §11.76 (M part): restart resumes from the committed offsets"""
    kafka = InMemoryKafka()
    first = FlowHarness(_validate_flow(), kafka=kafka)
    first.send("orders", Order(order_id="a", amount=1))
    first.run()
    second = FlowHarness(_validate_flow(), kafka=kafka)
    second.send("orders", Order(order_id="b", amount=1))
    second.run()
    assert second.metrics()["messages_in"] == {"orders": 1}
    assert [m.order_id for m in second.messages("valid")] == ["a", "b"]


def test_a_flow_that_never_goes_idle_raises_a_timeout_naming_it():
    class Slow(RecordStep[Order, Order]):
        def execute(self, message):
            threading.Event().wait(0.05)
            return message.payload

    flow = StreamFlow("slow", FromTopic("in", payload=Order), Process(Slow, IntoTopic("out")))
    harness = FlowHarness(flow)
    for i in range(10):  # all polled at once: the stop drains them (0.5 s)
        harness.send("in", Order(order_id=str(i)))
    with pytest.raises(FlowHarnessTimeout, match="'slow'"):
        harness.run(timeout_s=0.2)


def test_a_fatal_consumer_error_stops_the_run():
    harness = FlowHarness(_validate_flow())
    harness.kafka.raise_on_consume("broker gone")
    with pytest.raises(Exception, match="broker gone"):
        harness.run()


def test_the_memory_transport_runs_a_flow_without_librdkafka(tmp_path):
    """streaming §8.2: no confluent_kafka import on the in-memory path"""
    import subprocess
    import sys

    script = tmp_path / "no_librdkafka.py"
    script.write_text(
        "import sys\n"
        "sys.modules['confluent_kafka'] = None  # any import of it now fails\n"
        "from loom_django.streaming import FromTopic, IntoTopic, Process, StreamFlow\n"
        "from loom_django.streaming.testing import FlowHarness\n"
        "from tests.streaming.flows import Order\n"
        "flow = StreamFlow('f', FromTopic('in', payload=Order), Process(IntoTopic('out')))\n"
        "h = FlowHarness(flow)\n"
        "h.send('in', Order(order_id='x'))\n"
        "h.run()\n"
        "assert [m['order_id'] for m in h.messages('out')] == ['x']\n"
        "print('ok', 'confluent_kafka' in sys.modules and sys.modules['confluent_kafka'])\n"
    )
    import os
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok None"


def test_a_rebalance_mid_run_redelivers_what_was_not_committed():
    """streaming §11.63 (M): revoke commits the completed prefix, the rest is read again"""
    kafka = InMemoryKafka()
    seen = []

    class Rebalance(RecordStep[Order, Order]):
        def execute(self, message):
            seen.append(message.payload.order_id)
            if message.payload.order_id == "2" and seen.count("2") == 1:
                kafka.rebalance(harness.plan.source.group_id)
            return message.payload

    flow = StreamFlow("rb", FromTopic("in", payload=Order), Process(Rebalance, IntoTopic("out")))
    harness = FlowHarness(flow, kafka=kafka)
    for i in range(5):
        harness.send("in", Order(order_id=str(i)), key="k")
    harness.run()
    assert set(seen) == {str(i) for i in range(5)}
    assert harness.committed() == {partition_for(b"k", 4): 5}


def test_a_failed_final_commit_fails_the_run_and_commits_nothing():
    """streaming §11.55 (M): a commit error surfaces to the caller"""
    from loom_django.streaming.memory import KafkaException

    harness = FlowHarness(_validate_flow())
    harness.send("orders", Order(order_id="a", amount=1))
    harness.kafka.fail_commits(1, "coordinator not available")
    with pytest.raises(KafkaException, match="coordinator not available"):
        harness.run()
    assert harness.committed() == {}


def test_a_retriable_commit_error_at_shutdown_is_retried():
    """streaming §6.3: the final commit waits out a rebalance in progress"""
    from loom_django.streaming.memory import KafkaError

    harness = FlowHarness(_validate_flow())
    harness.send("orders", Order(order_id="a", amount=1), key="k")
    busy = KafkaError(KafkaError.REBALANCE_IN_PROGRESS, "rebalance in progress")
    harness.kafka.fail_commits(2, busy)
    harness.run()
    assert harness.committed() == {partition_for(b"k", 4): 1}


def test_kafka_transport_memory_in_the_config_selects_the_in_memory_broker():
    """streaming §8.2: kafka.transport: memory, no harness"""
    import uuid

    from loom_django.streaming import compile_flow
    from loom_django.streaming.memory import default_kafka
    from loom_django.streaming.runner import StreamingRunner
    from loom_django.streaming.testing import envelope_bytes
    from tests.streaming.flows import kafka_config

    suffix = uuid.uuid4().hex[:8]
    config = kafka_config()
    config["kafka"]["transport"] = "memory"
    flow = StreamFlow(
        f"cfg-{suffix}",
        FromTopic(f"in-{suffix}", payload=Order),
        Process(IntoTopic(f"out-{suffix}")),
    )
    plan = compile_flow(flow, config=config)
    assert plan.transport == "memory"
    default_kafka().produce(f"in-{suffix}", envelope_bytes(Order(order_id="x")))
    StreamingRunner(plan, idle_timeout_s=0.05).run(calling_thread=True)
    assert len(default_kafka().records(f"out-{suffix}")) == 1


def test_an_unknown_transport_is_a_config_error_naming_the_key():
    from loom_django.streaming import StreamCompilationError, compile_flow
    from tests.streaming.flows import kafka_config

    config = kafka_config()
    config["kafka"]["transport"] = "carrier-pigeon"
    flow = StreamFlow("t", FromTopic("in", payload=Order), Process(IntoTopic("out")))
    with pytest.raises(StreamCompilationError, match="transport"):
        compile_flow(flow, config=config)


def test_the_fixtures_give_a_harness_on_the_tests_broker(flow_harness, in_memory_kafka):
    flow = StreamFlow("fx", FromTopic("in", payload=Order), Process(IntoTopic("out")))
    harness = flow_harness(flow)
    assert harness.kafka is in_memory_kafka
    assert harness.send(None, Order(order_id="a")).topic == "in"
    harness.run()
    assert len(in_memory_kafka.records("out")) == 1


def test_a_registered_flow_runs_by_name(flow_harness, monkeypatch):
    from loom_django.streaming.registry import registry
    from tests.streaming.flows import kafka_config

    for attr in ("_entries", "provider", "config", "duplicates"):
        monkeypatch.setattr(registry, attr, getattr(registry, attr))
    flow = StreamFlow("named", FromTopic("in", payload=Order), Process(IntoTopic("out")))
    registry.load([flow], config=kafka_config(), provider=None)
    harness = flow_harness("named")
    harness.send("in", Order(order_id="a"))
    harness.run()
    assert [m["order_id"] for m in harness.messages("out")] == ["a"]
    with pytest.raises(KeyError, match="unknown flow 'no-such-flow'"):
        flow_harness("no-such-flow")
