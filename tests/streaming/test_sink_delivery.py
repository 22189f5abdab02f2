"""The producer sink: tokens complete only after a clean flush; a delivery failure goes to the
sink's DLQ with the reason, or stops the flow with nothing committed (tier M, fake producer)."""

from __future__ import annotations

import pytest

from loom_django.streaming import FromTopic, IntoTopic, Process, StreamFlow, _bytewax, compile_flow
from loom_django.streaming._runtime import FlowEngine, RawRecord, StreamMetrics
from loom_django.streaming.errors import KafkaDeliveryError
from loom_django.streaming.testing import envelope_bytes
from loom_django.streaming.tracker import AckTracker
from tests.streaming.flows import Order, kafka_config


class _Err:
    def __init__(self, text):
        self.text = text

    def str(self):
        return self.text


class _Msg:
    def __init__(self, topic):
        self._topic = topic

    def topic(self):
        return self._topic


class FakeProducer:
    failing: set[str] = set()
    sent: list[tuple[str, list]] = []
    refuse: dict[str, int] = {}  # topic -> produce() calls that raise

    def __init__(self, config):
        self.on_delivery = config["on_delivery"]
        self.pending: list[str] = []

    def produce(self, topic, value, key=None, headers=None, timestamp=0):
        if FakeProducer.refuse.get(topic):
            FakeProducer.refuse[topic] -= 1
            raise RuntimeError("local queue refused the record")
        self.pending.append(topic)
        FakeProducer.sent.append((topic, headers or []))

    def flush(self, timeout):
        for topic in self.pending:
            if topic in FakeProducer.failing:
                self.on_delivery(_Err("broker unavailable"), _Msg(topic))
        self.pending.clear()
        return 0


@pytest.fixture
def fake_producer(monkeypatch):
    import confluent_kafka

    monkeypatch.setattr(confluent_kafka, "Producer", FakeProducer)
    FakeProducer.failing = set()
    FakeProducer.sent = []
    FakeProducer.refuse = {}
    return FakeProducer


def _write(dlq, count=2):
    flow = StreamFlow("s", FromTopic("in", payload=Order), Process(IntoTopic("orders", dlq=dlq)))
    plan = compile_flow(flow, config=kafka_config())
    tracker = AckTracker()
    records = [
        RawRecord(
            envelope_bytes(Order(order_id=str(i))),
            None,
            {},
            "in",
            0,
            i,
            None,
            tracker.register("in", 0, i),
        )
        for i in range(count)
    ]
    emits = FlowEngine(plan).process(records)
    sink = _bytewax._SinkPartition(plan, StreamMetrics(), None)
    return sink, emits, tracker


def test_outputs_of_records_revoked_in_flight_are_not_written(fake_producer):
    """streaming §11.61: after a rebalance the new owner writes them, once"""
    flow = StreamFlow("s", FromTopic("in", payload=Order), Process(IntoTopic("orders")))
    plan = compile_flow(flow, config=kafka_config())
    tracker = AckTracker()
    tokens = tracker.register_many([("in", 0, 0), ("in", 1, 0)])
    records = [
        RawRecord(envelope_bytes(Order(order_id=str(i))), None, {}, "in", i, 0, None, token)
        for i, token in enumerate(tokens)
    ]
    emits = FlowEngine(plan).process(records)
    tracker.revoke({("in", 0)})
    _bytewax._SinkPartition(plan, StreamMetrics(), None, tracker=tracker).write_batch(emits)
    assert len(fake_producer.sent) == 1
    assert (tracker.inflight(), tracker.stale_inflight) == (0, 0)
    assert tracker.to_commit() == {("in", 1): 1}


def test_clean_flush_completes_every_token(fake_producer):
    """streaming §11.57"""
    sink, emits, tracker = _write(dlq=None)
    sink.write_batch(emits)
    assert tracker.to_commit() == {("in", 0): 2}


def test_delivery_failure_goes_to_the_dlq_with_the_reason_and_commits(fake_producer):
    """streaming §11.57"""
    fake_producer.failing = {"orders"}
    sink, emits, tracker = _write(dlq="orders.dlq")
    sink.write_batch(emits)
    dlq = [headers for topic, headers in fake_producer.sent if topic == "orders.dlq"]
    assert len(dlq) == 2
    assert all(("x-dlq-error", b"broker unavailable") in h for h in dlq)
    assert tracker.to_commit() == {("in", 0): 2}


def test_delivery_failure_without_dlq_stops_and_commits_nothing(fake_producer):
    """streaming §11.57"""
    fake_producer.failing = {"orders"}
    sink, emits, tracker = _write(dlq=None)
    with pytest.raises(KafkaDeliveryError, match="orders.*broker unavailable"):
        sink.write_batch(emits)
    assert tracker.to_commit() == {}


def test_a_dlq_send_failure_for_one_item_is_logged_and_the_others_are_sent(fake_producer, caplog):
    """streaming §11.57"""
    fake_producer.failing = {"orders"}
    fake_producer.refuse = {"orders.dlq": 1}
    sink, emits, tracker = _write(dlq="orders.dlq", count=3)
    sink.write_batch(emits)
    assert len([t for t, _ in fake_producer.sent if t == "orders.dlq"]) == 2
    assert "DLQ send failed" in caplog.text
    assert tracker.to_commit() == {("in", 0): 3}
