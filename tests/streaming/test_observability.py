"""Lifecycle events, Prometheus metrics and the health file of a running flow (spec §6.9,
criteria §11.79-81), on the engine and through Bytewax on librdkafka's mock cluster."""

from __future__ import annotations

import logging
import threading
import time
import uuid

import anyio
import pytest

from loom_django.streaming import FromTopic, IntoTopic, Process, StreamFlow, WithAsync
from loom_django.streaming.observe import Observation, Phase, Scope, instrument
from tests.streaming.flows import Order, OrderValidated, Run, Validate

prometheus_client = pytest.importorskip("prometheus_client")


class Recorder:
    def __init__(self):
        self.events = []

    def on_event(self, event):
        self.events.append(event)


class AsyncValidate(Validate):
    async def execute(self, message):
        await anyio.sleep(0)
        return super().execute(message)


def _async_flow(name: str, topic_in: str = "in", topic_out: str = "out") -> StreamFlow:
    return StreamFlow(
        name,
        FromTopic(topic_in, payload=Order),
        Process(WithAsync(process=Process(AsyncValidate, IntoTopic(topic_out)))),
    )


def test_node_events_carry_flow_index_and_type_and_a_failing_step_emits_an_error():
    """streaming §11.79 (NODE start/end with flow, node_idx, node_type; NODE error)"""
    run = Run(StreamFlow("obs", FromTopic("in", payload=Order), Process(Validate, IntoTopic("o"))))
    recorder = Recorder()
    instrument(run.engine, Observation("obs", [recorder]))
    run.feed(Order(order_id="a", amount=1), Order(order_id="b", amount=13))
    node = [(e.phase, e.node_idx, e.node_type) for e in recorder.events if e.scope is Scope.NODE]
    assert node == [
        (Phase.START, 0, "Validate"),
        (Phase.ERROR, 0, "Validate"),
        (Phase.END, 0, "Validate"),
        (Phase.START, 1, "IntoTopic"),
        (Phase.END, 1, "IntoTopic"),
    ]
    assert {e.flow for e in recorder.events} == {"obs"}
    error = next(e for e in recorder.events if e.phase is Phase.ERROR)
    assert (error.error, error.message_id) == ("boom", "in:0:1")


def test_an_observer_that_raises_does_not_change_the_flow():
    """streaming §6.9: observers are isolated"""

    class Broken:
        def on_event(self, event):
            raise RuntimeError("observer bug")

    run = Run(StreamFlow("obs", FromTopic("in", payload=Order), Process(Validate, IntoTopic("o"))))
    instrument(run.engine, Observation("obs", [Broken()]))
    emits = run.feed(Order(order_id="a", amount=1))
    assert [e.message.payload for e in emits] == [OrderValidated(order_id="a", amount=1)]


def test_without_observers_the_engine_is_left_untouched():
    """streaming §6.9: an unobserved flow pays nothing (no wrapper is installed)"""
    run = Run(StreamFlow("obs", FromTopic("in", payload=Order), Process(Validate, IntoTopic("o"))))
    before = (run.engine._op, run.engine._fail)
    instrument(run.engine, Observation("obs", []))
    assert "_op" not in vars(run.engine) and "_fail" not in vars(run.engine)
    assert (run.engine._op, run.engine._fail) == before


def test_lifecycle_instruments_are_shared_with_the_etl_door():
    """streaming §6.9: ``lifecycle_*`` names are registered once per registry"""
    from loom_django.etl.prometheus import PrometheusObserver
    from loom_django.prometheus import lifecycle_instruments
    from loom_django.streaming.metrics import collector

    registry = prometheus_client.CollectorRegistry()
    etl = PrometheusObserver(registry)
    assert lifecycle_instruments(registry) == (etl._duration, etl._errors)
    assert collector(registry) is collector(registry)


# -- through Bytewax on the mock cluster -----------------------------------------------


@pytest.fixture(scope="module")
def bootstrap():
    from loom_django.streaming.testing import start_mock_cluster

    owner, address = start_mock_cluster()
    yield address
    del owner


N, K = 40, 6  # records, of which BUSINESS rejections


