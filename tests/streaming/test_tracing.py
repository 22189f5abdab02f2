"""OpenTelemetry spans per message hop and ``traceparent`` propagation (spec §3.1, §6.9),
checked with the SDK's in-memory exporter."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from loom_django.core.errors import MissingDependency
from loom_django.streaming import FromTopic, IntoTopic, Process, StreamFlow
from loom_django.streaming._encode import EmitEncoder
from loom_django.streaming._runtime import RawRecord
from loom_django.streaming.codecs import codec_for
from loom_django.streaming.testing import envelope_bytes
from loom_django.streaming.tracing import HopTracer, tracer_from_config
from tests.streaming.flows import Order, Run, Validate

sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode  # noqa: E402

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
INBOUND = f"00-{TRACE}-{PARENT}-01".encode()


@pytest.fixture
def exported():
    exporter = InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _traced_run(provider, *, errors=True):
    flow = StreamFlow(
        "traced",
        FromTopic("in", payload=Order),
        Process(Validate, IntoTopic("out")),
        **({"errors": IntoTopic("e")} if errors else {}),
    )
    run = Run(flow)
    tracer = HopTracer("traced", tracer_provider=provider)
    tracer.instrument(run.engine)
    return run, tracer


def _record(run, order, headers):
    run.offset += 1
    return RawRecord(
        envelope_bytes(order),
        None,
        dict(headers),
        "in",
        0,
        run.offset,
        10,
        run.tracker.register("in", 0, run.offset),
    )


def _parse(traceparent: bytes) -> tuple[str, str]:
    _, trace_id, span_id, _ = traceparent.decode().split("-")
    return trace_id, span_id


def test_each_record_gets_a_consumer_span_child_of_its_inbound_traceparent(exported):
    """streaming §6.9: a span per message hop, linked to the inbound traceparent"""
    provider, exporter = exported
    run, _ = _traced_run(provider)
    [emit] = run.engine.process(
        [_record(run, Order(order_id="a", amount=1), {"traceparent": INBOUND})]
    )
    [span] = exporter.get_finished_spans()
    assert span.name == "in process" and span.kind is SpanKind.CONSUMER
    assert format(span.context.trace_id, "032x") == TRACE
    assert format(span.parent.span_id, "016x") == PARENT
    assert span.attributes["messaging.message.id"] == "in:0:1"
    # the step and the encoder see this hop's context, not the upstream one
    assert _parse(emit.message.meta.headers["traceparent"]) == (
        TRACE,
        format(span.context.span_id, "016x"),
    )


def test_a_record_without_traceparent_starts_a_new_trace(exported):
    """streaming §6.9: no inbound context, a root span"""
    provider, exporter = exported
    run, _ = _traced_run(provider)
    run.engine.process([_record(run, Order(order_id="a", amount=1), {})])
    [span] = exporter.get_finished_spans()
    assert span.parent is None


def test_the_outbound_traceparent_is_a_publish_span_child_of_the_process_span(exported):
    """streaming §3.1: traceparent header written when OTel is enabled"""
    provider, exporter = exported
    run, tracer = _traced_run(provider)
    [emit] = run.engine.process(
        [_record(run, Order(order_id="a", amount=1), {"traceparent": INBOUND})]
    )
    records = [EmitEncoder(codec_for("msgpack")).encode(emit)]
    spans = tracer.start_produce([emit], records)
    tracer.end_produce(spans, {})
    process, publish = exporter.get_finished_spans()
    assert (publish.name, publish.kind) == ("out publish", SpanKind.PRODUCER)
    assert publish.parent.span_id == process.context.span_id
    headers = records[0][2]
    assert [k for k, _ in headers].count("traceparent") == 1
    assert _parse(dict(headers)["traceparent"]) == (TRACE, format(publish.context.span_id, "016x"))


def test_a_failed_delivery_marks_its_publish_span_as_an_error(exported):
    """streaming §6.9: a topic whose delivery failed ends its publish spans with an error"""
    provider, exporter = exported
    run, tracer = _traced_run(provider)
    [emit] = run.engine.process([_record(run, Order(order_id="a", amount=1), {})])
    spans = tracer.start_produce([emit], [EmitEncoder(codec_for("msgpack")).encode(emit)])
    tracer.end_produce(spans, {"out": "broker down"})
    publish = exporter.get_finished_spans()[-1]
    assert (publish.status.status_code, publish.status.description) == (
        StatusCode.ERROR,
        "broker down",
    )


def test_a_message_routed_as_failed_marks_its_process_span_as_an_error(exported):
    """streaming §6.9: the error of a message shows on its span"""
    provider, exporter = exported
    run, _ = _traced_run(provider)
    run.engine.process([_record(run, Order(order_id="x", amount=13), {})])
    [span] = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes["loom.error.kind"], span.attributes["loom.error.node"]) == (
        "task",
        "Validate",
    )


def test_otel_is_off_unless_enabled_and_an_endpoint_needs_the_otlp_exporter():
    """streaming §4.4: observability.otel.enabled (default false), otel.config.endpoint"""
    assert tracer_from_config("f", {}) is None
    assert tracer_from_config("f", {"enabled": False}) is None
    assert isinstance(tracer_from_config("f", {"enabled": True}), HopTracer)
    try:
        import opentelemetry.exporter.otlp.proto.http  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDependency, match="otel"):
            tracer_from_config("f", {"enabled": True, "config": {"endpoint": "http://x:4318"}})


def test_an_untraced_run_imports_no_opentelemetry():
    """streaming §6.9: when disabled, nothing of OpenTelemetry is imported"""
    script = textwrap.dedent(
        """
        import sys, django
        django.setup()
        from loom_django.streaming import FromTopic, IntoTopic, Process, StreamFlow
        from loom_django.streaming.runner import StreamingRunner
        from loom_django.streaming.command import Command
        from tests.streaming.flows import Order, Run, Validate
        flow = StreamFlow("f", FromTopic("in", payload=Order), Process(Validate, IntoTopic("o")))
        run = Run(flow)
        StreamingRunner(run.plan)
        assert run.feed(Order(order_id="a", amount=1))
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


