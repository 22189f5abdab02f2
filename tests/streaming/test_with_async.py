"""``WithAsync``: concurrent steps on the async bridge, per-key order, timeouts, errors per
message (spec §2.9, §6.5)."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import anyio
import pytest

from loom_django.core.errors import RuleViolation
from loom_django.streaming import (
    CollectBatch,
    ErrorKind,
    FromTopic,
    IntoTopic,
    Process,
    RecordStep,
    StreamCompilationError,
    StreamFlow,
    With,
    WithAsync,
    compile_flow,
)
from tests.streaming.flows import Order, OrderValidated, Run, by_topic, kafka_config


class Probe:
    """Counts concurrent executions, overall and per key."""

    def __init__(self):
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.keys: dict[object, int] = {}
        self.key_peak = 0

    @contextlib.asynccontextmanager
    async def running(self, key):
        with self.lock:
            self.active += 1
            self.keys[key] = self.keys.get(key, 0) + 1
            self.peak = max(self.peak, self.active)
            self.key_peak = max(self.key_peak, self.keys[key])
        try:
            yield
        finally:
            with self.lock:
                self.active -= 1
                self.keys[key] -= 1


class Sleepy(RecordStep[Order, Order]):
    async def execute(self, message, probe):
        async with probe.running(message.meta.key):
            await anyio.sleep(0.02)
        if message.payload.amount < 0:
            raise RuleViolation("amount", "must be positive")
        return message.payload


def _flow(node, errors=None):
    return StreamFlow("a", FromTopic("in", payload=Order), Process(node), errors=errors)


@pytest.fixture
def runs():
    started = []

    def make(flow):
        run = Run(flow)
        started.append(run)
        return run

    yield make
    for run in started:
        run.engine.close()


def _orders(n, amount=1):
    return [Order(order_id=str(i), amount=amount) for i in range(n)]


def test_with_async_defaults_and_invalid_limits():
    """streaming §11.4"""
    node = WithAsync(process=Process(Sleepy))
    assert (node.max_concurrency, node.task_timeout_ms) == (10, None)
    for kwargs in ({"max_concurrency": 0}, {"task_timeout_ms": 0}, {"task_timeout_ms": -100}):
        with pytest.raises(ValueError):
            WithAsync(process=Process(Sleepy), **kwargs)


def test_with_async_rejects_a_sync_context_manager_naming_it():
    """streaming §11.5"""

    @contextlib.contextmanager
    def client():
        yield 1

    with pytest.raises(TypeError, match="client"):
        WithAsync(process=Process(Sleepy), client=client())


@pytest.mark.parametrize("limit", [1, 2])
def test_max_concurrency_bounds_concurrent_executions(runs, limit):
    """streaming §11.46"""
    probe = Probe()
    run = runs(_flow(WithAsync(max_concurrency=limit, process=Process(Sleepy), probe=probe)))
    run.feed(*_orders(4))
    assert probe.peak == limit
    assert run.committed() == {("in", 0): 4}


def test_a_business_error_fails_only_its_message(runs):
    """streaming §11.46"""
    probe = Probe()
    node = WithAsync(max_concurrency=2, process=Process(Sleepy, IntoTopic("out")), probe=probe)
    run = runs(_flow(node, errors=IntoTopic("errors")))
    topics = by_topic(run.feed(Order(order_id="bad", amount=-1), Order(order_id="ok", amount=1)))
    [envelope] = topics["errors"]
    assert envelope.kind is ErrorKind.BUSINESS
    assert [p.order_id for p in topics["out"]] == ["ok"]
    assert run.committed() == {("in", 0): 2}


def test_an_inline_sink_failure_fails_only_its_message(runs):
    """streaming §11.46"""

    class Maybe(RecordStep[Order, Any]):
        async def execute(self, message):
            p = message.payload
            return p if p.amount < 0 else OrderValidated(order_id=p.order_id, amount=p.amount)

    node = WithAsync(process=Process(Maybe, IntoTopic("out", payload=OrderValidated)))
    run = runs(_flow(node, errors=IntoTopic("errors")))
    topics = by_topic(run.feed(Order(order_id="wrong", amount=-1), Order(order_id="ok", amount=1)))
    [envelope] = topics["errors"]
    assert envelope.kind is ErrorKind.TASK
    assert "expects OrderValidated" in envelope.reason
    assert [p.order_id for p in topics["out"]] == ["ok"]
    assert run.committed() == {("in", 0): 2}


def test_task_timeout_yields_one_task_envelope_and_no_output_quickly(runs):
    """streaming §11.47"""

    class Slow(RecordStep[Order, Order]):
        async def execute(self, message):
            await anyio.sleep(10)
            return message.payload

    node = WithAsync(task_timeout_ms=50, process=Process(Slow, IntoTopic("out")))
    run = runs(_flow(node, errors=IntoTopic("errors")))
    started = time.monotonic()
    topics = by_topic(run.feed(Order(order_id="a")))
    assert time.monotonic() - started < 2
    assert list(topics) == ["errors"]
    assert topics["errors"][0].kind is ErrorKind.TASK
    assert "exceeded 50 ms" in topics["errors"][0].reason
    assert run.committed() == {("in", 0): 1}


def test_without_collect_batch_a_micro_batch_runs_concurrently(runs):
    """streaming §11.48"""
    probe = Probe()
    run = runs(_flow(WithAsync(max_concurrency=8, process=Process(Sleepy), probe=probe)))
    run.feed(*_orders(8))
    assert probe.peak > 1


def test_preserve_key_order_never_overlaps_one_key_but_overlaps_different_keys(runs):
    """streaming §11.48"""
    probe = Probe()
    order = []

    class Track(RecordStep[Order, Order]):
        async def execute(self, message, probe):
            async with probe.running(message.meta.key):
                await anyio.sleep(0.02)
            order.append(message.payload.order_id)
            return message.payload

    node = WithAsync(max_concurrency=8, process=Process(Track, IntoTopic("out")), probe=probe)
    run = runs(_flow(node))
    run.feed(*_orders(6), keys=[b"a", b"a", b"a", b"b", b"b", b"b"])
    assert probe.key_peak == 1
    assert probe.peak == 2
    assert [o for o in order if o in "012"] == ["0", "1", "2"]


def test_ordered_output_passes_results_on_in_input_order(runs):
    """streaming §2.9 ordered_output"""

    class Reverse(RecordStep[Order, Order]):
        async def execute(self, message):
            await anyio.sleep(0.01 * (5 - int(message.payload.order_id)))
            return message.payload

    flow = StreamFlow(
        "a",
        FromTopic("in", payload=Order),
        Process(WithAsync(ordered_output=True, process=Process(Reverse))),
        output=IntoTopic("out"),
    )
    run = runs(flow)
    assert [p.order_id for p in by_topic(run.feed(*_orders(5)))["out"]] == list("01234")


def test_worker_scoped_async_client_opens_once_and_closes_at_shutdown(runs):
    """streaming §2.9 (async context managers entered on the bridge)"""
    events = []

    @contextlib.asynccontextmanager
    async def client():
        events.append("open")
        yield "c"
        events.append("close")

    class Use(RecordStep[Order, Order]):
        async def execute(self, message, client):
            assert client == "c"
            return message.payload

    run = runs(_flow(WithAsync(process=Process(Use), client=client())))
    run.feed(*_orders(2))
    run.feed(*_orders(2))
    run.engine.close()
    assert events == ["open", "close"]


def test_async_step_compiles_only_inside_with_async():
    """streaming §11.20"""
    cfg = kafka_config()
    compile_flow(_flow(WithAsync(process=Process(Sleepy))), config=cfg)
    with pytest.raises(StreamCompilationError, match="only supported inside WithAsync"):
        compile_flow(_flow(With(process=Process(Sleepy))), config=cfg)


def test_scoped_process_content_rules():
    """streaming §11.14"""
    cfg = kafka_config()
    with pytest.raises(StreamCompilationError, match="only supports"):
        compile_flow(_flow(WithAsync(process=Process(CollectBatch(2, 1), Sleepy))), config=cfg)
    with pytest.raises(StreamCompilationError, match="requires IntoTopic to be last"):
        compile_flow(_flow(With(process=Process(IntoTopic("o"), Sleepy))), config=cfg)
