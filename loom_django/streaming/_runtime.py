"""The record path of a compiled plan: decode a micro-batch, run its ops, and return what the
sink must write (outputs and error envelopes), each carrying its source's ack token.

Transport-free and Bytewax-free: the Bytewax adapter calls :meth:`FlowEngine.process` from a
``flat_map_batch`` step, and tests may call it directly.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import msgspec

from loom_django.core.errors import RuleViolation, RuleViolations
from loom_django.streaming._encode import Emit, encode_emit, new_trace_id
from loom_django.streaming._failures import StepFailure, classify, retryable
from loom_django.streaming._pacing import max_poll_interval_s
from loom_django.streaming._usecase_ops import run_use_case_batch
from loom_django.streaming.codecs import JsonCodec, KafkaCodec, MsgpackCodec, codec_for
from loom_django.streaming.dispatch import MultiTypeDecoder
from loom_django.streaming.errors import (
    DecodeError,
    ErrorEnvelope,
    ErrorKind,
    ErrorMessage,
    error_message_type,
)
from loom_django.streaming.invoke import UseCaseRunner
from loom_django.streaming.lanes import IdleConnections, connection_hygiene
from loom_django.streaming.messages import (
    Message,
    MessageMeta,
    message_type_of,
    message_version_of,
)
from loom_django.streaming.model_sink import ModelSinkOp, write_rows
from loom_django.streaming.plan import (
    BroadcastOp,
    CollectOp,
    CompiledPlan,
    CompiledSink,
    DrainOp,
    ExpandRoutesOp,
    ExplodeOp,
    ForEachOp,
    Op,
    RouterOp,
    SinkOp,
    StepOp,
    WithOp,
)
from loom_django.streaming.sinks import CustomSinkOp, SinkPartitions
from loom_django.streaming.tracker import AckToken, Completion, GroupToken, complete_all

__all__ = [
    "Emit",
    "FlowEngine",
    "RawRecord",
    "StreamMetrics",
    "UnroutedErrorStop",
    "classify",
    "encode_emit",
    "new_trace_id",
]

_log = logging.getLogger("loom_django.streaming")

_ENVELOPE_CODECS = (MsgpackCodec, JsonCodec)
"""Codecs whose decode reads no header: the engine calls their msgspec decoder directly."""


@dataclass(slots=True)
class RawRecord:
    """One polled Kafka record and its ack token."""

    value: bytes | None
    key: bytes | None
    headers: dict[str, bytes]
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    token: AckToken


@dataclass
class StreamMetrics:
    """Counters of one run (also exported to Prometheus when it is enabled)."""

    messages_in: Counter[str] = field(default_factory=Counter)
    messages_out: Counter[str] = field(default_factory=Counter)
    errors: Counter[tuple[str, bool]] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    filtered: Counter[str] = field(default_factory=Counter)
    unmatched: Counter[str] = field(default_factory=Counter)
    dlq: Counter[str] = field(default_factory=Counter)
    commits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    timing: Any = None  # metrics.Timings when Prometheus metrics are on (encode durations)
    observe: Any = None  # observe.Observation when observers are attached (TRANSPORT events)
    tracing: Any = None  # tracing.HopTracer when OpenTelemetry is on (produce spans)


class UnroutedErrorStop(RuntimeError):
    """An error had no route and the flow says ``unrouted_errors="fail"``."""


def _details(exc: BaseException) -> list[dict[str, str]]:
    if isinstance(exc, RuleViolations):
        return [
            {"field": v.field, "message": v.message, "code": str(v.code)} for v in exc.violations
        ]
    if isinstance(exc, RuleViolation):
        return [{"field": exc.field, "message": exc.message, "code": str(exc.code)}]
    return []


@dataclass(slots=True)
class _Rec:
    message: Message[Any]
    token: Completion


class _WorkerState(threading.local):
    stack: ExitStack | None = None
    deps: dict[tuple[int, ...], dict[str, Any]]
    instances: dict[type[Any], Any]

    def __init__(self) -> None:
        self.deps = {}
        self.instances = {}


class FlowEngine:
    """Executes a :class:`CompiledPlan` on micro-batches of raw records."""

    def __init__(
        self,
        plan: CompiledPlan,
        *,
        runtime_provider: Callable[[], Any] | None = None,
        metrics: StreamMetrics | None = None,
    ) -> None:
        self.plan = plan
        self.metrics = metrics or StreamMetrics()
        self._provider = runtime_provider
        codec: KafkaCodec = codec_for(plan.source.codec)
        if plan.source.dispatch is not None:
            codec = MultiTypeDecoder(codec, plan.source.dispatch)
        self._codec = codec
        self._payload = plan.source.payload_type
        # Built-in envelope codecs ignore headers: decode with the reused msgspec decoder.
        self._envelope_decode: Callable[[bytes], Any] | None = (
            codec.envelope_decoder(self._payload).decode
            if isinstance(codec, MsgpackCodec | JsonCodec) and type(codec) in _ENVELOPE_CODECS
            else None
        )
        self._local = _WorkerState()
        self._stacks: list[ExitStack] = []
        self._stacks_lock = threading.Lock()
        self.manages_connections = bool(plan.use_cases or plan.model_sinks)
        """Connection hygiene around each micro-batch and the idle close; off when a test
        shares its own connection and transaction (FlowHarness)."""
        self.idle_connections = IdleConnections(plan.runtime.db_idle_close_s)
        """Closes a worker's connections after ``db_idle_close_s`` without a micro-batch."""
        self._contracts: dict[tuple[int, type[Any]], tuple[str, int] | None] = {}
        self._bridge: Any = None  # the async bridge, started by the first WithAsync batch
        self._async_deps: dict[Any, dict[str, Any]] = {}
        self._linear = _linear_path(plan)
        self._use_cases = UseCaseRunner(plan.name)  # modes and idempotency (invoke.py)
        self._lanes: dict[Any, Any] = {}  # DB lanes per WithAsync path (lanes.py)
        self.sink_partitions = SinkPartitions(plan.runtime.workers_per_process)  # IntoSink
        # Retries of one message stop before they could get the worker kicked (spec §5.4).
        self._retry_budget_s = max_poll_interval_s(plan.source.settings.extra) / 2

    # -- entry point ------------------------------------------------------------------

    def process(self, records: list[RawRecord]) -> list[Emit]:
        """Decode ``records`` and run the plan; returns the items the sink must write."""
        out: list[Emit] = []
        if self.manages_connections:
            connection_hygiene()  # this worker is a DB lane (lanes.py)
        try:
            recs = self._decode(records, out)
            if recs:
                linear = self._linear
                if linear is not None and "_op" not in self.__dict__:  # not instrumented
                    self._run_linear(linear[0], linear[1], recs, out)
                else:
                    rest = self._run(self.plan.ops, recs, out)
                    self._to_output(rest, out)
        finally:
            if self.manages_connections:
                connection_hygiene()
                self.idle_connections.used()
        return out

    def _run_linear(
        self, steps: tuple[StepOp, ...], sink: CompiledSink, recs: list[_Rec], out: list[Emit]
    ) -> None:
        """Record steps then one sink, per record without intermediate lists: the outcomes
        of :meth:`_run` + :meth:`_to_output` for a plan of plain record steps."""
        append = out.append
        contracts = self._contracts
        sink_id = id(sink)
        filtered: dict[str, int] = {}
        done: list[Completion] = []
        for rec in recs:
            message = rec.message
            for op in steps:
                try:
                    value = op.step.execute(message)
                except Exception as exc:
                    self._fail(
                        StepFailure(classify(exc), exc, 1, op.name), _Rec(message, rec.token), out
                    )
                    break
                if value is None:
                    filtered[op.name] = filtered.get(op.name, 0) + 1
                    done.append(rec.token)
                    break
                message = (
                    value
                    if isinstance(value, Message)
                    else Message(payload=value, meta=message.meta)
                )
            else:
                cls = type(message.payload)
                contract = contracts.get((sink_id, cls)) or self._contract(sink, cls)
                if contract is None:
                    self._wrong_payload(sink, cls, _Rec(message, rec.token), out)
                else:
                    append(Emit(sink, message, rec.token, contract[0], contract[1]))
        if filtered:
            with self.metrics.lock:
                self.metrics.filtered.update(filtered)
        if done:
            complete_all(done)

    def close(self) -> None:
        """Exit the worker-scoped dependencies of every worker (LIFO, errors logged)."""
        with self._stacks_lock:
            stacks, self._stacks = self._stacks, []
        for stack in reversed(stacks):
            try:
                stack.close()
            except Exception:
                _log.exception("stream %s: closing a With dependency failed", self.plan.name)
        bridge, self._bridge = self._bridge, None
        if bridge is not None:
            bridge.close()
        with self._stacks_lock:
            lanes, self._lanes = list(self._lanes.values()), {}
        for lane_set in lanes:  # each lane closes its own connections
            lane_set.close()
        self.sink_partitions.close()

    # -- decode -----------------------------------------------------------------------

    def _decode(self, records: list[RawRecord], out: list[Emit]) -> list[_Rec]:
        recs: list[_Rec] = []
        append = recs.append
        fast = self._envelope_decode
        decode = self._codec.decode
        payload_type = self._payload
        for rec in records:
            value = rec.value
            if value is None:
                self._wire_error(rec, "tombstone record (value is None)", out)
                continue
            try:
                env = fast(value) if fast is not None else decode(value, payload_type, rec.headers)
            except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
                self._wire_error(rec, f"cannot decode record: {exc}", out)
                continue
            meta = env.meta
            desc = meta.descriptor
            topic, partition, offset = rec.topic, rec.partition, rec.offset
            append(
                _Rec(
                    Message(
                        payload=env.payload,
                        meta=MessageMeta(
                            message_id=f"{topic}:{partition}:{offset}",
                            correlation_id=meta.correlation_id,
                            trace_id=meta.trace_id or new_trace_id(),
                            parent_trace_id=meta.parent_trace_id,
                            causation_id=meta.causation_id,
                            produced_at_ms=meta.produced_at_ms or rec.timestamp_ms,
                            message_type=desc.message_type,
                            message_version=desc.message_version,
                            topic=topic,
                            partition=partition,
                            offset=offset,
                            key=rec.key,
                            headers=rec.headers,
                        ),
                    ),
                    rec.token,
                )
            )
        counts = Counter([rec.topic for rec in records])
        with self.metrics.lock:
            self.metrics.messages_in.update(counts)
        return recs

    def _wire_error(self, rec: RawRecord, reason: str, out: list[Emit]) -> None:
        envelope: ErrorEnvelope[Any] = ErrorEnvelope(
            kind=ErrorKind.WIRE, reason=reason, flow=self.plan.name, node="source"
        )
        error = DecodeError(
            error=envelope,
            raw=rec.value or b"",
            topic=rec.topic,
            key=rec.key,
            headers=rec.headers,
            partition=rec.partition,
            offset=rec.offset,
            timestamp_ms=rec.timestamp_ms,
        )
        meta = MessageMeta(
            message_id=f"{rec.topic}:{rec.partition}:{rec.offset}",
            topic=rec.topic,
            partition=rec.partition,
            offset=rec.offset,
            key=rec.key,
            headers=rec.headers,
            trace_id=_header(rec.headers, "x-trace-id"),
            correlation_id=_header(rec.headers, "x-correlation-id"),
            produced_at_ms=rec.timestamp_ms,
        )
        self._route_error(ErrorKind.WIRE, reason, Message(payload=error, meta=meta), rec.token, out)

    # -- errors -----------------------------------------------------------------------

    def _route_error(
        self,
        kind: ErrorKind,
        reason: str,
        message: Message[Any],
        token: Completion,
        out: list[Emit],
    ) -> None:
        sink = self.plan.error_routes.get(kind)
        with self.metrics.lock:
            self.metrics.errors[(kind.value, sink is not None)] += 1
        if sink is None:
            _log.error(
                "stream %s: unrouted %s error for %s: %s",
                self.plan.name,
                kind.value,
                message.meta.message_id,
                reason,
            )
            if self.plan.unrouted_errors == "fail":
                raise UnroutedErrorStop(
                    f"stream {self.plan.name}: unrouted {kind.value} error for "
                    f"{message.meta.message_id}: {reason}"
                )
            token.done()
            return
        out.append(
            Emit(
                sink,
                message,
                token,
                error_message_type(kind),
                1,
                {"x-error-kind": kind.value.encode(), "x-error-reason": reason[:500].encode()},
            )
        )

    def _fail_exc(self, exc: BaseException, rec: _Rec, out: list[Emit], node: str) -> None:
        """Route ``exc`` for ``rec``: a retry outcome as it is, anything else classified."""
        failure = exc if isinstance(exc, StepFailure) else StepFailure(classify(exc), exc, 1, node)
        self._fail(failure, rec, out)

    def _fail(self, failure: StepFailure, rec: _Rec, out: list[Emit]) -> None:
        exc = failure.exc
        reason = str(exc) or type(exc).__name__
        if failure.kind is ErrorKind.BUSINESS:
            _log.warning("stream %s.%s: %s", self.plan.name, failure.node, reason)
        else:
            _log.error(
                "stream %s.%s failed for %s",
                self.plan.name,
                failure.node,
                rec.message.meta.message_id,
                exc_info=exc if failure.kind is ErrorKind.TASK else None,
            )
        meta = rec.message.meta
        original = ErrorMessage(
            payload=rec.message.payload,
            message_id=meta.message_id,
            correlation_id=meta.correlation_id,
            trace_id=meta.trace_id,
            causation_id=meta.causation_id,
            produced_at_ms=meta.produced_at_ms,
            topic=meta.topic,
            partition=meta.partition,
            offset=meta.offset,
            key=meta.key.encode() if isinstance(meta.key, str) else meta.key,
            headers=meta.headers,
        )
        envelope = ErrorEnvelope(
            kind=failure.kind,
            reason=reason,
            payload_type=message_type_of(type(rec.message.payload)),
            original_message=original,
            details=_details(exc),
            attempts=failure.attempts,
            flow=self.plan.name,
            node=failure.node,
        )
        self._route_error(
            failure.kind, reason, Message(payload=envelope, meta=meta), rec.token, out
        )

    # -- ops --------------------------------------------------------------------------

    def _run(self, ops: tuple[Op, ...], items: list[Any], out: list[Emit]) -> list[Any]:
        """Run ``ops`` over ``items`` (records or batches); returns what reaches the end."""
        for op in ops:
            if not items:
                return items
            items = self._op(op, items, out)
        return items

    def _op(self, op: Op, items: list[Any], out: list[Emit]) -> list[Any]:
        if isinstance(op, StepOp):
            if op.kind == "batch":
                return self._batch_step(op, items, out, {})
            if op.kind == "singleton_batch":  # a BatchStep in a Router branch
                batches = self._batch_step(op, [[rec] for rec in items], out, {})
                return [rec for batch in batches for rec in batch]
            if op.kind == "batch_expand":
                return self._batch_expand(op, items, out)
            return self._record_step(op, items, out, {})
        if isinstance(op, SinkOp):
            self._emit_all(op.sink, items, out)
            return []
        if isinstance(op, CollectOp):
            return _collect(items, op.max_records)
        if isinstance(op, ForEachOp):
            return [rec for batch in items for rec in batch]
        if isinstance(op, DrainOp):
            for item in items:
                for rec in item if isinstance(item, list) else (item,):
                    rec.token.done()
            return []
        if isinstance(op, WithOp):
            return self._with(op, items, out)
        if isinstance(op, RouterOp):
            return self._router(op, items, out)
        if isinstance(op, BroadcastOp):
            return self._broadcast(op, items, out)
        if isinstance(op, ModelSinkOp):
            self._write_model(op, items, out)
            return []
        if isinstance(op, CustomSinkOp):
            self._write_sink(op, items, out)
            return []
        return self._expand_rows(op, items, out)

    def _write_model(self, op: ModelSinkOp, items: list[_Rec], out: list[Emit]) -> None:
        """``IntoModel``: completes each written row after the commit (model_sink.py)."""
        try:
            rejected = dict(write_rows(op, [rec.message.payload for rec in items]))
        except Exception as exc:  # the database failed: nothing of the batch was written
            for rec in items:
                self._fail_exc(exc, rec, out, op.name)
            return
        for index, rec in enumerate(items):
            error = rejected.get(index)
            if error is None:
                rec.token.done()
            else:
                self._fail_exc(error, rec, out, op.name)

    def _write_sink(self, op: CustomSinkOp, items: list[_Rec], out: list[Emit]) -> None:
        """An ``IntoSink``: completes the batch once ``write_batch`` returned (sinks.py)."""
        try:
            self.sink_partitions.get(op, self._bridge).write_batch([r.message for r in items])
        except Exception as exc:  # nothing of the batch counts as written
            for rec in items:
                self._fail_exc(exc, rec, out, op.name)
            return
        complete_all([rec.token for rec in items])

    def _emit(self, sink: CompiledSink, rec: _Rec, out: list[Emit]) -> None:
        cls = type(rec.message.payload)
        contract = self._contract(sink, cls)
        if contract is None:
            self._wrong_payload(sink, cls, rec, out)
            return
        out.append(Emit(sink, rec.message, rec.token, contract[0], contract[1]))

    def _contract(self, sink: CompiledSink, cls: type[Any]) -> tuple[str, int] | None:
        """``(message_type, version)`` of ``cls`` written to ``sink``; ``None`` when the sink
        declares another payload class. Cached per sink and class."""
        key = (id(sink), cls)
        try:
            return self._contracts[key]
        except KeyError:
            pass
        want = sink.payload_type
        contract = (
            None
            if want is not None and not issubclass(cls, want)
            else (message_type_of(cls), message_version_of(cls))
        )
        self._contracts[key] = contract
        return contract

    def _wrong_payload(
        self, sink: CompiledSink, cls: type[Any], rec: _Rec, out: list[Emit]
    ) -> None:
        want = sink.payload_type
        exc = TypeError(
            f"IntoTopic({sink.ref}) expects {getattr(want, '__qualname__', want)}, "
            f"got {cls.__qualname__}"
        )
        self._fail(StepFailure(ErrorKind.TASK, exc, 1, f"IntoTopic({sink.ref})"), rec, out)

    def _to_output(self, items: list[Any], out: list[Emit]) -> None:
        sink = self.plan.output
        if sink is None:
            complete_all([rec.token for rec in _flatten(items)])
            return
        self._emit_all(sink, items, out)

    def _emit_all(self, sink: CompiledSink, items: list[Any], out: list[Emit]) -> None:
        """:meth:`_emit` for every record of ``items`` (records, or batches of records)."""
        append = out.append
        contracts = self._contracts
        sink_id = id(sink)
        for item in items:
            for rec in item if type(item) is list else (item,):
                message = rec.message
                cls = type(message.payload)
                contract = contracts.get((sink_id, cls)) or self._contract(sink, cls)
                if contract is None:
                    self._wrong_payload(sink, cls, rec, out)
                else:
                    append(Emit(sink, message, rec.token, contract[0], contract[1]))

    # -- steps ------------------------------------------------------------------------

    def _record_step(
        self, op: StepOp, items: list[_Rec], out: list[Emit], deps: dict[str, Any]
    ) -> list[_Rec]:
        if op.kind == "record" and op.retry is None:
            return self._plain_record_step(op, items, out, deps)
        if op.kind == "use_case":  # a batch transaction, or bridged calls batched
            batched = run_use_case_batch(self, op, items, out)
            if batched is not None:
                return batched
        result: list[_Rec] = []
        for rec in items:
            try:
                value = self._attempt(op, partial(self._call, op, rec, deps))
            except StepFailure as failure:
                self._fail(failure, rec, out)
                continue
            self._settle(op, rec, value, result)
        return result

    def _plain_record_step(
        self, op: StepOp, items: list[_Rec], out: list[Emit], deps: dict[str, Any]
    ) -> list[_Rec]:
        """A record step without retries: one call per record, failures classified at once,
        filtered records completed together (the outcomes of ``_attempt`` + ``_settle``)."""
        execute = partial(op.step.execute, **deps) if deps else op.step.execute
        result: list[_Rec] = []
        append = result.append
        filtered: list[Completion] = []
        for rec in items:
            message = rec.message
            try:
                value = execute(message)
            except Exception as exc:
                self._fail(StepFailure(classify(exc), exc, 1, op.name), rec, out)
                continue
            if value is None:
                filtered.append(rec.token)
            elif type(value) is Message or isinstance(value, Message):
                append(_Rec(value, rec.token))
            else:
                append(_Rec(Message(payload=value, meta=message.meta), rec.token))
        if filtered:
            with self.metrics.lock:
                self.metrics.filtered[op.name] += len(filtered)
            complete_all(filtered)
        return result

    def _settle(self, op: StepOp, rec: _Rec, value: Any, result: list[_Rec]) -> None:
        """Append what a step returned for ``rec`` to ``result`` (filtered or expanded)."""
        if op.kind == "expand":
            produced = [_wrap(v, rec) for v in value]
            rec.token.fork(len(produced))
            result.extend(produced)
        elif value is None:
            with self.metrics.lock:
                self.metrics.filtered[op.name] += 1
            rec.token.done()
        else:
            result.append(_wrap(value, rec))

    def _call(self, op: StepOp, rec: _Rec, deps: dict[str, Any]) -> Any:
        if op.kind == "use_case":
            return self._invoke(op, rec)
        return op.step.execute(rec.message, **deps)

    def _invoke(self, op: StepOp, rec: _Rec) -> Any:
        runtime, instance = self._use_case_instance(op)
        return self._use_cases.run(runtime, op.step, instance, rec.message)  # invoke.py

    def _use_case_instance(self, op: StepOp) -> tuple[Any, Any]:
        """``(runtime, use case instance)`` for ``op`` on this worker (built once per worker).

        Raises:
            RuntimeError: the engine has no runtime provider.
        """
        if self._provider is None:
            raise RuntimeError("no loom runtime provider: use cases cannot run")
        runtime = self._provider()
        use_case = op.step.use_case
        instance = self._local.instances.get(use_case)
        if instance is None:
            instance = self._local.instances[use_case] = runtime.factory.build(use_case)
        return runtime, instance

    def _attempt(
        self,
        op: StepOp,
        fn: Callable[[], Any],
        attempts: int = 0,
        started: float | None = None,
    ) -> Any:
        """``fn()``, retried per ``op``'s policy; ``attempts`` already failed before, the
        first of them at ``started`` (default: now).

        Raises:
            StepFailure: no (further) retry is due.
        """
        if started is None:
            started = time.monotonic()
        while True:
            attempts += 1
            try:
                return fn()
            except Exception as exc:
                time.sleep(self._retry_delay(op, exc, attempts, started))

    def _retry_delay(self, op: StepOp, exc: Exception, attempts: int, started: float) -> float:
        """Seconds to wait before retrying ``op`` after failed attempt ``attempts`` of a
        message first tried at ``started`` (``time.monotonic()``).

        Raises:
            StepFailure: no retry is due (no policy, attempts exhausted, kind not retryable, or
                the wait would take the message's retries past ``max.poll.interval.ms / 2``).
        """
        policy = op.retry
        kind = classify(exc)
        if policy is None or attempts >= policy.max_attempts or not retryable(policy, kind, exc):
            raise StepFailure(kind, exc, attempts, op.name) from exc
        delay = policy.delay_s(attempts)
        if policy.jitter:
            delay *= 0.5 + random.random() / 2
        if time.monotonic() - started + delay > self._retry_budget_s:
            _log.warning(
                "stream %s.%s: giving up after %d attempt(s): retrying would exceed %.1fs "
                "(max.poll.interval.ms / 2)",
                self.plan.name,
                op.name,
                attempts,
                self._retry_budget_s,
            )
            raise StepFailure(kind, exc, attempts, op.name) from exc
        _reset_connection(exc)
        with self.metrics.lock:
            self.metrics.retries[op.name] += 1
        return delay

    def _batch_step(
        self, op: StepOp, batches: list[list[_Rec]], out: list[Emit], deps: dict[str, Any]
    ) -> list[list[_Rec]]:
        result: list[list[_Rec]] = []
        for batch in batches:
            messages = [r.message for r in batch]
            try:
                values = list(self._attempt(op, partial(op.step.execute, messages, **deps)))
                if len(values) != len(batch):
                    raise StepFailure(
                        ErrorKind.TASK,
                        ValueError(
                            f"{op.name} returned {len(values)} items for a batch of {len(batch)}"
                        ),
                        1,
                        op.name,
                    )
            except StepFailure as failure:
                for rec in batch:
                    self._fail(failure, rec, out)
                continue
            kept = []
            for value, rec in zip(values, batch, strict=True):
                if value is None:
                    rec.token.done()
                else:
                    kept.append(_wrap(value, rec))
            if kept:
                result.append(kept)
        return result

    def _batch_expand(self, op: StepOp, batches: list[list[_Rec]], out: list[Emit]) -> list[_Rec]:
        result: list[_Rec] = []
        for batch in batches:
            messages = [r.message for r in batch]
            try:
                values = list(self._attempt(op, partial(op.step.execute, messages)))
            except StepFailure as failure:
                for rec in batch:
                    self._fail(failure, rec, out)
                continue
            group = GroupToken([rec.token for rec in batch], len(values))
            head = _Rec(batch[0].message, group)
            result.extend(_wrap(value, head) for value in values)
        return result

    # -- scopes and routing -----------------------------------------------------------

    def _with(self, op: WithOp, items: list[Any], out: list[Emit]) -> list[Any]:
        # Record input runs per micro-batch (one batch scope, one WithAsync window).
        batches = items if items and isinstance(items[0], list) else [items]
        if op.async_opts is not None:
            from loom_django.streaming._async import run_with_async  # anyio: the stream extra

            survivors = [rec for batch in batches for rec in run_with_async(self, op, batch, out)]
            return survivors if op.to_output else _complete_all(survivors)
        survivors = []
        for batch in batches:
            with ExitStack() as batch_stack:
                deps = dict(self._worker_deps(op))
                if op.scope == "batch":
                    for name, factory in op.factories.items():
                        deps[name] = batch_stack.enter_context(factory.create())
                survivors.extend(self._with_batch(op, batch, deps, out))
        return survivors if op.to_output else _complete_all(survivors)

    def _with_batch(
        self, op: WithOp, batch: list[_Rec], deps: dict[str, Any], out: list[Emit]
    ) -> list[_Rec]:
        """The inner process over the whole batch, step by step (a failure drops only its
        message), so a use-case step sees the batch at once (batch transaction, W4)."""
        current = batch
        for inner in op.ops:
            if not current:
                return []
            if isinstance(inner, StepOp):
                current = self._record_step(inner, current, out, deps)
            else:
                current = self._op(inner, current, out)
        return current

    def _worker_deps(self, op: WithOp) -> dict[str, Any]:
        local = self._local
        deps = local.deps.get(op.path)
        if deps is not None:
            return deps
        if local.stack is None:
            local.stack = ExitStack()
            with self._stacks_lock:
                self._stacks.append(local.stack)
        deps = dict(op.plain)
        for name, manager in op.managers.items():
            deps[name] = local.stack.enter_context(manager)
        if op.scope == "worker":
            for name, factory in op.factories.items():
                deps[name] = local.stack.enter_context(factory.create())
        local.deps[op.path] = deps
        return deps

    def _router(self, op: RouterOp, items: list[_Rec], out: list[Emit]) -> list[_Rec]:
        lanes: list[list[_Rec]] = [[] for _ in op.branches]
        passed: list[tuple[int, _Rec]] = []
        for position, rec in enumerate(items):
            try:
                index = _select(op, rec.message)
            except Exception as exc:
                self._fail(StepFailure(ErrorKind.ROUTING, exc, 1, op.name), rec, out)
                continue
            if index is None:
                if op.fork:
                    with self.metrics.lock:
                        self.metrics.unmatched[op.name] += 1
                    rec.token.done()
                else:
                    passed.append((position, rec))
                continue
            lanes[index].append(rec)
        rejoined: list[tuple[int, _Rec]] = list(passed)
        order = {id(rec): i for i, rec in enumerate(items)}
        for branch, lane in zip(op.branches, lanes, strict=True):
            if not lane:
                continue
            result = self._run(branch.ops, lane, out)
            if not branch.terminal:
                rejoined.extend((order.get(id(r), len(items)), r) for r in result)
        rejoined.sort(key=lambda pair: pair[0])
        return [rec for _, rec in rejoined]

    def _broadcast(self, op: BroadcastOp, items: list[Any], out: list[Emit]) -> list[Any]:
        for rec in _flatten(items):  # each input completes once per route
            rec.token.fork(len(op.routes))
        for route in op.routes:
            copies = [
                [_Rec(r.message, r.token) for r in item]
                if isinstance(item, list)
                else _Rec(item.message, item.token)
                for item in items
            ]
            _complete_all(_flatten(self._run(route.ops, copies, out)))  # a discard route
        return []

    def _expand_rows(
        self, op: ExplodeOp | ExpandRoutesOp, items: list[_Rec], out: list[Emit]
    ) -> list[_Rec]:
        rows: list[tuple[int | None, _Rec]] = []
        keyed = op.keyed if isinstance(op, ExpandRoutesOp) else {}
        default = op.default if isinstance(op, ExpandRoutesOp) else None
        for rec in items:
            try:
                groups = op.expander.expand(rec.message.payload)
                produced = [
                    (keyed.get(cls, default), value)
                    for cls, values in groups.items()
                    for value in values
                ]
            except Exception as exc:
                self._fail_exc(exc, rec, out, op.name)
                continue
            if isinstance(op, ExpandRoutesOp):  # rows of classes without a route are dropped
                produced = [(index, v) for index, v in produced if index is not None]
            rec.token.fork(len(produced))
            rows.extend((index, _wrap(value, rec)) for index, value in produced)
        if isinstance(op, ExplodeOp):
            return [rec for _, rec in rows]
        for index, branch in enumerate(op.branches):
            lane = [rec for i, rec in rows if i == index]
            if lane:
                self._run(branch.ops, lane, out)
        return []