@pytest.fixture(scope="module")
def pushgateway():
    """A local stand-in for the Pushgateway: records each request's method, path and body."""
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received = []

    class Gateway(BaseHTTPRequestHandler):
        def do_PUT(self):
            length = int(self.headers.get("Content-Length", 0))
            received.append(("PUT", self.path, self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def metered(bootstrap, pushgateway):
    """One run of N records (K rejected, no error route) with metrics on a fresh registry."""
    from loom_django.streaming import compile_flow
    from loom_django.streaming.runner import StreamingRunner
    from loom_django.streaming.testing import send
    from tests.streaming.flows import kafka_config
    from tests.streaming.test_kafka_mock_cluster import _committed

    suffix = uuid.uuid4().hex[:8]
    flow = StreamFlow(
        f"metered-{suffix}",
        FromTopic(f"in-{suffix}", payload=Order),
        Process(Validate, IntoTopic(f"out-{suffix}")),
    )
    config = kafka_config()
    config["kafka"]["consumer"]["extra"]["statistics.interval.ms"] = 100
    plan = compile_flow(flow, config=config)
    orders = [Order(order_id=f"o{i}", amount=-1 if i < K else 1) for i in range(N)]
    send(bootstrap, f"in-{suffix}", orders, key=b"k")
    registry = prometheus_client.CollectorRegistry()
    recorder = Recorder()
    runner = StreamingRunner(
        plan,
        brokers=bootstrap,
        metrics_registry=registry,
        observers=[recorder],
        pushgateway_url=pushgateway[0],
    )

    def stop_when_done_and_lag_reported():
        # Not on a timer: group joins are slow on a busy machine. After the last record, idle
        # polls let librdkafka report the final lag (statistics every 100 ms).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
            runner.tracker.completed_total >= N and 0 in runner.run_metrics.timings.lag.values()
        ):
            time.sleep(0.05)
        runner.request_stop("test done")

    threading.Thread(target=stop_when_done_and_lag_reported, daemon=True).start()
    handler = _Capture()
    logger = logging.getLogger("loom_django")
    saved = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        runner.run()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved)
    committed = _committed(bootstrap, plan.source.group_id, f"in-{suffix}")
    return {
        "registry": registry,
        "suffix": suffix,
        "flow": flow.name,
        "committed": committed,
        "events": recorder.events,
        "infos": [r for r in handler.records if r.levelno == logging.INFO],
        "runner": runner,
        "pushed": list(pushgateway[1]),
    }


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.mark.kafka
@pytest.mark.slow
def test_a_run_emits_poll_cycle_start_first_and_end_last(metered):
    """streaming §11.79: POLL_CYCLE start first, POLL_CYCLE end last"""
    events = metered["events"]
    first, last = events[0], events[-1]
    assert (first.scope, first.phase, first.node_count) == (Scope.POLL_CYCLE, Phase.START, 2)
    assert (last.scope, last.phase) == (Scope.POLL_CYCLE, Phase.END)
    assert {e.run_id for e in events} == {first.run_id}
    assert any(e.scope is Scope.NODE and e.phase is Phase.END for e in events)


@pytest.mark.kafka
@pytest.mark.slow
def test_with_async_node_events_carry_its_type_and_failures_an_error_event(bootstrap):
    """streaming §11.79: node_type ``WithAsync``; a failing step gives a NODE error event"""
    from loom_django.streaming import compile_flow
    from loom_django.streaming.runner import StreamingRunner
    from loom_django.streaming.testing import send
    from tests.streaming.flows import kafka_config

    suffix = uuid.uuid4().hex[:8]
    flow = _async_flow(f"async-{suffix}", f"in-{suffix}", f"out-{suffix}")
    plan = compile_flow(flow, config=kafka_config())
    send(
        bootstrap, f"in-{suffix}", [Order(order_id="ok", amount=1), Order(order_id="x", amount=13)]
    )
    recorder = Recorder()
    StreamingRunner(
        plan, brokers=bootstrap, max_messages=2, idle_timeout_s=30, observers=[recorder]
    ).run()
    nodes = [e for e in recorder.events if e.scope is Scope.NODE]
    seen = {(e.phase, e.node_idx, e.node_type, e.path) for e in nodes}
    assert {(Phase.START, 0, "WithAsync", "0"), (Phase.END, 0, "WithAsync", "0")} <= seen
    [error] = [e for e in nodes if e.phase is Phase.ERROR]
    assert (error.flow, error.node_type, error.error) == (flow.name, "AsyncValidate", "boom")


def _value(metered, metric, **labels):
    return metered["registry"].get_sample_value(metric, labels)


@pytest.mark.kafka
@pytest.mark.slow
def test_message_error_and_commit_metrics_match_the_run(metered):
    """streaming §11.80: in == N, business errors == k, out == N - k, committed offsets"""
    flow, suffix = metered["flow"], metered["suffix"]
    assert _value(metered, "loom_stream_messages_in_total", flow=flow, topic=f"in-{suffix}") == N
    errors = _value(metered, "loom_stream_errors_total", flow=flow, kind="business", routed="false")
    assert errors == K
    assert _value(metered, "loom_stream_messages_out_total", flow=flow, topic=f"out-{suffix}") == (
        N - K
    )
    gauges = {
        int(s.labels["partition"]): s.value
        for family in metered["registry"].collect()
        if family.name == "loom_stream_committed_offset"
        for s in family.samples
    }
    assert gauges == metered["committed"]
    assert sum(gauges.values()) == N


