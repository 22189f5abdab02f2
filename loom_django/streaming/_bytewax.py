"""Bytewax glue: a partitioned Kafka group source (one confluent consumer per worker, read in
batches), the record path as one ``flat_map_batch`` step, and a producer sink that completes
ack tokens only after a successful flush.

Imported only by ``run``; Bytewax is required here. The Kafka clients come from the
transport seam (``transport.KafkaClients``), asked once per partition build: confluent-kafka,
or the in-memory transport of the tests, which never imports librdkafka.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from loom_django.extras import require
from loom_django.streaming._encode import EmitEncoder
from loom_django.streaming._pacing import BatchPacer, max_poll_interval_s
from loom_django.streaming._resume import UnsavedProgress
from loom_django.streaming._runtime import Emit, FlowEngine, RawRecord, StreamMetrics
from loom_django.streaming.codecs import codec_for
from loom_django.streaming.errors import KafkaDeliveryError
from loom_django.streaming.plan import CompiledPlan, CompiledSink
from loom_django.streaming.tracker import AckTracker, Completion, complete_all
from loom_django.streaming.transport import KafkaClients, confluent_clients

__all__ = ["StopControl", "build_dataflow"]

_log = logging.getLogger("loom_django.streaming")

require("bytewax", extra="stream")

from bytewax.inputs import DynamicSource, StatelessSourcePartition  # noqa: E402
from bytewax.outputs import DynamicSink, StatelessSinkPartition  # noqa: E402


@dataclass
class StopControl:
    """When to stop: a signal, ``max_messages`` completed records, or ``idle_timeout_s``
    without records, with nothing in flight and every assigned partition read to its end
    (counted from the first partition assignment)."""

    max_messages: int | None = None
    idle_timeout_s: float | None = None
    event: threading.Event = field(default_factory=threading.Event)
    last_record: float = field(default_factory=time.monotonic)
    reason: str = ""
    health: Any = None  # a health.HealthFile touched after each successful poll
    # Checked after a poll that returned nothing: true stops the run as idle (FlowHarness).
    idle_probe: Callable[[], bool] | None = None
    # Close Django's connections when a source closes (off when a test shares its connection).
    close_connections: bool = True
    failure: Exception | None = None
    """What stopped the run, raised by the runner once every worker has closed."""

    def request(self, reason: str) -> None:
        """Set the stop flag (safe from any thread or a signal handler)."""
        if not self.event.is_set():
            self.reason = reason
            self.event.set()

    def fail(self, exc: Exception) -> None:
        """Stop the run because of ``exc`` (the first failure wins).

        Errors are kept here instead of being raised through Bytewax, which would abort the
        worker with a Rust panic and its backtrace on stderr: workers stop polling at once
        (records in flight stay uncommitted) and close their clients as on any stop.
        """
        if self.failure is None:
            self.failure = exc
        self.request("failed")


class _SourcePartition(StatelessSourcePartition[RawRecord]):
    def __init__(
        self,
        plan: CompiledPlan,
        tracker: AckTracker,
        control: StopControl,
        metrics: StreamMetrics,
        worker_index: int,
        brokers: str | None,
        clients: KafkaClients | None = None,
        on_idle: Callable[[], object] | None = None,
    ) -> None:
        kafka = self._kafka = clients or confluent_clients()
        self._plan = plan
        self._on_idle = on_idle  # an empty poll on this worker thread (idle DB connections)
        self._tracker = tracker
        self._control = control
        self._metrics = metrics
        self._worker = worker_index
        src = plan.source
        config = src.settings.to_confluent_config(
            group_id=src.group_id, auto_commit=plan.runtime.commit_mode == "auto"
        )
        if brokers:  # an override (mock cluster, tests): see new topics within a second
            config["bootstrap.servers"] = brokers
            config.setdefault("allow.auto.create.topics", True)
            config.setdefault("topic.metadata.refresh.interval.ms", 1000)
        config["client.id"] = f"{plan.name}-{socket.gethostname()}-{os.getpid()}-w{worker_index}"
        config.setdefault("enable.partition.eof", True)  # --idle-timeout: "drained" is known
        if metrics.timing is not None:  # Prometheus on: consumer lag from librdkafka statistics
            config.setdefault("statistics.interval.ms", 5000)
            config["stats_cb"] = metrics.timing.statistics
        self._consumer = kafka.consumer(config)
        self._owned: set[tuple[str, int]] = set()
        self._unsaved = UnsavedProgress(plan.name)
        if metrics.timing is not None:  # in-flight records per worker
            metrics.timing.worker_owns(worker_index, self._owned)
        self._eof: set[tuple[str, int]] = set()  # owned partitions read to their end
        self._manual = plan.runtime.commit_mode == "after_sink"
        self._interval = plan.runtime.commit_interval_ms / 1000.0
        self._next_commit = time.monotonic() + self._interval
        self._max_records = src.settings.max_poll_records
        self._pacer = BatchPacer(
            plan.name, worker_index, self._max_records, max_poll_interval_s(src.settings.extra)
        )
        self._batch: tuple[float, int] | None = None  # (returned at, records) of the last batch
        self._timeout = src.settings.poll_timeout_ms / 1000.0
        self._max_inflight = plan.runtime.max_inflight_messages
        self._paused = False
        self._closed = False
        self._assigned = False
        self._consumer.subscribe(
            list(src.topics),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )

    # -- rebalance callbacks (run on this worker's thread inside consume) ---------------

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        self._unsaved.assigned(consumer, partitions, self._tracker, self._kafka.topic_partition)
        self._owned.update((p.topic, p.partition) for p in partitions)
        self._control.last_record = time.monotonic()
        self._assigned = True
        if self._metrics.timing is not None:
            self._metrics.timing.rebalanced("assign")
        _log.info("stream %s w%d: assigned %s", self._plan.name, self._worker, sorted(self._owned))

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        revoked = {(p.topic, p.partition) for p in partitions}
        self._eof -= revoked
        if self._metrics.timing is not None:
            self._metrics.timing.rebalanced("revoke")
        self._commit(sync=True, only=revoked)
        if self._manual:
            self._unsaved.revoked(self._tracker, revoked)  # what that commit could not save
        self._tracker.revoke(revoked)
        self._owned -= revoked

    def _on_lost(self, consumer: Any, partitions: list[Any]) -> None:
        lost = {(p.topic, p.partition) for p in partitions}
        self._eof -= lost
        if self._metrics.timing is not None:
            self._metrics.timing.rebalanced("lost")
        self._unsaved.lost(lost)
        self._tracker.revoke(lost)
        self._owned -= lost

    # -- polling ------------------------------------------------------------------------

    def next_batch(self) -> list[RawRecord]:
        control = self._control
        if control.failure is None:
            try:
                return self._next_batch()
            except StopIteration:
                raise
            except Exception as exc:
                control.fail(exc)
        self.close()  # failed: what is in flight stays uncommitted
        raise StopIteration

    def _next_batch(self) -> list[RawRecord]:
        control = self._control
        if control.event.is_set():
            if self._tracker.inflight() > 0:
                return []
            self._close_consumer()
            raise StopIteration
        if self._batch is not None:  # the last micro-batch went through the dataflow
            returned, count = self._batch
            self._batch = None
            self._max_records = self._pacer.batch_took(time.monotonic() - returned, count)
        if self._paused and self._tracker.inflight() <= self._max_inflight // 2:
            self._consumer.resume(self._consumer.assignment())
            self._paused = False
        observe = self._metrics.observe
        started = time.perf_counter() if observe is not None else 0.0
        batch = self._poll()
        records = self._records(batch) if batch else []
        if observe is not None and records:
            observe.transport("kafka_consume", len(records), time.perf_counter() - started)
        now = time.monotonic()
        if control.health is not None:
            control.health.beat(now)
        if records:
            control.last_record = now
            self._batch = (now, len(records))
        else:
            if self._on_idle is not None:
                self._on_idle()
            if (
                control.idle_timeout_s is not None
                and self._assigned
                and self._owned <= self._eof
                and now - control.last_record >= control.idle_timeout_s
                and self._tracker.inflight() == 0
            ):
                control.request("idle timeout")
            elif control.idle_probe is not None and control.idle_probe():
                control.request("idle")
        if (
            control.max_messages is not None
            and self._tracker.completed_total >= control.max_messages
        ):
            control.request("max messages")
        if self._manual and now >= self._next_commit:
            self._commit(sync=False)
            self._next_commit = now + self._interval
        if not self._paused and self._tracker.inflight() > self._max_inflight:
            self._consumer.pause(self._consumer.assignment())
            self._paused = True
        return records

    def _poll(self) -> list[Any]:
        """Up to ``max_poll_records`` records, returned as soon as any is available: what is
        already fetched, else a wait of at most ``poll_timeout_ms`` for the first record
        (``consume(n, timeout)`` alone waits for ``n`` records or the whole timeout, so a
        long timeout would delay every partial batch; spec §9.3 P2)."""
        consume = self._consumer.consume
        batch = consume(self._max_records, 0)
        if batch:
            return batch  # type: ignore[no-any-return]
        first = consume(1, self._timeout)
        if not first or self._max_records == 1:
            return first  # type: ignore[no-any-return]
        return first + consume(self._max_records - 1, 0)  # type: ignore[no-any-return]

    def _records(self, batch: list[Any]) -> list[RawRecord]:
        good = [msg for msg in batch if msg.error() is None]
        if self._unsaved.skipping:
            written = self._unsaved.already_written
            good = [m for m in good if not written((m.topic(), m.partition()), m.offset())]
        if len(good) != len(batch):
            self._consumer_errors(batch)  # also tracks partition ends, in order
        elif self._eof:  # a drained partition received records again
            self._eof -= {(msg.topic(), msg.partition()) for msg in good}
        coordinates = [(msg.topic(), msg.partition(), msg.offset()) for msg in good]
        tokens = self._tracker.register_many(coordinates)
        unavailable = self._kafka.timestamp_not_available
        out: list[RawRecord] = []
        append = out.append
        for msg, (topic, partition, offset), token in zip(good, coordinates, tokens, strict=True):
            raw_headers = msg.headers()
            ts_type, ts = msg.timestamp()
            append(
                RawRecord(
                    msg.value(),
                    msg.key(),
                    {k: v for k, v in raw_headers if v is not None} if raw_headers else {},
                    topic,
                    partition,
                    offset,
                    ts if ts_type != unavailable else None,
                    token,
                )
            )
        return out

    def _consumer_errors(self, batch: list[Any]) -> None:
        """Log (or raise, when fatal) the errors a consume returned; note partition ends (a
        record after an end reopens its partition)."""
        eof = self._eof
        eof_code = self._kafka.partition_eof
        for msg in batch:
            err = msg.error()
            if err is None:
                if eof:
                    eof.discard((msg.topic(), msg.partition()))
                continue
            if err.code() == eof_code:
                eof.add((msg.topic(), msg.partition()))
                continue
            if err.fatal():
                raise self._kafka.exception(err)
            _log.warning("stream %s: consumer error %s", self._plan.name, err)

    def _commit(
        self, *, sync: bool, only: set[tuple[str, int]] | None = None, strict: bool = False
    ) -> None:
        if not self._manual:
            return
        offsets = self._tracker.to_commit(only if only is not None else self._owned)
        if not offsets:
            return
        tp = self._kafka.topic_partition
        tps = [tp(t, p, o) for (t, p), o in offsets.items()]
        try:
            self._consumer.commit(offsets=tps, asynchronous=not sync)
        except self._kafka.exception as exc:
            if strict:
                raise
            _log.warning("stream %s: commit failed (%s); retrying later", self._plan.name, exc)
            return
        self._tracker.mark_committed(offsets)
        with self._metrics.lock:
            self._metrics.commits += 1

    def _close_consumer(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._final_commit()
        finally:
            self._consumer.close()
            if self._control.close_connections and (self._plan.use_cases or self._plan.model_sinks):
                from django.db import connections

                connections.close_all()

    def _final_commit(self) -> None:
        """Synchronous commit of the completed prefix; waits out a rebalance in progress
        (another worker leaving) for up to ``shutdown_timeout_ms``.

        Raises:
            KafkaException: the commit failed for another reason, or kept failing.
        """
        deadline = time.monotonic() + self._plan.runtime.shutdown_timeout_ms / 1000.0
        while True:
            try:
                self._commit(sync=True, strict=True)
                return
            except self._kafka.exception as exc:
                err = exc.args[0] if exc.args else None
                retriable = getattr(err, "retriable", lambda: False)() or (
                    getattr(err, "code", lambda: None)() == self._kafka.rebalance_in_progress
                )
                if not retriable or time.monotonic() >= deadline:
                    raise
            # Serve the rebalance; a record fetched now is not registered, so it is neither
            # processed nor committed (the next owner reads it).
            self._consumer.poll(0.1)

    def close(self) -> None:
        try:
            self._close_consumer()
        except Exception as exc:
            self._control.fail(exc)


class KafkaGroupSource(DynamicSource[RawRecord]):
    """One consumer per worker in the flow's group; Kafka assigns the partitions."""

    def __init__(
        self,
        plan: CompiledPlan,
        tracker: AckTracker,
        control: StopControl,
        metrics: StreamMetrics,
        brokers: str | None,
        clients: KafkaClients | None = None,
        on_idle: Callable[[], object] | None = None,
    ) -> None:
        self._args = (plan, tracker, control, metrics)
        self._brokers = brokers
        self._clients = clients
        self._on_idle = on_idle

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _SourcePartition:
        plan, tracker, control, metrics = self._args
        return _SourcePartition(
            plan,
            tracker,
            control,
            metrics,
            worker_index,
            self._brokers,
            self._clients,
            on_idle=self._on_idle,
        )


