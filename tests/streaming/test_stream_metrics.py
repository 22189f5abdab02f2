"""Metrics and lifecycle events added to a running flow (spec §6.9): use-case durations,
in-flight records per worker, WRITE/TRANSPORT events and the Pushgateway push (§6.8)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from loom_django.runtime import get_runtime
from loom_django.streaming import FromTopic, IntoTopic, InvokeUseCase, Process, StreamFlow
from loom_django.streaming import compile_flow as _compile_flow
from loom_django.streaming._runtime import FlowEngine, RawRecord
from loom_django.streaming.observe import Observation, Phase, Scope, instrument
from loom_django.streaming.testing import envelope_bytes
from loom_django.streaming.tracker import AckTracker
from tests.jobsapp.use_cases import WriteAndDispatchUseCase
from tests.streaming.flows import Order, Run, Validate, kafka_config
from tests.streaming.test_use_case_steps import RecordRequested

prometheus_client = pytest.importorskip("prometheus_client")

from loom_django.streaming.metrics import (  # noqa: E402
    RunMetrics,
    Timings,
    collector,
    instrument_usecases,
    push,
)


class Recorder:
    def __init__(self):
        self.events = []

    def on_event(self, event):
        self.events.append(event)


def _attach(engine, tracker):
    registry = prometheus_client.CollectorRegistry()
    timings = Timings()
    engine.metrics.timing = timings
    run = RunMetrics(engine.plan.name, engine.metrics, tracker, timings, "application/json")
    collector(registry).attach(run)
    return registry, run


@pytest.mark.django_db(transaction=True)
def test_use_case_durations_are_exported_per_use_case_and_status():
    """streaming §6.9: loom_stream_usecase_seconds{use_case,status}"""
    flow = StreamFlow(
        "ucm",
        FromTopic("in", payload=RecordRequested),
        Process(InvokeUseCase(WriteAndDispatchUseCase), IntoTopic("out")),
        errors=IntoTopic("errors"),
    )
    plan = _compile_flow(flow, config=kafka_config(), compiler=get_runtime().compiler)
    engine = FlowEngine(plan, runtime_provider=get_runtime)
    tracker = AckTracker()
    registry, run = _attach(engine, tracker)
    instrument_usecases(engine, run)
    records = [
        RawRecord(envelope_bytes(p), None, {}, "in", 0, i, None, tracker.register("in", 0, i))
        for i, p in enumerate([RecordRequested(name="a"), RecordRequested(name="b", fail=True)])
    ]
    engine.process(records)
    sample = registry.get_sample_value
    labels = {"flow": "ucm", "use_case": "WriteAndDispatchUseCase"}
    assert sample("loom_stream_usecase_seconds_count", {**labels, "status": "success"}) == 1
    assert sample("loom_stream_usecase_seconds_count", {**labels, "status": "error"}) == 1
    assert sample("loom_stream_usecase_seconds_sum", {**labels, "status": "success"}) > 0


def test_inflight_messages_are_exported_per_worker_from_the_partitions_it_owns():
    """streaming §6.9: loom_stream_inflight_messages{worker}"""
    run = Run(StreamFlow("infl", FromTopic("in", payload=Order), Process(Validate, IntoTopic("o"))))
    tracker = run.tracker
    registry, timings_run = _attach(run.engine, tracker)
    timings_run.timings.worker_owns(0, {("in", 0)})
    timings_run.timings.worker_owns(1, {("in", 1), ("in", 2)})
    tokens = [tracker.register("in", 0, offset) for offset in range(3)]
    tracker.register("in", 1, 0)
    tokens[1].done()  # out of order: still two in flight on partition 0
    per_worker = {
        s.labels["worker"]: s.value
        for family in registry.collect()
        if family.name == "loom_stream_inflight_messages"
        for s in family.samples
    }
    assert per_worker == {"0": 2, "1": 1}


def test_decode_of_a_micro_batch_is_a_transport_event():
    """streaming §6.9: Scope.TRANSPORT kafka_decode"""
    run = Run(StreamFlow("tr", FromTopic("in", payload=Order), Process(Validate, IntoTopic("o"))))
    recorder = Recorder()
    instrument(run.engine, Observation("tr", [recorder]))
    run.feed(Order(order_id="a", amount=1), Order(order_id="b", amount=2))
    [event] = [e for e in recorder.events if e.scope is Scope.TRANSPORT]
    assert (event.name, event.phase, event.items) == ("kafka_decode", Phase.END, 2)
    assert event.duration_ms >= 0


class _Gateway(BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []

    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        _Gateway.received.append(("PUT", self.path, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    _Gateway.received = []
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", _Gateway.received
    server.shutdown()
    server.server_close()


def test_push_sends_the_registry_as_job_loom_stream_grouped_by_flow(gateway):
    """streaming §6.8 step 6: Pushgateway push at the end of a run"""
    address, received = gateway
    run = Run(
        StreamFlow("pushed", FromTopic("in", payload=Order), Process(Validate, IntoTopic("o")))
    )
    registry, _ = _attach(run.engine, run.tracker)
    run.feed(Order(order_id="a", amount=1))
    push(f"http://{address}", "pushed", registry=registry)
    [(method, path, body)] = received
    assert (method, path) == ("PUT", "/metrics/job/loom_stream/flow/pushed")
    assert b'loom_stream_messages_in_total{flow="pushed",topic="in"} 1.0' in body


def test_an_unreachable_pushgateway_raises_an_os_error():
    """streaming §6.8: the runner logs a failed push instead of failing the run"""
    with pytest.raises(OSError):
        push("http://127.0.0.1:9", "f", registry=prometheus_client.CollectorRegistry(), timeout_s=2)


def test_the_pushgateway_url_is_read_only_when_prometheus_is_enabled():
    """streaming §4.4: observability.prometheus.pushgateway_url"""
    from loom_django.streaming._operations import pushgateway_url

    url = "http://gateway:9091"
    assert pushgateway_url({}) is None
    assert pushgateway_url({"observability": {"prometheus": {"pushgateway_url": url}}}) is None
    on = {"enabled": True, "pushgateway_url": url}
    assert pushgateway_url({"observability": {"prometheus": on}}) == url
    nested = {"enabled": True, "config": {"pushgateway_url": url}}
    assert pushgateway_url({"observability": {"prometheus": nested}}) == url
