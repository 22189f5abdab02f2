"""The record path of a compiled plan: decode a micro-batch, run its ops, and return what the
sink must write (outputs and error envelopes), each carrying its source's ack token.

Transport-free and Bytewax-free: the Bytewax adapter calls :meth:`FlowEngine.process` from a
``flat_map_batch`` step, and tests may call it directly. The engine is built in layers, each
a module: ``_records`` (what flows), ``_engine_errors`` (error routes), ``_engine_steps``
(steps and retries), ``_engine_ops`` (ops, scopes and routing), then this module (decode,
the per-record path of linear plans, the entry point).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import msgspec

from loom_django.streaming._encode import Emit, encode_emit, new_trace_id
from loom_django.streaming._engine_ops import OpRunner
from loom_django.streaming._failures import StepFailure, classify
from loom_django.streaming._pacing import max_poll_interval_s
from loom_django.streaming._records import (
    RawRecord,
    Rec,
    StreamMetrics,
    UnroutedErrorStop,
    WorkerState,
)
from loom_django.streaming.codecs import JsonCodec, KafkaCodec, MsgpackCodec, codec_for
from loom_django.streaming.dispatch import MultiTypeDecoder
from loom_django.streaming.invoke import UseCaseRunner
from loom_django.streaming.lanes import IdleConnections, connection_hygiene
from loom_django.streaming.messages import Message, MessageMeta
from loom_django.streaming.plan import CompiledPlan, CompiledSink, SinkOp, StepOp
from loom_django.streaming.sinks import SinkPartitions
from loom_django.streaming.tracker import Completion, complete_all

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


class FlowEngine(OpRunner):
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
        self._local = WorkerState()
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
        self, steps: tuple[StepOp, ...], sink: CompiledSink, recs: list[Rec], out: list[Emit]
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
                        StepFailure(classify(exc), exc, 1, op.name), Rec(message, rec.token), out
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
                    self._wrong_payload(sink, cls, Rec(message, rec.token), out)
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
        self._use_cases.close()  # the loops of bridged executions

    # -- decode -----------------------------------------------------------------------

    def _decode(self, records: list[RawRecord], out: list[Emit]) -> list[Rec]:
        recs: list[Rec] = []
        append = recs.append
        fast = self._envelope_decode
        decode = self._codec.decode
        payload_type = self._payload
        # A polled batch comes partition by partition: the "topic:partition:" of message ids
        # is built once per run of one partition.
        prefix_of: tuple[str, int] | None = None
        prefix = ""
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
            if prefix_of is None or prefix_of[1] != partition or prefix_of[0] != topic:
                prefix_of = (topic, partition)
                prefix = f"{topic}:{partition}:"
            append(
                Rec(
                    Message(
                        payload=env.payload,
                        meta=MessageMeta(
                            message_id=prefix + str(offset),
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
        if records:
            first = records[0].topic
            if len(self.plan.source.topics) == 1 or all(r.topic == first for r in records):
                counts: Counter[str] | dict[str, int] = {first: len(records)}
            else:
                counts = Counter([rec.topic for rec in records])
            with self.metrics.lock:
                self.metrics.messages_in.update(counts)
        return recs


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
