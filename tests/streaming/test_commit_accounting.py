"""Commit accounting at the source: watermark per partition, periodic and synchronous commits,
commit failures, backpressure and rebalances (spec §5.2, §6.3, §6.6), driven through the real
source partition with a stand-in consumer."""

from __future__ import annotations

import logging
import time

import confluent_kafka as ck
import pytest

from loom_django.streaming import Drain, FromTopic, IntoTopic, Process, StreamFlow, compile_flow
from loom_django.streaming._bytewax import StopControl, _SourcePartition
from loom_django.streaming._runtime import StreamMetrics
from loom_django.streaming.tracker import AckTracker
from tests.streaming.fake_consumer import FakeConsumer
from tests.streaming.flows import Order, Run, kafka_config


def _source(monkeypatch, **runtime):
    monkeypatch.setattr(ck, "Consumer", FakeConsumer)
    FakeConsumer.instances = []
    cfg = kafka_config()
    cfg["kafka"]["consumer"]["max_poll_records"] = 60
    cfg["streaming"] = {"runtime": {"commit_interval_ms": 1, **runtime}}
    flow = StreamFlow("acct", FromTopic("in", payload=Order), Process(Drain()))
    plan = compile_flow(flow, config=cfg)
    tracker = AckTracker()
    control = StopControl()
    part = _SourcePartition(plan, tracker, control, StreamMetrics(), 0, None)
    [consumer] = FakeConsumer.instances
    return part, consumer, tracker, control


def _tick(part):
    """One poll after the 1 ms commit interval elapsed."""
    time.sleep(0.005)
    return part.next_batch()


def test_writing_partition_2_offset_9_commits_10():
    """streaming §11.54"""
    run = Run(StreamFlow("p", FromTopic("in", payload=Order), Process(IntoTopic("out"))))
    run.offset = 9
    run.feed(Order(order_id="a"), partition=2)
    assert run.committed() == {("in", 2): 10}


def test_periodic_commit_sends_the_contiguous_prefix_once(monkeypatch):
    """streaming §11.55 / §11.59 (one commit per interval, not per record)"""
    part, consumer, _, _ = _source(monkeypatch)
    consumer.assign(("in", 0))
    consumer.add("in", 0, range(5), b"x")
    records = part.next_batch()
    for rec in records[:3]:
        rec.token.done()
    records[4].token.done()
    _tick(part)
    _tick(part)
    assert consumer.commits == [({("in", 0): 3}, True)]


def test_a_failed_periodic_commit_is_logged_and_retried(monkeypatch, caplog):
    """streaming §11.55 (periodic commit errors reach the committing worker's log; retried)"""
    part, consumer, _, _ = _source(monkeypatch)
    consumer.assign(("in", 0))
    consumer.add("in", 0, range(2), b"x")
    for rec in part.next_batch():
        rec.token.done()
    consumer.failing_commits = 1
    with caplog.at_level(logging.WARNING, logger="loom_django.streaming"):
        _tick(part)
    assert "commit failed" in caplog.text
    _tick(part)
    assert consumer.commits == [({("in", 0): 2}, True)]


def test_a_failed_final_commit_surfaces_to_the_caller(monkeypatch):
    """streaming §11.55 (the synchronous shutdown commit raises; the run exits 1)"""
    part, consumer, _, control = _source(monkeypatch)
    consumer.assign(("in", 0))
    consumer.add("in", 0, range(1), b"x")
    [rec] = part.next_batch()
    rec.token.done()
    consumer.failing_commits = 10
    control.request("test")
    with pytest.raises(StopIteration):  # the worker stops; the runner raises the failure
        part.next_batch()
    assert isinstance(control.failure, ck.KafkaException)
    assert consumer.closed


def test_backpressure_pauses_above_max_inflight_and_resumes_below_half(monkeypatch):
    """streaming §11.62"""
    part, consumer, tracker, _ = _source(monkeypatch, max_inflight_messages=100)
    consumer.assign(("in", 0))
    consumer.add("in", 0, range(300), b"x")
    polled = []
    for _ in range(5):
        polled += part.next_batch()
    assert consumer.paused
    assert tracker.inflight() <= 100 + 60
    assert len(polled) == tracker.inflight()
    for rec in polled:
        rec.token.done()
    more = part.next_batch()
    assert not consumer.paused and more
    assert not consumer.closed  # paused, not gone: the group session stays alive


def test_revoke_commits_the_completed_prefix_synchronously_and_later_completions_never_commit(
    monkeypatch,
):
    """streaming §11.63"""
    part, consumer, tracker, _ = _source(monkeypatch, commit_interval_ms=60_000)
    consumer.assign(("in", 0), ("in", 1))
    consumer.add("in", 0, range(3), b"x")
    consumer.add("in", 1, range(2), b"x")
    records = part.next_batch()
    p0 = [r for r in records if r.partition == 0]
    p0[0].token.done()
    p0[1].token.done()
    consumer.revoke(("in", 0))
    assert consumer.commits == [({("in", 0): 2}, False)]
    p0[2].token.done()
    for rec in records:
        if rec.partition == 1:
            rec.token.done()
    assert tracker.to_commit() == {("in", 1): 2}


def test_a_partition_back_after_a_failed_revoke_commit_skips_what_it_had_written(monkeypatch):
    """streaming §11.61, §11.63: the revoke's commit failed (the group was rebalancing); the
    partition comes back to this worker, which neither writes those records again nor loses
    their commit."""
    part, consumer, _, _ = _source(monkeypatch)
    consumer.assign(("in", 0))
    consumer.add("in", 0, range(5), b"x")
    for rec in part.next_batch():
        rec.token.done()
    consumer.failing_commits = 1
    consumer.revoke(("in", 0))
    consumer.assign(("in", 0))
    consumer.add("in", 0, range(8), b"x")  # redelivered from the group's older offset
    again = part.next_batch()
    assert [rec.offset for rec in again] == [5, 6, 7]
    _tick(part)
    assert consumer.stored == {("in", 0): 5}  # committed in the new generation
    for rec in again:
        rec.token.done()
    _tick(part)
    assert consumer.stored == {("in", 0): 8}


def test_a_partition_back_after_the_group_committed_further_keeps_the_group_offset(monkeypatch):
    """Another member owned the partition meanwhile and committed past this worker's
    progress: nothing is skipped and no older offset is committed over the group's."""
    part, consumer, _, _ = _source(monkeypatch)
    consumer.assign(("in", 0))
    consumer.add("in", 0, range(5), b"x")
    for rec in part.next_batch():
        rec.token.done()
    consumer.failing_commits = 1
    consumer.revoke(("in", 0))
    consumer.stored[("in", 0)] = 7  # another member's commit
    consumer.assign(("in", 0))
    consumer.add("in", 0, range(7, 9), b"x")
    assert [rec.offset for rec in part.next_batch()] == [7, 8]
    _tick(part)
    assert consumer.stored == {("in", 0): 7}
