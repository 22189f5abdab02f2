"""``FlowHarness``: run a flow's real Bytewax dataflow (source, record path, sink, commits,
DLQ, retries) on an :class:`~loom_django.streaming.memory.InMemoryKafka` (spec §8.3)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import msgspec

from loom_django.streaming.codecs import JSON_RAW, codec_for
from loom_django.streaming.errors import DecodeError, ErrorEnvelope, ErrorKind
from loom_django.streaming.flow import StreamFlow
from loom_django.streaming.memory import InMemoryKafka, Record
from loom_django.streaming.messages import message_type_of
from loom_django.streaming.plan import CompiledSink
from loom_django.streaming.testing._setup import plan_for
from loom_django.streaming.testing.samples import envelope_bytes

__all__ = ["FlowHarness", "FlowHarnessTimeout"]


class FlowHarnessTimeout(TimeoutError):
    """``FlowHarness.run`` did not reach its stop condition within ``timeout_s``."""


class FlowHarness:
    """A flow under test on an in-memory Kafka: ``send`` records, ``run`` until idle, then
    read what it wrote, the errors it routed, its commits and its metrics.

    Args:
        flow_or_name: a ``StreamFlow`` or the name of a registered flow.
        kafka: the broker to use (a new :class:`InMemoryKafka` by default); share one to
            chain flows.
        config: the loom configuration to compile against (default: the project's, else a
            minimal in-memory one); the transport is always this harness's broker.
        workers: Bytewax workers. One worker runs on the calling thread (``run_main``), so
            use cases share the test's database connection.

    Raises:
        KeyError: an unknown flow name.
        StreamCompilationError: the flow does not compile.
    """

    def __init__(
        self,
        flow_or_name: StreamFlow | str,
        *,
        kafka: InMemoryKafka | None = None,
        config: Any = None,
        workers: int = 1,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1 (got {workers})")
        self.plan, self._provider = plan_for(flow_or_name, config)
        self.kafka = kafka if kafka is not None else InMemoryKafka()
        self.workers = workers
        self.runner: Any = None  # the StreamingRunner of the last run
        self._sinks: dict[str, CompiledSink] = {
            sink.topic: sink for sink in self.plan.producer_sinks
        }
        for topic in self.plan.source.topics:
            self.kafka.create_topic(topic)

    # -- input --------------------------------------------------------------------------

    def _topic(self, topic: str | None) -> str:
        source = self.plan.source
        if topic is None or (topic == source.ref and topic not in source.topics):
            return source.topics[0]
        return topic

    def _codec_id(self, topic: str) -> str:
        if topic in self.plan.source.topics:
            return self.plan.source.codec
        sink = self._sinks.get(topic)
        return sink.codec if sink is not None else self.plan.source.codec

    def send(
        self,
        topic: str | None,
        payload: Any,
        key: bytes | str | None = None,
        headers: Mapping[str, bytes | str] | None = None,
        **meta: Any,
    ) -> Record:
        """Produce ``payload`` in a loom envelope, encoded with the topic's codec.

        ``topic`` ``None`` (or the source's logical name) means the flow's first source
        topic; ``meta`` sets envelope metadata (``trace_id``, ``correlation_id``...).
        """
        topic = self._topic(topic)
        codec = self._codec_id(topic)
        all_headers: dict[str, Any] = dict(headers or {})
        if codec_for(codec).content_type == JSON_RAW:
            all_headers.setdefault("x-loom-message-type", message_type_of(type(payload)))
        value = envelope_bytes(payload, codec=codec, **meta)
        return self.kafka.produce(topic, value, key, headers=all_headers)

    def send_raw(
        self,
        topic: str | None,
        value: bytes | None,
        key: bytes | str | None = None,
        headers: Mapping[str, bytes | str] | None = None,
    ) -> Record:
        """Produce ``value`` as it is (bad bytes, a tombstone with ``None``...)."""
        return self.kafka.produce(self._topic(topic), value, key, headers=headers)

    # -- running --------------------------------------------------------------------------

    def run(
        self, until: str = "idle", timeout_s: float = 10.0, max_messages: int | None = None
    ) -> FlowHarness:
        """Run the dataflow until every assigned partition is drained and nothing is in
        flight (``until="idle"``), or ``max_messages`` source records completed; then
        drain, commit and close like a stopping ``loom_stream run``.

        Raises:
            ValueError: an unknown ``until``.
            FlowHarnessTimeout: not stopped within ``timeout_s`` (the run is stopped first).
            Exception: whatever stopped the flow (e.g. ``KafkaDeliveryError``).
        """
        if until != "idle":
            raise ValueError(f"until must be 'idle' (got {until!r})")
        from loom_django.streaming.runner import StreamingRunner

        runner = StreamingRunner(
            self.plan,
            runtime_provider=self._provider,
            workers=self.workers,
            max_messages=max_messages,
            clients=self.kafka.clients(),
        )
        self.runner = runner
        control = runner.control
        control.close_connections = False  # the test's connection and transaction stay
        runner.engine.manages_connections = False
        control.idle_probe = self._idle_probe(runner)
        timer = threading.Timer(timeout_s, runner.request_stop, ("timeout",))
        timer.daemon = True
        timer.start()
        try:
            runner.run(calling_thread=self.workers == 1)
        except Exception as exc:
            raise _unwrapped(exc) from None
        finally:
            timer.cancel()
        if control.reason == "timeout":
            raise FlowHarnessTimeout(
                f"flow {self.plan.name!r} was not idle within {timeout_s} s "
                f"({runner.tracker.inflight()} record(s) in flight)"
            )
        return self

    def _idle_probe(self, runner: Any) -> Any:
        kafka = self.kafka
        group = self.plan.source.group_id
        tracker = runner.tracker

        def idle() -> bool:
            # Nothing handed out between the two looks, every consumer drained, and every
            # record it received (registered before its next consume) completed.
            with kafka.lock:
                before = kafka.deliveries
                if not kafka.drained(group):
                    return False
            if tracker.inflight() != 0:
                return False
            with kafka.lock:
                return kafka.deliveries == before and kafka.drained(group)

        return idle

    def stop(self, reason: str = "stopped by the test") -> None:
        """Ask a running flow (on another thread) to stop, drain and commit."""
        if self.runner is not None:
            self.runner.request_stop(reason)

    # -- output ---------------------------------------------------------------------------

    def records(self, topic: str) -> list[Record]:
        """The wire records of ``topic``, in produce order."""
        return self.kafka.records(topic)

    def envelopes(self, topic: str, payload_type: Any = None) -> list[Any]:
        """The decoded envelopes of ``topic`` (payloads as ``payload_type``, by default the
        type its sink declares, else plain data)."""
        sink = self._sinks.get(topic)
        codec = codec_for(sink.codec if sink is not None else self._codec_id(topic))
        if payload_type is None:
            payload_type = (sink.payload_type if sink is not None else None) or Any
        out = []
        for record in self.kafka.records(topic):
            headers = {k: v for k, v in record.headers if v is not None}
            out.append(codec.decode(record.value or b"", payload_type, headers))
        return out

    def messages(self, topic: str, payload_type: Any = None) -> list[Any]:
        """The decoded payloads written to ``topic``."""
        return [env.payload for env in self.envelopes(topic, payload_type)]

    def errors(self, kind: ErrorKind | str | None = None) -> list[Any]:
        """Error envelopes (``ErrorEnvelope``, or ``DecodeError`` for WIRE) written to the
        error routes, of ``kind`` only when given, in produce order."""
        wanted = ErrorKind(kind) if kind is not None else None
        topics: list[str] = []
        for route_kind, sink in self.plan.error_routes.items():
            if (wanted is None or route_kind is wanted) and sink.topic not in topics:
                topics.append(sink.topic)
        out: list[Any] = []
        for topic in topics:
            for payload in self.messages(topic):
                error = _as_error(payload)
                envelope = error.error if isinstance(error, DecodeError) else error
                if wanted is None or envelope.kind is wanted:
                    out.append(error)
        return out

    def committed(self, topic: str | None = None) -> dict[int, int]:
        """``{partition: offset}`` the flow's group committed on ``topic`` (default: its
        first source topic)."""
        return self.kafka.committed(self.plan.source.group_id, self._topic(topic))

    def metrics(self) -> dict[str, Any]:
        """The last run's counters: ``messages_in``/``messages_out`` per topic, ``errors``
        per kind, ``retries`` per node, ``dlq`` per topic, ``commits``, ``completed``."""
        if self.runner is None:
            return {}
        m = self.runner.metrics
        with m.lock:
            errors: dict[str, int] = {}
            for (kind, _routed), count in m.errors.items():
                errors[kind] = errors.get(kind, 0) + count
            return {
                "messages_in": dict(m.messages_in),
                "messages_out": dict(m.messages_out),
                "errors": errors,
                "retries": dict(m.retries),
                "filtered": dict(m.filtered),
                "dlq": dict(m.dlq),
                "commits": m.commits,
                "completed": self.runner.tracker.completed_total,
            }


def _unwrapped(exc: BaseException) -> BaseException:
    """The exception a flow raised, out of Bytewax's ``BytewaxRuntimeError`` wrappers."""
    seen: set[int] = set()
    while type(exc).__module__.startswith("bytewax") and id(exc) not in seen:
        seen.add(id(exc))
        inner = exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    return exc


def _as_error(payload: Any) -> ErrorEnvelope[Any] | DecodeError:
    """An error-route payload as a typed ``ErrorEnvelope`` or ``DecodeError``."""
    if isinstance(payload, ErrorEnvelope | DecodeError):
        return payload
    if isinstance(payload, Mapping) and "error" in payload and "raw" in payload:
        return msgspec.convert(payload, DecodeError)
    return msgspec.convert(payload, ErrorEnvelope[Any])
