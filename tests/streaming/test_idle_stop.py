"""``--idle-timeout``: the source asks to stop only once every assigned partition was read to
its end, nothing is in flight and no record arrived for the timeout (spec §7.2, §11.75),
driven through the real source partition with a stand-in consumer."""

from __future__ import annotations

import confluent_kafka as ck

from loom_django.streaming import Drain, FromTopic, Process, StreamFlow, compile_flow
from loom_django.streaming._bytewax import StopControl, _SourcePartition
from loom_django.streaming._runtime import StreamMetrics
from loom_django.streaming.tracker import AckTracker
from tests.streaming.fake_consumer import FakeConsumer
from tests.streaming.flows import Order, kafka_config


class EndOfPartition:
    """What confluent's consume() returns when a partition was read to its end."""

    def __init__(self, topic, partition):
        self._tp = (topic, partition)

    def error(self):
        return ck.KafkaError(ck.KafkaError._PARTITION_EOF)

    def topic(self):
        return self._tp[0]

    def partition(self):
        return self._tp[1]


def _source(monkeypatch):
    monkeypatch.setattr(ck, "Consumer", FakeConsumer)
    FakeConsumer.instances = []
    flow = StreamFlow("idle", FromTopic("in", payload=Order), Process(Drain()))
    plan = compile_flow(flow, config=kafka_config())
    control = StopControl(idle_timeout_s=0.0)
    part = _SourcePartition(plan, AckTracker(), control, StreamMetrics(), 0, None)
    [consumer] = FakeConsumer.instances
    consumer.assign(("in", 0), ("in", 1))
    return part, consumer, control


def test_the_source_asks_for_partition_ends(monkeypatch):
    """streaming §7.2: the consumer reports partition ends (``enable.partition.eof``)"""
    _, consumer, _ = _source(monkeypatch)
    assert consumer.config["enable.partition.eof"] is True


def test_idle_timeout_waits_until_every_assigned_partition_reached_its_end(monkeypatch):
    """streaming §11.75: "exits once the input is drained", not merely after a quiet spell"""
    part, consumer, control = _source(monkeypatch)
    part.next_batch()
    assert not control.event.is_set()  # nothing read to its end yet
    consumer.queue.append(EndOfPartition("in", 0))
    part.next_batch()
    assert not control.event.is_set()  # partition 1 not drained
    consumer.queue.append(EndOfPartition("in", 1))
    part.next_batch()
    assert control.reason == "idle timeout"


def test_a_record_after_the_end_makes_its_partition_undrained_again(monkeypatch):
    """streaming §11.75: new records reopen a drained partition"""
    from loom_django.streaming.testing import envelope_bytes

    part, consumer, control = _source(monkeypatch)
    consumer.queue.append(EndOfPartition("in", 0))
    part.next_batch()
    consumer.add("in", 0, [5], envelope_bytes(Order(order_id="late")))
    consumer.queue.append(EndOfPartition("in", 1))
    [record] = part.next_batch()
    record.token.done()  # nothing in flight any more
    part.next_batch()
    assert not control.event.is_set()  # partition 0 has not reached its end again
