"""The flow compiler's configuration phase: Kafka and runtime settings, the default retry
policy, the source (topics, group, codec, payload types) and every Kafka sink."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Union

import msgspec

from loom_django.streaming._compile_context import CompileContext, reason_of
from loom_django.streaming.dispatch import dispatch_table
from loom_django.streaming.errors import ErrorKind, InvalidFlowConfig
from loom_django.streaming.fanout import Broadcast
from loom_django.streaming.flow import StreamFlow
from loom_django.streaming.nodes import Fork, FromMultiTypeTopic, FromTopic, IntoTopic, RetryPolicy
from loom_django.streaming.plan import CompiledSink, CompiledSource
from loom_django.streaming.settings import KafkaSettings, RuntimeConfig
from loom_django.streaming.steps import StreamShape

__all__ = [
    "compile_outputs",
    "compile_sink",
    "compile_source",
    "default_retry",
    "kafka_settings",
    "runtime_config",
]

R = StreamShape.RECORD
NONE = StreamShape.NONE


def kafka_settings(flow: StreamFlow, cfg: Mapping[str, Any]) -> tuple[KafkaSettings | None, str]:
    """The validated ``kafka`` section, or ``None`` and the reason it is missing or invalid."""
    section = cfg.get("kafka")
    if not section:
        return None, "a 'kafka' configuration section is required to read or write topics"
    try:
        return msgspec.convert(dict(section), KafkaSettings, strict=False), ""
    except msgspec.ValidationError as exc:
        return None, f"invalid kafka configuration: {exc}"


def runtime_config(
    flow: StreamFlow, cfg: Mapping[str, Any], ctx: CompileContext
) -> RuntimeConfig | None:
    """``streaming.runtime`` merged with the flow's own ``runtime``, validated (``None``:
    invalid, the problems are in ``ctx``)."""
    streaming = cfg.get("streaming") or {}
    merged = dict(streaming.get("runtime") or {})
    per_flow = ((streaming.get("flows") or {}).get(flow.name) or {}).get("runtime") or {}
    merged.update(per_flow)
    try:
        runtime = msgspec.convert(merged, RuntimeConfig, strict=False)
    except msgspec.ValidationError as exc:
        ctx.errors.append(f"{flow.name}: streaming.runtime: {exc}")
        return None
    for problem in runtime.problems():
        ctx.errors.append(f"{flow.name}: {problem}")
    return runtime


_RETRY_KEYS = ("max_attempts", "backoff_ms", "max_backoff_ms", "multiplier", "jitter", "retry_on")


def default_retry(
    flow: StreamFlow, cfg: Mapping[str, Any], ctx: CompileContext
) -> RetryPolicy | None:
    """``streaming.flows.<flow>.retry``: the policy of steps that declare none."""
    flows = (cfg.get("streaming") or {}).get("flows") or {}
    raw = (flows.get(flow.name) or {}).get("retry")
    if not raw:
        return None
    where = f"streaming.flows.{flow.name}.retry"
    unknown = sorted(set(raw) - set(_RETRY_KEYS))
    if unknown:
        ctx.errors.append(f"{flow.name}: {where}: unknown keys {', '.join(unknown)}")
        return None
    try:
        values = dict(raw)
        if "retry_on" in values:
            values["retry_on"] = tuple(ErrorKind(k) for k in values["retry_on"])
        return RetryPolicy(**values)
    except (TypeError, ValueError) as exc:
        ctx.errors.append(f"{flow.name}: {where}: {exc}")
        return None


def _group_id(flow: StreamFlow, cfg: Mapping[str, Any], ref: str, kafka: KafkaSettings) -> str:
    named = kafka.consumers.get(ref, {}).get("group_id")
    if named:
        return str(named)
    flow_cfg = ((cfg.get("streaming") or {}).get("flows") or {}).get(flow.name) or {}
    if flow_cfg.get("group_id"):
        return str(flow_cfg["group_id"])
    prefix = kafka.consumer.get("group_id") or (cfg.get("app") or {}).get("name") or "loom"
    return f"{prefix}.{flow.name}"


def compile_source(
    flow: StreamFlow, cfg: Mapping[str, Any], ctx: CompileContext
) -> CompiledSource | None:
    """The flow's source resolved: physical topics, consumer group, codec, payload types."""
    src = flow.source
    if not isinstance(src, FromTopic | FromMultiTypeTopic):
        ctx.error("source", f"unsupported source type (got {type(src).__name__})")
        return None
    if src.shape is not StreamShape.RECORD:
        ctx.error("source", f"{type(src).__name__} shape must be RECORD (got {src.shape.value})")
    dispatch = None
    payload_type: Any
    if isinstance(src, FromMultiTypeTopic):
        dispatch, problems = dispatch_table(src.payloads)
        for problem in problems:
            ctx.error("source", problem)
        payload_type = Union[tuple(src.payloads)]  # noqa: UP007 - a runtime union of classes
    else:
        _payload_class(src.payload, ctx, "source")
        payload_type = src.payload
    if ctx.kafka is None:
        return None
    try:
        settings = ctx.kafka.consumer_for(src.name)
    except (KeyError, InvalidFlowConfig) as exc:
        ctx.error("source", reason_of(exc))
        return None
    topics = tuple(ctx.kafka.consumers.get(src.name, {}).get("topics") or ()) or (
        settings.topics or (src.name,)
    )
    codec = src.codec or settings.codec or ctx.kafka.codec
    return CompiledSource(
        ref=src.name,
        topics=tuple(topics),
        payload_type=payload_type,
        codec=codec,
        settings=settings,
        group_id=_group_id(flow, cfg, src.name, ctx.kafka),
        dispatch=dispatch,
    )


