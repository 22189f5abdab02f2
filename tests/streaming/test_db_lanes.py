"""DB lanes: use cases of a ``WithAsync`` run on lane threads owning their connections, with
connection hygiene before and after each micro-batch, after connection errors and at
shutdown (spec §7.3)."""

from __future__ import annotations

import threading
import time

import pytest
from django import db
from django.db import OperationalError

from loom_django.runtime import get_runtime
from loom_django.streaming import (
    FromTopic,
    IntoTopic,
    InvokeUseCase,
    Process,
    StreamFlow,
    WithAsync,
    compile_flow,
)
from loom_django.streaming._runtime import FlowEngine
from loom_django.streaming.lanes import DbLanes
from tests.streaming.flows import kafka_config
from tests.streaming.usecases import AsyncOrmUseCase, CreateNamedUseCase, NameRequested, feed


@pytest.fixture
def lanes():
    lanes = DbLanes(2)
    yield lanes
    lanes.close()


@pytest.fixture
def hygiene(monkeypatch):
    """Records the thread of every close_old_connections() call."""
    calls: list[int] = []
    real = db.close_old_connections

    def spy(**kwargs):
        calls.append(threading.get_ident())
        real(**kwargs)

    monkeypatch.setattr(db, "close_old_connections", spy)
    return calls


def test_every_lane_closes_old_connections_before_and_after_a_micro_batch(lanes, hygiene):
    """streaming §11.68: close_old_connections() on each lane, before and after."""
    with lanes.micro_batch():
        before = list(hygiene)
    assert sorted(before) == sorted(lanes.idents)
    assert sorted(hygiene[len(before) :]) == sorted(lanes.idents)


