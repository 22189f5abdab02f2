"""Staying inside ``max.poll.interval.ms`` (spec §5.4, §6.6): the retry-time cap of one message
and the adaptive ``consume`` size after a slow micro-batch."""

from __future__ import annotations

import logging
import time

import confluent_kafka as ck
from django.db import OperationalError

from loom_django.streaming import (
    Drain,
    FromTopic,
    IntoTopic,
    Process,
    RecordStep,
    RetryPolicy,
    StreamFlow,
    compile_flow,
)
from loom_django.streaming._bytewax import StopControl, _SourcePartition
from loom_django.streaming._pacing import BatchPacer, max_poll_interval_s
from loom_django.streaming._runtime import StreamMetrics
from loom_django.streaming.tracker import AckTracker
from tests.streaming.fake_consumer import FakeConsumer
from tests.streaming.flows import Order, Run, kafka_config


def _config(max_poll_interval_ms: int) -> dict:
    cfg = kafka_config()
    cfg["kafka"]["consumer"]["extra"]["max.poll.interval.ms"] = max_poll_interval_ms
    return cfg


class AlwaysDown(RecordStep[Order, Order]):
    retry = RetryPolicy(max_attempts=100, backoff_ms=50, multiplier=2.0, jitter=False)

    def execute(self, message):
        raise OperationalError("db gone")


def test_retries_of_one_message_stop_at_half_the_max_poll_interval():
    """streaming §5.4: total retry time per message is capped at max.poll.interval.ms / 2"""
    flow = StreamFlow(
        "capped",
        FromTopic("in", payload=Order),
        Process(AlwaysDown, IntoTopic("out")),
        errors=IntoTopic("e"),
    )
    run = Run(flow, config=_config(200))  # budget 100 ms: 50 ms fits, 50 + 100 ms does not
    start = time.monotonic()
    [emit] = run.feed(Order(order_id="a"))
    assert emit.message.payload.attempts == 2
    assert emit.sink.topic == "e"
    assert time.monotonic() - start < 1.0


def test_max_poll_interval_defaults_to_librdkafkas_300_seconds():
    """streaming §6.6: librdkafka default when the consumer does not set it"""
    assert max_poll_interval_s({}) == 300.0
    assert max_poll_interval_s({"max.poll.interval.ms": 60_000}) == 60.0
    assert max_poll_interval_s({"max.poll.interval.ms": "bogus"}) == 300.0


def test_a_slow_batch_halves_the_next_consume_down_to_one_and_warns(caplog):
    """streaming §6.6: a micro-batch over max.poll.interval.ms / 2 halves the next consume"""
    pacer = BatchPacer("f", 0, max_records=4, max_poll_interval_s=10.0)
    with caplog.at_level(logging.WARNING, logger="loom_django.streaming"):
        sizes = [pacer.batch_took(6.0, 4) for _ in range(3)]
    assert sizes == [2, 1, 1]
    assert "more than half of max.poll.interval.ms" in caplog.text


def test_fast_batches_grow_the_consume_size_back_to_the_configured_maximum():
    """streaming §6.6: the lowered size recovers once batches are fast again"""
    pacer = BatchPacer("f", 0, max_records=8, max_poll_interval_s=10.0)
    pacer.batch_took(6.0, 8)
    pacer.batch_took(6.0, 4)
    assert [pacer.batch_took(4.0, 2), pacer.batch_took(0.1, 2)] == [2, 4]
    assert [pacer.batch_took(0.1, 4), pacer.batch_took(0.1, 8)] == [8, 8]


def test_the_source_consumes_half_as_many_records_after_a_slow_micro_batch(monkeypatch):
    """streaming §6.6, through the source partition: the next consume size is halved"""
    monkeypatch.setattr(ck, "Consumer", FakeConsumer)
    FakeConsumer.instances = []
    cfg = _config(200)
    cfg["kafka"]["consumer"]["max_poll_records"] = 60
    plan = compile_flow(
        StreamFlow("paced", FromTopic("in", payload=Order), Process(Drain())), config=cfg
    )
    part = _SourcePartition(plan, AckTracker(), StopControl(), StreamMetrics(), 0, None)
    [consumer] = FakeConsumer.instances
    consumer.assign(("in", 0))
    consumer.add("in", 0, range(200), b"x")
    assert len(part.next_batch()) == 60
    time.sleep(0.15)  # the micro-batch "took" longer than 100 ms
    assert len(part.next_batch()) == 30
    assert len(part.next_batch()) == 60  # fast again