def _payload_class(cls: Any, ctx: CompileContext, node: str) -> None:
    if not (isinstance(cls, type) and issubclass(cls, msgspec.Struct)):
        ctx.error(node, f"payload must be a msgspec Struct class (got {cls!r})")


def compile_sink(node: IntoTopic[Any], ctx: CompileContext, where: str) -> CompiledSink | None:
    """``node`` resolved against its producer settings (topic, codec, partitioning, DLQ)."""
    if ctx.kafka is None:
        return None
    try:
        settings = ctx.kafka.producer_for(node.name)
    except (KeyError, InvalidFlowConfig) as exc:
        ctx.error(where, reason_of(exc))
        return None
    topic = ctx.kafka.producers.get(node.name, {}).get("topic") or settings.topic or node.name
    codec = node.codec or settings.codec or ctx.kafka.codec
    if not node.lineage_headers and codec == "json-raw":
        ctx.error(
            where,
            f"IntoTopic({node.name}): lineage_headers=False cannot be used with codec "
            "'json-raw': its message type and trace ids travel only in headers",
        )
    return CompiledSink(
        ref=node.name,
        topic=str(topic),
        payload_type=node.payload,
        codec=codec,
        settings=settings,
        partitioning=node.partitioning,
        dlq_topic=node.dlq,
        lineage_headers=node.lineage_headers,
    )


def compile_outputs(
    flow: StreamFlow, shape: StreamShape, ctx: CompileContext
) -> CompiledSink | None:
    """The flow-level ``output=`` sink, after checking that the process can end in it."""
    last = flow.process.nodes[-1]
    if flow.output is not None and isinstance(last, Fork | Broadcast):
        kind = "Fork" if isinstance(last, Fork) else "Broadcast"
        ctx.error("output", f"a flow output cannot be combined with a top-level {kind}")
    if flow.output is None and not ctx.has_terminal:
        ctx.error("process", "no terminal output (end in IntoTopic or Drain, or set output=)")
    if flow.output is not None and shape not in (R, NONE):
        ctx.error("output", f"shape mismatch: expected record but got {shape.value} before output")
    if flow.output is None:
        return None
    return compile_sink(flow.output, ctx, "output")