def _on_lane(lanes: DbLanes, fn):
    return lanes.submit(fn).result(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_a_lane_closes_its_connection_after_an_operational_error(monkeypatch):
    """streaming §11.68: after OperationalError the lane's connection is closed (the retry
    reconnects)."""
    lanes = DbLanes(1)
    closed: list[int] = []
    try:
        own = _on_lane(lanes, lambda: db.connections["default"])  # the lane's own wrapper
        monkeypatch.setattr(own, "close", lambda: closed.append(threading.get_ident()))

        def fail():
            raise OperationalError("server closed the connection unexpectedly")

        with pytest.raises(OperationalError):
            _on_lane(lanes, fail)
        assert closed == list(lanes.idents)
    finally:
        monkeypatch.undo()
        lanes.close()


@pytest.mark.django_db(transaction=True)
def test_an_expired_connection_is_replaced_at_the_next_micro_batch(monkeypatch):
    """streaming §11.68: a connection past CONN_MAX_AGE is closed by the next micro-batch's
    hygiene, on its lane."""
    lanes = DbLanes(1)
    closed: list[int] = []
    try:

        def open_and_expire():
            own = db.connections["default"]
            own.ensure_connection()
            own.close_at = time.monotonic() - 1  # what CONN_MAX_AGE sets
            return own

        own = _on_lane(lanes, open_and_expire)
        monkeypatch.setattr(own, "close", lambda: closed.append(threading.get_ident()))
        with lanes.micro_batch():
            assert closed == list(lanes.idents)
    finally:
        monkeypatch.undo()
        lanes.close()


def test_shutdown_closes_each_lanes_connections_on_its_own_thread(monkeypatch):
    """streaming §11.68: close() runs connections.close_all() once on every lane thread."""
    lanes = DbLanes(3)
    idents = lanes.idents
    calls: list[int] = []
    monkeypatch.setattr(db.connections, "close_all", lambda: calls.append(threading.get_ident()))
    lanes.close()
    assert sorted(calls) == sorted(idents)
    assert not any(t.is_alive() for t in lanes._threads)


def _async_flow(step, **options):
    flow = StreamFlow(
        "lanes",
        FromTopic("in", payload=NameRequested),
        Process(WithAsync(process=Process(step, IntoTopic("out")), **options)),
        errors=IntoTopic("errors"),
    )
    return compile_flow(flow, config=kafka_config(), compiler=get_runtime().compiler)


@pytest.mark.django_db(transaction=True)
def test_with_async_use_cases_run_on_lane_threads_and_shutdown_closes_them(hygiene):
    """streaming §7.3: a WithAsync use case runs on a lane (not the worker, not the loop),
    the lanes' hygiene runs around the micro-batch, and close() stops the lanes."""
    AsyncOrmUseCase.probes = []
    # SQLite's shared in-memory test database locks tables across connections: one lane.
    sqlite = db.connection.vendor == "sqlite"
    engine = FlowEngine(
        _async_flow(InvokeUseCase(AsyncOrmUseCase, mode="bridged"), db_lanes=1 if sqlite else 2),
        runtime_provider=get_runtime,
    )
    try:
        emits, _ = feed(engine, NameRequested(name="a"), NameRequested(name="b"))
        [lanes] = engine._lanes.values()
        assert sorted(e.message.payload.name for e in emits) == ["a", "b"]
        threads = {ident for ident, in_atomic in AsyncOrmUseCase.probes}
        assert threads <= lanes.idents and threading.get_ident() not in threads
        assert all(in_atomic for _, in_atomic in AsyncOrmUseCase.probes)
        assert set(hygiene) >= lanes.idents
    finally:
        engine.close()
    assert not any(t.is_alive() for t in lanes._threads)


def test_db_lanes_default_to_the_runtime_setting_then_min_of_concurrency_and_4():
    """streaming §4.3: db_lanes = WithAsync(db_lanes) → streaming.runtime.db_lanes →
    min(max_concurrency, 4)."""
    step = InvokeUseCase(CreateNamedUseCase)

    def lanes_of(plan):
        [op] = plan.ops
        return op.async_opts.db_lanes

    assert lanes_of(_async_flow(step, max_concurrency=2)) == 2
    assert lanes_of(_async_flow(step, max_concurrency=50)) == 4
    assert lanes_of(_async_flow(step, max_concurrency=50, db_lanes=6)) == 6
    config = kafka_config()
    config["streaming"]["runtime"]["db_lanes"] = 3
    flow = StreamFlow(
        "lanes",
        FromTopic("in", payload=NameRequested),
        Process(WithAsync(process=Process(step, IntoTopic("out")))),
    )
    plan = compile_flow(flow, config=config, compiler=get_runtime().compiler)
    assert lanes_of(plan) == 3
    with pytest.raises(ValueError, match="db_lanes must be >= 1"):
        WithAsync(process=Process(step), db_lanes=0)


@pytest.mark.django_db(transaction=True)
def test_the_worker_lane_runs_hygiene_around_each_micro_batch_and_resets_debug_queries(
    hygiene, settings
):
    """streaming §11.68 (worker lane) and §7.3.4: close_old_connections() before and after a
    micro-batch on the worker thread; under DEBUG the query log is emptied after it."""
    settings.DEBUG = True
    engine = FlowEngine(
        _plain_flow(InvokeUseCase(CreateNamedUseCase)), runtime_provider=get_runtime
    )
    feed(engine, NameRequested(name="w"))
    assert hygiene == [threading.get_ident()] * 2
    assert len(db.connection.queries) == 0


def _plain_flow(step):
    flow = StreamFlow(
        "worker-lane",
        FromTopic("in", payload=NameRequested),
        Process(step, IntoTopic("out")),
        errors=IntoTopic("errors"),
    )
    return compile_flow(flow, config=kafka_config(), compiler=get_runtime().compiler)


def test_describe_reports_modes_lanes_model_sinks_and_the_connection_budget():
    """streaming §7.2 describe / §7.3: the connection budget is workers + Σ db_lanes."""
    from loom_django.streaming.describe import describe

    config = kafka_config()
    config["streaming"]["runtime"]["workers_per_process"] = 2
    flow = StreamFlow(
        "budget",
        FromTopic("in", payload=NameRequested),
        Process(
            InvokeUseCase(CreateNamedUseCase, result=lambda v, m: m.payload, idempotency="message"),
            WithAsync(
                db_lanes=3,
                process=Process(
                    InvokeUseCase(AsyncOrmUseCase, mode="bridged", result=lambda v, m: m.payload),
                    IntoTopic("out"),
                ),
            ),
        ),
    )
    plan = compile_flow(flow, config=config, compiler=get_runtime().compiler)
    database = describe(plan)["database"]
    assert database["use_case_steps"] == {
        "0": {"mode": "auto", "idempotency": "message", "lane": "worker"},
        "1.0": {"mode": "bridged", "idempotency": None, "lane": "WithAsync 1"},
    }
    assert database["db_lanes"] == {"1": 3}
    assert database["connection_budget"] == 5


def test_a_connection_budget_above_db_max_connections_is_a_compile_warning():
    """streaming §7.3 / §7.1 (W004, reported as W401): workers + Σ db_lanes above
    streaming.runtime.db_max_connections warns; within it, no warning."""
    step = InvokeUseCase(CreateNamedUseCase, result=lambda v, m: m.payload)
    flow = StreamFlow(
        "budget",
        FromTopic("in", payload=NameRequested),
        Process(WithAsync(db_lanes=4, process=Process(step, IntoTopic("out")))),
        errors=IntoTopic("errors"),
    )
    config = kafka_config()
    config["streaming"]["runtime"].update(workers_per_process=2, db_max_connections=5)
    plan = compile_flow(flow, config=config, compiler=get_runtime().compiler)
    assert plan.warnings == (
        "DB connection budget 6 (workers + db_lanes) exceeds "
        "streaming.runtime.db_max_connections 5",
    )
    config["streaming"]["runtime"]["db_max_connections"] = 6
    assert compile_flow(flow, config=config, compiler=get_runtime().compiler).warnings == ()


def test_an_idle_lane_closes_its_connections_once(monkeypatch):
    """streaming §7.3.3: a lane idle for db_idle_close_s closes its connections (once, on its
    own thread), so an idle flow pins no connection."""
    calls: list[int] = []
    monkeypatch.setattr(db.connections, "close_all", lambda: calls.append(threading.get_ident()))
    lanes = DbLanes(1, idle_close_s=0.05)
    try:
        lanes.submit(lambda: None).result(timeout=5)
        time.sleep(0.4)
        assert calls == list(lanes.idents)
    finally:
        lanes.close()
