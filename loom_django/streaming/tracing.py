"""OpenTelemetry spans of message hops and W3C ``traceparent`` propagation through Kafka headers
(spec §3.1, §6.9; extra ``loom-django[otel]``).

Each polled record gets a CONSUMER span ``<topic> process``, child of the record's inbound
``traceparent`` (a new trace without one), open from decode to the end of its micro-batch; each
produced record gets a PRODUCER span ``<topic> publish``, child of the process span of the record
it derives from, open from encode to the producer flush; the outbound ``traceparent`` header is
the publish span's. A message routed as failed marks its process span as an error.

Nothing here is imported unless tracing is enabled: the runner installs :class:`HopTracer` on an
engine only then, so an untraced flow runs the same code as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from loom_django.extras import require

if TYPE_CHECKING:
    from loom_django.streaming._encode import Emit, KafkaRecord
    from loom_django.streaming._runtime import FlowEngine, RawRecord

__all__ = ["TRACER_NAME", "HopTracer", "tracer_from_config"]

TRACER_NAME = "loom_django.streaming"
"""The instrumentation scope of the spans."""

_PROPAGATED = ("traceparent", "tracestate")


class HopTracer:
    """Opens and ends the spans of one flow's message hops.

    Args:
        flow: the flow name (attribute ``loom.flow``).
        tracer_provider: where spans go (default: the global provider of ``opentelemetry``).
        on_close: called once when the run ends (e.g. to flush an exporter the runner built).

    Raises:
        MissingDependency: ``opentelemetry-api`` is not installed.
    """

    def __init__(
        self,
        flow: str,
        *,
        tracer_provider: Any = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        trace = require("opentelemetry.trace", extra="otel")
        tracecontext = require("opentelemetry.trace.propagation.tracecontext", extra="otel")
        self.flow = flow
        self._trace = trace
        self._tracer = trace.get_tracer(TRACER_NAME, tracer_provider=tracer_provider)
        self._propagator = tracecontext.TraceContextTextMapPropagator()
        self._open: dict[str, Any] = {}  # message id -> its process span, during its batch
        self._on_close = on_close

    # -- the process span ---------------------------------------------------------------

    def instrument(self, engine: FlowEngine) -> None:
        """Wrap ``engine``'s micro-batch entry point and failure routing with process spans."""
        process: Callable[[list[RawRecord]], list[Emit]] = engine.process
        fail: Callable[[Any, Any, list[Any]], None] = engine._fail

        def traced_process(records: list[RawRecord]) -> list[Emit]:
            spans = [self._start_process(rec) for rec in records]
            try:
                return process(records)
            except BaseException as exc:
                for _, span in spans:
                    span.record_exception(exc)
                    span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, str(exc)))
                raise
            finally:
                for message_id, span in spans:
                    self._open.pop(message_id, None)
                    span.end()

        def traced_fail(failure: Any, rec: Any, out: list[Any]) -> None:
            span = self._open.get(rec.message.meta.message_id)
            if span is not None:
                reason = str(failure.exc) or type(failure.exc).__name__
                span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, reason))
                span.set_attribute("loom.error.kind", failure.kind.value)
                span.set_attribute("loom.error.node", failure.node)
            fail(failure, rec, out)

        engine.process = traced_process  # type: ignore[method-assign]
        engine._fail = traced_fail  # type: ignore[method-assign]

    def _start_process(self, rec: RawRecord) -> tuple[str, Any]:
        """Open the process span of ``rec`` and make it the record's ``traceparent``."""
        message_id = f"{rec.topic}:{rec.partition}:{rec.offset}"
        span = self._tracer.start_span(
            f"{rec.topic} process",
            context=self._extract(rec.headers),
            kind=self._trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": rec.topic,
                "messaging.destination.partition.id": str(rec.partition),
                "messaging.kafka.offset": rec.offset,
                "messaging.message.id": message_id,
                "loom.flow": self.flow,
            },
        )
        self._open[message_id] = span
        rec.headers.update(self._inject(span))  # steps and the encoder see this hop's context
        return message_id, span

    # -- the publish span ---------------------------------------------------------------

    def start_produce(self, items: list[Emit], records: list[KafkaRecord]) -> list[Any]:
        """Open a publish span per record about to be produced and write its ``traceparent``
        into the record's headers; returns the spans (for :meth:`end_produce`)."""
        spans: list[Any] = []
        for emit, (_, _, headers, _) in zip(items, records, strict=True):
            topic = emit.sink.topic
            span = self._tracer.start_span(
                f"{topic} publish",
                context=self._extract(emit.message.meta.headers),
                kind=self._trace.SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "send",
                    "messaging.destination.name": topic,
                    "loom.flow": self.flow,
                },
            )
            outbound = self._inject(span)
            headers[:] = [(k, v) for k, v in headers if k not in _PROPAGATED]
            headers.extend(outbound.items())
            spans.append((topic, span))
        return spans

    def end_produce(self, spans: list[Any], failures: Mapping[str, str]) -> None:
        """End the publish spans after the flush; those of a failed topic as errors."""
        for topic, span in spans:
            reason = failures.get(topic)
            if reason is not None:
                span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, reason))
            span.end()

    def close(self) -> None:
        """The run ended: call ``on_close`` once (flushes a runner-built exporter)."""
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()

    # -- W3C trace context ---------------------------------------------------------------

    def _extract(self, headers: Mapping[str, bytes]) -> Any:
        carrier = {
            key: value.decode("ascii", "replace")
            for key in _PROPAGATED
            if (value := headers.get(key)) is not None
        }
        return self._propagator.extract(carrier) if carrier else None

    def _inject(self, span: Any) -> dict[str, bytes]:
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier, context=self._trace.set_span_in_context(span))
        return {key: value.encode("ascii") for key, value in carrier.items()}


def tracer_from_config(flow: str, section: Mapping[str, Any]) -> HopTracer | None:
    """The tracer ``observability.otel`` asks for, or ``None`` when it is not enabled.

    Without ``config.endpoint`` spans go to the global tracer provider (the project configures
    the SDK); with it, a provider exporting over OTLP/HTTP to that endpoint is built for the
    run (service name ``config.service_name``, default the flow name) and flushed at its end.

    Raises:
        MissingDependency: ``opentelemetry-api`` (or, with an endpoint, the SDK or the OTLP
            exporter) is not installed.
    """
    if not section.get("enabled"):
        return None
    config = section.get("config") or {}
    endpoint = config.get("endpoint") if isinstance(config, Mapping) else None
    if not endpoint:
        return HopTracer(flow)
    require("opentelemetry.sdk.trace", extra="otel")
    exporter_module = require("opentelemetry.exporter.otlp.proto.http.trace_exporter", extra="otel")
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    service = str(config.get("service_name") or flow)
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(
        BatchSpanProcessor(exporter_module.OTLPSpanExporter(endpoint=str(endpoint)))
    )
    return HopTracer(flow, tracer_provider=provider, on_close=provider.shutdown)