class _SinkPartition(StatelessSinkPartition[Emit]):
    def __init__(
        self,
        plan: CompiledPlan,
        metrics: StreamMetrics,
        brokers: str | None,
        clients: KafkaClients | None = None,
        tracker: AckTracker | None = None,
        control: StopControl | None = None,
    ) -> None:
        self._kafka = clients or confluent_clients()
        self._tracker = tracker
        self._control = control
        self._plan = plan
        self._metrics = metrics
        self._brokers = brokers
        self._producers: dict[int, Any] = {}
        self._encoders: dict[str, EmitEncoder] = {}
        self._routes: dict[int, tuple[Any, str, Any]] = {}
        self._timeout = plan.runtime.delivery_timeout_ms / 1000.0
        self._errors: dict[str, str] = {}
        for sink in plan.producer_sinks:  # connect (and get a producer id) before the first write
            self._producer(sink)

    def _producer(self, sink: CompiledSink) -> Any:
        key = id(sink.settings)
        producer = self._producers.get(key)
        if producer is None:
            config = sink.settings.to_confluent_config()
            # Only failed deliveries call back into Python: no GIL round trip per record.
            config.setdefault("delivery.report.only.error", True)
            config["on_delivery"] = self._on_delivery_error
            if self._brokers:
                config["bootstrap.servers"] = self._brokers
            producer = self._producers[key] = self._kafka.producer(config)
        return producer

    def _encoder(self, codec_id: str) -> EmitEncoder:
        encoder = self._encoders.get(codec_id)
        if encoder is None:
            encoder = self._encoders[codec_id] = EmitEncoder(codec_for(codec_id))
        return encoder

    def _route(self, sink: CompiledSink) -> tuple[Any, str, Any]:
        """``(producer, topic, encode)`` of ``sink``, resolved once per sink."""
        route = self._routes.get(id(sink))
        if route is None:
            encoder = self._encoder(sink.codec)
            route = self._routes[id(sink)] = (
                self._producer(sink),
                sink.topic,
                encoder.encode if sink.lineage_headers else encoder.encode_lean,
            )
        return route

    def _on_delivery_error(self, err: Any, msg: Any) -> None:
        # delivery.report.only.error: librdkafka calls back for failed records only.
        if err is not None:
            self._errors.setdefault(msg.topic(), err.str())

    def write_batch(self, items: list[Emit]) -> None:
        """Produce every item, flush once, then complete, DLQ or fail per topic.

        A topic with a delivery failure is failed as a batch (its items go to the sink's
        DLQ, or ``KafkaDeliveryError`` stops the flow and nothing of it is completed).
        Once the run failed, nothing more is written.
        """
        control = self._control
        if control is None:
            self._write_batch(items)
            return
        if control.failure is not None:
            return
        try:
            self._write_batch(items)
        except Exception as exc:
            control.fail(exc)

    def _write_batch(self, items: list[Emit]) -> None:
        tracker = self._tracker
        if tracker is not None and tracker.stale_inflight:
            items = self._without_stale(items)
        self._errors.clear()
        used: dict[int, Any] = {}
        metrics = self._metrics
        timing, observe, tracing = metrics.timing, metrics.observe, metrics.tracing
        started = time.perf_counter()
        spans: Any = None
        if timing is not None or observe is not None or tracing is not None:
            spans = self._produce_timed(items, used, timing, observe, tracing)
        else:
            last: CompiledSink | None = None
            producer: Any = None
            topic = ""
            encode: Any = None
            for emit in items:
                if emit.sink is not last:
                    last = emit.sink
                    producer, topic, encode = self._route(last)
                    used[id(producer)] = producer
                value, key, headers, ts = encode(emit)
                try:
                    if headers:
                        producer.produce(topic, value, key, headers=headers, timestamp=ts or 0)
                    else:  # librdkafka's header path costs ~0.8 µs per record, even empty
                        producer.produce(topic, value, key, timestamp=ts or 0)
                except BufferError:
                    self._produce(producer, topic, value, key, headers, ts)
        for producer in used.values():
            remaining = producer.flush(self._timeout)
            if remaining:
                for emit in items:
                    self._errors.setdefault(
                        emit.sink.topic, f"{remaining} record(s) not delivered in time"
                    )
        failures = dict(self._errors)
        if spans is not None:
            tracing.end_produce(spans, failures)
        if observe is not None and items:
            error = "; ".join(f"{t}: {r}" for t, r in failures.items()) or None
            observe.transport("kafka_produce", len(items), time.perf_counter() - started, error)
        self._settle(items, failures)

    def _without_stale(self, items: list[Emit]) -> list[Emit]:
        """``items`` without the outputs of records whose partition was revoked since they
        were polled (completed unwritten: whoever owns the partition now redelivers them),
        so a rebalance does not write a record's outputs twice."""
        kept: list[Emit] = []
        stale: list[Completion] = []
        for emit in items:
            if emit.token.stale:
                stale.append(emit.token)
            else:
                kept.append(emit)
        if stale:
            complete_all(stale)
            _log.info(
                "stream %s: dropped %d output(s) of records revoked while in flight",
                self._plan.name,
                len(stale),
            )
        return kept

    def _produce_timed(
        self, items: list[Emit], used: dict[int, Any], timing: Any, observe: Any, tracing: Any
    ) -> Any:
        """Encode every item (timed into the encode histogram and a ``kafka_encode`` event,
        each record in a produce span when tracing), then produce them; returns the spans."""
        start = time.perf_counter()
        encoded = [self._route(emit.sink)[2](emit) for emit in items]
        if items:
            seconds = time.perf_counter() - start
            if timing is not None:
                content_type = self._encoder(items[0].sink.codec).content_type
                timing.encoded(content_type, seconds, len(items))
            if observe is not None:
                observe.transport("kafka_encode", len(items), seconds)
        spans = tracing.start_produce(items, encoded) if tracing is not None else None
        for emit, (value, key, headers, ts) in zip(items, encoded, strict=True):
            producer, topic, _ = self._route(emit.sink)
            used[id(producer)] = producer
            self._produce(producer, topic, value, key, headers, ts)
        return spans

    def _produce(
        self,
        producer: Any,
        topic: str,
        value: bytes,
        key: Any,
        headers: list[tuple[str, bytes]],
        ts: int | None,
    ) -> None:
        while True:
            try:
                if headers:
                    producer.produce(topic, value, key, headers=headers, timestamp=ts or 0)
                else:
                    producer.produce(topic, value, key, timestamp=ts or 0)
                return
            except BufferError:
                producer.poll(0.1)

    def _settle(self, items: list[Emit], failures: dict[str, str]) -> None:
        if not failures:
            counts: dict[str, int] = {}
            topics = [emit.sink.topic for emit in items]
            if topics:
                first = topics[0]
                if topics.count(first) == len(topics):
                    counts[first] = len(topics)
                else:
                    for t in topics:
                        counts[t] = counts.get(t, 0) + 1
            complete_all([emit.token for emit in items])
            with self._metrics.lock:
                self._metrics.messages_out.update(counts)
            return
        dlq_items: list[tuple[Emit, str]] = []
        for emit in items:
            reason = failures.get(emit.sink.topic)
            if reason is None:
                continue
            if not emit.sink.dlq_topic:
                raise KafkaDeliveryError(emit.sink.topic, reason)
            dlq_items.append((emit, reason))
        if dlq_items:
            self._send_dlq(dlq_items)
        counts = {}
        for emit in items:
            topic = emit.sink.topic
            if topic not in failures:
                counts[topic] = counts.get(topic, 0) + 1
        complete_all([emit.token for emit in items])
        with self._metrics.lock:
            self._metrics.messages_out.update(counts)

    def _send_dlq(self, items: list[tuple[Emit, str]]) -> None:
        used: dict[int, Any] = {}
        for emit, reason in items:
            producer = self._producer(emit.sink)
            used[id(producer)] = producer
            value, key, headers, ts = self._encoder(emit.sink.codec).encode(emit)
            headers.append(("x-dlq-error", reason.encode()))
            try:
                producer.produce(
                    emit.sink.dlq_topic, value, key, headers=headers, timestamp=ts or 0
                )
            except Exception:
                _log.exception("stream %s: DLQ send failed", self._plan.name)
            with self._metrics.lock:
                self._metrics.dlq[emit.sink.dlq_topic or ""] += 1
        for producer in used.values():
            producer.flush(self._timeout)
        _log.warning("stream %s: %d record(s) sent to DLQ", self._plan.name, len(items))

    def close(self) -> None:
        for producer in self._producers.values():
            producer.flush(self._timeout)


