"""How the engine runs a use-case step over the records of a micro-batch (or of a
``CollectBatch`` batch): one transaction for the batch (``transaction="batch"``), bridged
executions batched into one ``async_to_sync`` call, or ``None`` for the per-message path."""

from __future__ import annotations

import time
from typing import Any, Protocol

from loom_django.streaming._failures import StepFailure, classify, retryable
from loom_django.streaming.errors import BatchRolledBack
from loom_django.streaming.invoke_batch import (
    BatchFailed,
    run_bridged_each,
    run_in_one_transaction,
)
from loom_django.streaming.plan import StepOp

__all__ = ["run_use_case_batch"]

_Rec = Any  # the engine's in-flight record (message + ack token)


class _Engine(Protocol):
    """What these paths need from ``_runtime.FlowEngine``."""

    _use_cases: Any
    metrics: Any

    def _use_case_instance(self, op: StepOp) -> tuple[Any, Any]: ...

    def _settle(self, op: StepOp, rec: Any, value: Any, result: list[Any]) -> None: ...

    def _fail(self, failure: Any, rec: Any, out: list[Any]) -> None: ...

    def _retry_delay(self, op: StepOp, exc: Exception, attempts: int, started: float) -> float: ...

    def _attempt(
        self, op: StepOp, fn: Any, attempts: int = 0, started: float | None = None
    ) -> Any: ...

    def _invoke(self, op: StepOp, rec: Any) -> Any: ...


def run_use_case_batch(
    engine: _Engine, op: StepOp, items: list[_Rec], out: list[Any]
) -> list[_Rec] | None:
    """The records ``op`` passes on for ``items`` (their failures routed), or ``None`` when
    they take the per-message path (one transaction and one bridge call per message)."""
    if op.step.transaction == "batch":
        return _one_transaction(engine, op, items, out)
    if len(items) > 1 and engine._use_cases.runs_bridged(op.step):
        return _bridged_each(engine, op, items, out)
    return None


def _one_transaction(engine: _Engine, op: StepOp, items: list[_Rec], out: list[Any]) -> list[_Rec]:
    """All of ``items`` in one transaction; a failure (after the retries the policy allows,
    each re-running the whole batch) becomes an error for every message of the batch."""
    runtime, instance = engine._use_case_instance(op)
    messages = [rec.message for rec in items]
    attempts = 0
    started = time.monotonic()
    while True:
        attempts += 1
        begun = time.perf_counter()
        try:
            values = run_in_one_transaction(engine._use_cases, runtime, op.step, instance, messages)
            _observe(engine, op, time.perf_counter() - begun, len(messages), 0)
            break
        except BatchFailed as failed:
            _observe(engine, op, time.perf_counter() - begun, 0, len(messages))
            exc = failed.exc if isinstance(failed.exc, Exception) else failed
            try:
                delay = engine._retry_delay(op, exc, attempts, started)
            except StepFailure as final:
                _fail_batch(engine, op, items, failed, final, out)
                return []
            time.sleep(delay)
    result: list[_Rec] = []
    for rec, value in zip(items, values, strict=True):
        engine._settle(op, rec, value, result)
    return result


def _fail_batch(
    engine: _Engine, op: StepOp, items: list[_Rec], failed: BatchFailed, final: Any, out: list[Any]
) -> None:
    """The failing message gets its own error; every other message of the batch an error
    of the same kind saying which message rolled the batch back."""
    culprit = items[failed.index].message.meta.message_id if failed.index is not None else None
    cause = f"{type(final.exc).__name__}: {final.exc}"
    for position, rec in enumerate(items):
        if position == failed.index:
            engine._fail(final, rec, out)
            continue
        why = (
            f"batch transaction rolled back: message {culprit} failed ({cause})"
            if culprit is not None
            else f"batch transaction failed to commit ({cause})"
        )
        engine._fail(
            StepFailure(final.kind, BatchRolledBack(why), final.attempts, op.name), rec, out
        )


def _bridged_each(engine: _Engine, op: StepOp, items: list[_Rec], out: list[Any]) -> list[_Rec]:
    """Bridged executions of ``items``, one transaction each, in as few ``async_to_sync``
    calls as retries allow (a retried message runs alone, then batching resumes)."""
    runtime, instance = engine._use_case_instance(op)
    policy = op.retry

    def retry_due(exc: Exception) -> bool:
        return (
            policy is not None and policy.max_attempts > 1 and retryable(policy, classify(exc), exc)
        )

    result: list[_Rec] = []
    pending = items
    while pending:
        started = time.monotonic()  # no message of this call was tried before it
        begun = time.perf_counter()
        outcomes = run_bridged_each(
            engine._use_cases,
            runtime,
            op.step,
            instance,
            [rec.message for rec in pending],
            retry_due,
        )
        succeeded = sum(1 for ok, _ in outcomes if ok)
        _observe(engine, op, time.perf_counter() - begun, succeeded, len(outcomes) - succeeded)
        for rec, (ok, value) in zip(pending, outcomes, strict=False):
            if ok:
                engine._settle(op, rec, value, result)
                continue
            try:
                time.sleep(engine._retry_delay(op, value, 1, started))
                value = engine._attempt(
                    op, lambda rec=rec: engine._invoke(op, rec), attempts=1, started=started
                )
            except StepFailure as failure:
                engine._fail(failure, rec, out)
                continue
            engine._settle(op, rec, value, result)
        pending = pending[len(outcomes) :]
    return result


def _observe(engine: _Engine, op: StepOp, seconds: float, ok: int, failed: int) -> None:
    """``loom_stream_usecase_seconds`` for executions run as a batch: the batch's time
    divided per message (as node durations are), when metrics are on."""
    timing = engine.metrics.timing
    if timing is None or not ok + failed:
        return
    label = getattr(op.step.use_case, "__name__", op.name)
    each = seconds / (ok + failed)
    if ok:
        timing.histogram(timing.usecase, (label, "success")).observe_n(each, ok)
    if failed:
        timing.histogram(timing.usecase, (label, "error")).observe_n(each, failed)