@pytest.mark.kafka
@pytest.mark.slow
def test_a_traced_run_continues_the_inbound_trace_in_the_output_records_header(exported):
    """streaming §3.1: through Bytewax on the mock cluster, the output record's traceparent
    is the publish span, in the trace of the input record's traceparent"""
    import uuid

    import confluent_kafka as ck

    from loom_django.streaming import compile_flow
    from loom_django.streaming.runner import StreamingRunner
    from loom_django.streaming.testing import read_topic, start_mock_cluster
    from tests.streaming.flows import kafka_config

    provider, exporter = exported
    owner, bootstrap = start_mock_cluster()
    suffix = uuid.uuid4().hex[:8]
    flow = StreamFlow(
        f"traced-{suffix}",
        FromTopic(f"in-{suffix}", payload=Order),
        Process(Validate, IntoTopic(f"out-{suffix}")),
    )
    plan = compile_flow(flow, config=kafka_config())
    producer = ck.Producer({"bootstrap.servers": bootstrap, "log_level": 0})
    producer.produce(
        f"in-{suffix}",
        envelope_bytes(Order(order_id="a", amount=1)),
        headers=[("traceparent", INBOUND)],
    )
    producer.flush(10)
    tracer = HopTracer(flow.name, tracer_provider=provider)
    StreamingRunner(
        plan, brokers=bootstrap, max_messages=1, idle_timeout_s=30, tracing=tracer
    ).run()
    [record] = read_topic(bootstrap, f"out-{suffix}", expected=1)
    headers = dict(record.headers())
    publish = next(s for s in exporter.get_finished_spans() if s.kind is SpanKind.PRODUCER)
    process = next(s for s in exporter.get_finished_spans() if s.kind is SpanKind.CONSUMER)
    assert _parse(headers["traceparent"]) == (TRACE, format(publish.context.span_id, "016x"))
    assert publish.parent.span_id == process.context.span_id
    assert format(process.parent.span_id, "016x") == PARENT
    del owner