@pytest.mark.kafka
@pytest.mark.slow
def test_no_info_line_is_logged_per_message(metered):
    """streaming §11.80: no INFO log line per message"""
    assert len(metered["infos"]) < N / 4, [r.getMessage() for r in metered["infos"]]


@pytest.mark.kafka
@pytest.mark.slow
def test_kernel_transport_metrics_are_exported_and_incremented_by_the_run(metered):
    """streaming §11.81: streaming_kafka_* names with the kernel labels, counters incremented"""
    suffix = metered["suffix"]
    consumed = _value(
        metered, "streaming_kafka_consumed_total", topic=f"in-{suffix}", status="success"
    )
    produced = _value(
        metered, "streaming_kafka_produced_total", topic=f"out-{suffix}", status="success"
    )
    assert (consumed, produced) == (N, N - K)
    msgpack = "application/x-loom-msgpack"
    decoded = _value(metered, "streaming_kafka_decode_duration_seconds_count", content_type=msgpack)
    encoded = _value(metered, "streaming_kafka_encode_duration_seconds_count", content_type=msgpack)
    assert (decoded, encoded) == (N, N - K)


@pytest.mark.kafka
@pytest.mark.slow
def test_node_durations_feed_the_node_histogram_and_the_shared_lifecycle_histogram(metered):
    """streaming §6.9: loom_stream_node_seconds per message; lifecycle_duration_seconds"""
    flow = metered["flow"]
    count = _value(metered, "loom_stream_node_seconds_count", flow=flow, node="Validate")
    assert count == N
    runs = _value(metered, "lifecycle_duration_seconds_count", scope="poll_cycle", name=flow)
    assert runs == 1


@pytest.mark.kafka
@pytest.mark.slow
def test_rebalances_and_consumer_lag_are_exported_from_the_consumer(metered):
    """streaming §6.9: loom_stream_rebalances_total{type}, loom_stream_consumer_lag"""
    flow, suffix = metered["flow"], metered["suffix"]
    assert _value(metered, "loom_stream_rebalances_total", flow=flow, type="assign") >= 1
    [partition] = metered["committed"]  # one key: every record is on one partition
    lag = _value(
        metered,
        "loom_stream_consumer_lag",
        flow=flow,
        topic=f"in-{suffix}",
        partition=str(partition),
    )
    assert lag == 0


def test_consumer_lag_is_read_from_librdkafka_statistics():
    """streaming §6.9: consumer_lag per partition; the internal partition -1 and unknown lag
    (-1) are skipped"""
    import json

    from loom_django.streaming.metrics import Timings

    timings = Timings()
    timings.statistics(
        json.dumps(
            {
                "topics": {
                    "orders": {
                        "partitions": {
                            "0": {"consumer_lag": 7},
                            "1": {"consumer_lag": -1},
                            "-1": {"consumer_lag": 3},
                        }
                    }
                }
            }
        )
    )
    assert timings.lag == {("orders", 0): 7}


@pytest.mark.kafka
@pytest.mark.slow
def test_transport_events_count_every_consumed_decoded_encoded_and_produced_record(metered):
    """streaming §6.9: Scope.TRANSPORT kafka_consume/decode/encode/produce per micro-batch"""
    items: dict[str, int] = {}
    for e in metered["events"]:
        if e.scope is Scope.TRANSPORT:
            assert e.phase is Phase.END
            items[e.name] = items.get(e.name, 0) + e.items
    assert items == {
        "kafka_consume": N,
        "kafka_decode": N,
        "kafka_encode": N - K,
        "kafka_produce": N - K,
    }


@pytest.mark.kafka
@pytest.mark.slow
def test_inflight_messages_are_exported_per_worker_not_for_all(metered):
    """streaming §6.9: loom_stream_inflight_messages{worker}"""
    workers = {
        s.labels["worker"]: s.value
        for family in metered["registry"].collect()
        if family.name == "loom_stream_inflight_messages"
        for s in family.samples
    }
    assert workers == {"0": 0}


@pytest.mark.kafka
@pytest.mark.slow
def test_the_run_pushes_its_metrics_to_the_pushgateway_when_it_ends(metered):
    """streaming §6.8 step 6: observability flush (Pushgateway) at the end of a run"""
    flow, suffix = metered["flow"], metered["suffix"]
    [(method, path, body)] = metered["pushed"]
    assert (method, path) == ("PUT", f"/metrics/job/loom_stream/flow/{flow}")
    line = f'loom_stream_messages_in_total{{flow="{flow}",topic="in-{suffix}"}} {float(N)}'
    assert line.encode() in body