class KafkaEmitSink(DynamicSink[Emit]):
    """One producer per worker (and per producer settings); flushes once per write batch."""

    def __init__(
        self,
        plan: CompiledPlan,
        metrics: StreamMetrics,
        brokers: str | None,
        clients: KafkaClients | None = None,
        tracker: AckTracker | None = None,
        control: StopControl | None = None,
    ) -> None:
        self._plan = plan
        self._metrics = metrics
        self._brokers = brokers
        self._clients = clients
        self._tracker = tracker
        self._control = control

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _SinkPartition:
        return _SinkPartition(
            self._plan, self._metrics, self._brokers, self._clients, self._tracker, self._control
        )


def build_dataflow(
    plan: CompiledPlan,
    engine: FlowEngine,
    tracker: AckTracker,
    control: StopControl,
    *,
    brokers: str | None = None,
    clients: KafkaClients | None = None,
) -> Any:
    """The Bytewax dataflow: group source → record path (``flat_map_batch``) → producer sink.

    ``clients`` is the Kafka transport (default: confluent-kafka, or what ``kafka.transport``
    of the plan names).
    """
    from bytewax import operators as op
    from bytewax.dataflow import Dataflow

    if clients is None:
        clients = _clients_for(plan.transport)
    flow = Dataflow(plan.name)
    records: Any = op.input(
        "source",
        flow,
        KafkaGroupSource(
            plan,
            tracker,
            control,
            engine.metrics,
            brokers,
            clients,
            on_idle=engine.idle_connections.release_if_idle if engine.manages_connections else None,
        ),
    )
    emits = op.flat_map_batch("process", records, _guarded(engine, control))
    op.output(
        "sink", emits, KafkaEmitSink(plan, engine.metrics, brokers, clients, tracker, control)
    )
    return flow


def _guarded(engine: FlowEngine, control: StopControl) -> Callable[[list[RawRecord]], list[Emit]]:
    """``engine.process`` that fails the run (``StopControl.fail``) instead of raising
    through Bytewax, and processes nothing once the run failed."""

    def process(records: list[RawRecord]) -> list[Emit]:
        if control.failure is not None:
            return []
        try:
            return engine.process(records)
        except Exception as exc:
            control.fail(exc)
            return []

    return process


def _clients_for(transport: str) -> KafkaClients:
    """The clients of the configured ``kafka.transport``; ``memory`` uses the process-wide
    :func:`~loom_django.streaming.memory.default_kafka` broker.

    Raises:
        ValueError: an unknown transport name.
    """
    if transport == "confluent":
        return confluent_clients()
    if transport == "memory":
        from loom_django.streaming.memory import default_kafka

        return default_kafka().clients()
    raise ValueError(f"unknown kafka.transport {transport!r} (expected confluent or memory)")
