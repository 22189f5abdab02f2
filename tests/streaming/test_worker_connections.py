"""The stream worker thread is a DB lane too: its connections close after
``db_idle_close_s`` without a micro-batch; ``WithAsync`` lanes report how long messages wait
for a free lane (spec §7.3 rule 3, §6.9 ``loom_stream_db_lane_wait_seconds``)."""

from __future__ import annotations

import threading
import time

import confluent_kafka as ck
import pytest
from django import db

from loom_django.streaming import Drain, FromTopic, InvokeUseCase, Process, StreamFlow, compile_flow
from loom_django.streaming._bytewax import StopControl, _SourcePartition
from loom_django.streaming._runtime import StreamMetrics
from loom_django.streaming.lanes import DbLanes, IdleConnections
from loom_django.streaming.metrics import Histogram, RunMetrics, Timings, collector
from loom_django.streaming.tracker import AckTracker
from tests.streaming.fake_consumer import FakeConsumer
from tests.streaming.flows import kafka_config
from tests.streaming.usecases import CreateNamedUseCase, NameRequested, engine_for, feed


@pytest.fixture
def closes(monkeypatch):
    """Records the thread of every ``connections.close_all()``."""
    calls: list[int] = []
    monkeypatch.setattr(db.connections, "close_all", lambda: calls.append(threading.get_ident()))
    return calls


def test_connections_close_once_after_the_idle_time(closes):
    """Not before ``idle_close_s``, then once, on the calling thread; nothing while unused."""
    idle = IdleConnections(60.0)
    assert idle.release_if_idle() is False  # never used
    idle.used()
    now = time.monotonic()
    assert idle.release_if_idle(now + 59) is False
    assert idle.release_if_idle(now + 61) is True
    assert idle.release_if_idle(now + 120) is False
    assert closes == [threading.get_ident()]


def test_no_idle_close_when_the_setting_is_none(closes):
    """``db_idle_close_s: null`` keeps the worker's connections open."""
    idle = IdleConnections(None)
    idle.used()
    assert idle.release_if_idle(time.monotonic() + 10_000) is False
    assert closes == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres  # Django keeps SQLite's in-memory test database open on close()
def test_a_worker_idle_after_a_micro_batch_closes_its_real_connection(monkeypatch):
    """With persistent connections (``CONN_MAX_AGE``) the worker's connection stays open
    after a micro-batch; once idle for ``db_idle_close_s`` (default 60) it is closed, and
    the next batch reconnects."""
    db.connection.close()
    monkeypatch.setitem(db.connection.settings_dict, "CONN_MAX_AGE", 600)
    engine = engine_for(InvokeUseCase(CreateNamedUseCase, mode="inline"))
    feed(engine, NameRequested(name="a"))
    assert db.connection.connection is not None
    assert engine.idle_connections.idle_close_s == 60.0
    assert engine.idle_connections.release_if_idle(time.monotonic() + 61) is True
    assert db.connection.connection is None
    feed(engine, NameRequested(name="b"), first_offset=1)
    assert db.connection.connection is not None


def _source(monkeypatch, on_idle):
    monkeypatch.setattr(ck, "Consumer", FakeConsumer)
    FakeConsumer.instances = []
    flow = StreamFlow("idle", FromTopic("in", payload=NameRequested), Process(Drain()))
    plan = compile_flow(flow, config=kafka_config())
    part = _SourcePartition(
        plan, AckTracker(), StopControl(), StreamMetrics(), 0, None, on_idle=on_idle
    )
    [consumer] = FakeConsumer.instances
    return part, consumer


def test_the_source_checks_for_idle_connections_on_empty_polls_only(monkeypatch):
    """The hook runs on the worker thread when a poll returns nothing."""
    calls: list[int] = []
    part, consumer = _source(monkeypatch, lambda: calls.append(threading.get_ident()))
    consumer.assign(("in", 0))
    consumer.add("in", 0, range(3), b"x")
    assert len(part.next_batch()) == 3
    assert calls == []
    assert part.next_batch() == []
    assert calls == [threading.get_ident()]


def test_lane_wait_is_observed_per_submitted_call():
    """Three calls on one lane behind a 50 ms one: each wait is observed, broadcasts are not."""
    wait = Histogram()
    lanes = DbLanes(1, wait=wait)
    try:
        futures = [lanes.submit(time.sleep, 0.05)] + [lanes.submit(lambda: None) for _ in range(2)]
        for future in futures:
            future.result(timeout=5)
        with lanes.micro_batch():  # hygiene broadcasts: not message waits
            pass
    finally:
        lanes.close()
    buckets, total = wait.cumulative()
    assert buckets[-1] == ("+Inf", 3)
    assert total >= 0.09  # the two calls queued behind the sleep waited ≥ 50 ms each


def test_lane_wait_is_exported_per_flow():
    """``loom_stream_db_lane_wait_seconds{flow}`` is a histogram of the run's lane waits."""
    prometheus_client = pytest.importorskip("prometheus_client")
    registry = prometheus_client.CollectorRegistry()
    timings = Timings()
    timings.lane_wait.observe_n(0.002, 4)
    run = RunMetrics("orders", StreamMetrics(), AckTracker(), timings, "application/msgpack")
    collector(registry).attach(run)
    labels = {"flow": "orders"}
    assert registry.get_sample_value("loom_stream_db_lane_wait_seconds_count", labels) == 4
    assert registry.get_sample_value(
        "loom_stream_db_lane_wait_seconds_bucket", {**labels, "le": "0.005"}
    ) == pytest.approx(4)
