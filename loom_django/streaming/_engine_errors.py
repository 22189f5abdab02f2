"""The engine's first layer: a failure becomes an error envelope on the flow's error route
for its kind (or a log line, or a stop when the flow says ``unrouted_errors="fail"``)."""

from __future__ import annotations

import logging
from typing import Any

from loom_django.core.errors import RuleViolation, RuleViolations
from loom_django.streaming._encode import Emit
from loom_django.streaming._failures import StepFailure, classify
from loom_django.streaming._records import RawRecord, Rec, StreamMetrics, UnroutedErrorStop
from loom_django.streaming.errors import (
    DecodeError,
    ErrorEnvelope,
    ErrorKind,
    ErrorMessage,
    error_message_type,
)
from loom_django.streaming.messages import Message, MessageMeta, message_type_of
from loom_django.streaming.plan import CompiledPlan
from loom_django.streaming.tracker import Completion

__all__ = ["ErrorRouting"]

_log = logging.getLogger("loom_django.streaming")


class ErrorRouting:
    """Routes wire errors and step failures to the plan's error routes."""

    plan: CompiledPlan
    metrics: StreamMetrics

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

    def _fail_exc(self, exc: BaseException, rec: Rec, out: list[Emit], node: str) -> None:
        """Route ``exc`` for ``rec``: a retry outcome as it is, anything else classified."""
        failure = exc if isinstance(exc, StepFailure) else StepFailure(classify(exc), exc, 1, node)
        self._fail(failure, rec, out)

    def _fail(self, failure: StepFailure, rec: Rec, out: list[Emit]) -> None:
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


def _details(exc: BaseException) -> list[dict[str, str]]:
    if isinstance(exc, RuleViolations):
        return [
            {"field": v.field, "message": v.message, "code": str(v.code)} for v in exc.violations
        ]
    if isinstance(exc, RuleViolation):
        return [{"field": exc.field, "message": exc.message, "code": str(exc.code)}]
    return []


def _header(headers: dict[str, bytes], key: str) -> str | None:
    value = headers.get(key)
    return value.decode("utf-8", "replace") if value is not None else None