def _linear_path(plan: CompiledPlan) -> tuple[tuple[StepOp, ...], CompiledSink] | None:
    """``(steps, sink)`` when the plan is plain record steps (no retry) ending in one Kafka
    sink, the shape most flows have; ``None`` otherwise."""
    ops = plan.ops
    sink = plan.output
    if ops and isinstance(ops[-1], SinkOp):
        if sink is not None:
            return None
        sink, ops = ops[-1].sink, ops[:-1]
    if sink is None:
        return None
    steps = []
    for op in ops:
        if not isinstance(op, StepOp) or op.kind != "record" or op.retry is not None:
            return None
        steps.append(op)
    return tuple(steps), sink


def _select(op: RouterOp, message: Message[Any]) -> int | None:
    if op.selector is not None:
        value = op.selector.select(message)
        index = op.keyed.get(value)
        if index is not None:
            return index
    for predicate, index in op.predicates:
        if predicate.matches(message):
            return index
    return op.default


def _collect(records: list[_Rec], size: int) -> list[list[_Rec]]:
    groups: dict[tuple[str | None, int | None], list[_Rec]] = {}
    for rec in records:
        groups.setdefault((rec.message.meta.topic, rec.message.meta.partition), []).append(rec)
    batches: list[list[_Rec]] = []
    for group in groups.values():
        batches.extend(group[i : i + size] for i in range(0, len(group), size))
    return batches


def _flatten(items: list[Any]) -> list[_Rec]:
    """The records of ``items`` (records, or batches of records)."""
    return [rec for item in items for rec in (item if isinstance(item, list) else (item,))]


def _complete_all(recs: list[_Rec]) -> list[Any]:
    for rec in recs:
        rec.token.done()
    return []


def _wrap(value: Any, rec: _Rec) -> _Rec:
    if isinstance(value, Message):
        return _Rec(value, rec.token)
    return _Rec(Message(payload=value, meta=rec.message.meta), rec.token)


def _reset_connection(exc: BaseException) -> None:
    from django.db import InterfaceError, OperationalError, connection

    if isinstance(exc, OperationalError | InterfaceError):
        connection.close()


def _header(headers: dict[str, bytes], key: str) -> str | None:
    value = headers.get(key)
    return value.decode("utf-8", "replace") if value is not None else None
