"""The engine's second layer: user steps and use-case steps over in-flight records, with
retries (bounded by ``max.poll.interval.ms / 2``), filtering and expansion."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from loom_django.streaming._encode import Emit
from loom_django.streaming._engine_errors import ErrorRouting
from loom_django.streaming._failures import StepFailure, classify, retryable
from loom_django.streaming._records import Rec, WorkerState, wrap
from loom_django.streaming._usecase_ops import run_use_case_batch
from loom_django.streaming.errors import ErrorKind
from loom_django.streaming.invoke import UseCaseRunner
from loom_django.streaming.messages import Message
from loom_django.streaming.plan import StepOp
from loom_django.streaming.tracker import Completion, GroupToken, complete_all

__all__ = ["StepRunner"]

_log = logging.getLogger("loom_django.streaming")


class StepRunner(ErrorRouting):
    """Runs record, batch, expand and use-case steps; failures go to :class:`ErrorRouting`."""

    _provider: Callable[[], Any] | None
    _local: WorkerState
    _use_cases: UseCaseRunner
    _retry_budget_s: float

    def _record_step(
        self, op: StepOp, items: list[Rec], out: list[Emit], deps: dict[str, Any]
    ) -> list[Rec]:
        if op.kind == "record" and op.retry is None:
            return self._plain_record_step(op, items, out, deps)
        if op.kind == "use_case":  # a batch transaction, or bridged calls batched
            batched = run_use_case_batch(self, op, items, out)
            if batched is not None:
                return batched
            if op.retry is None:
                return self._plain_use_case_step(op, items, out)
        result: list[Rec] = []
        for rec in items:
            try:
                value = self._attempt(op, partial(self._call, op, rec, deps))
            except StepFailure as failure:
                self._fail(failure, rec, out)
                continue
            self._settle(op, rec, value, result)
        return result

    def _plain_record_step(
        self, op: StepOp, items: list[Rec], out: list[Emit], deps: dict[str, Any]
    ) -> list[Rec]:
        """A record step without retries (see :meth:`_each_record`)."""
        execute = partial(op.step.execute, **deps) if deps else op.step.execute
        return self._each_record(op, items, out, lambda rec: execute(rec.message))

    def _plain_use_case_step(self, op: StepOp, items: list[Rec], out: list[Emit]) -> list[Rec]:
        """A use-case step without retries (see :meth:`_each_record`), the worker's instance
        looked up once per batch; through ``_invoke`` when metrics time each execution."""
        if "_invoke" in self.__dict__:
            return self._each_record(op, items, out, partial(self._invoke, op))
        runtime, instance = self._use_case_instance(op)
        step = op.step
        call = self._use_cases.inline_call(runtime, step, instance)
        if call is not None:
            return self._each_record(op, items, out, lambda rec: call(rec.message))
        run = self._use_cases.run
        return self._each_record(
            op, items, out, lambda rec: run(runtime, step, instance, rec.message)
        )

    def _each_record(
        self, op: StepOp, items: list[Rec], out: list[Emit], call: Callable[[Rec], Any]
    ) -> list[Rec]:
        """``call`` once per record, failures classified at once, filtered records completed
        together: the outcomes of ``_attempt`` + ``_settle`` without a retry policy."""
        result: list[Rec] = []
        append = result.append
        filtered: list[Completion] = []
        for rec in items:
            try:
                value = call(rec)
            except Exception as exc:
                self._fail(StepFailure(classify(exc), exc, 1, op.name), rec, out)
                continue
            if value is None:
                filtered.append(rec.token)
            elif type(value) is Message or isinstance(value, Message):
                append(Rec(value, rec.token))
            else:
                append(Rec(Message(payload=value, meta=rec.message.meta), rec.token))
        if filtered:
            with self.metrics.lock:
                self.metrics.filtered[op.name] += len(filtered)
            complete_all(filtered)
        return result

    def _settle(self, op: StepOp, rec: Rec, value: Any, result: list[Rec]) -> None:
        """Append what a step returned for ``rec`` to ``result`` (filtered or expanded)."""
        if op.kind == "expand":
            produced = [wrap(v, rec) for v in value]
            rec.token.fork(len(produced))
            result.extend(produced)
        elif value is None:
            with self.metrics.lock:
                self.metrics.filtered[op.name] += 1
            rec.token.done()
        else:
            result.append(wrap(value, rec))

    def _call(self, op: StepOp, rec: Rec, deps: dict[str, Any]) -> Any:
        if op.kind == "use_case":
            return self._invoke(op, rec)
        return op.step.execute(rec.message, **deps)

    def _invoke(self, op: StepOp, rec: Rec) -> Any:
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
        self, op: StepOp, batches: list[list[Rec]], out: list[Emit], deps: dict[str, Any]
    ) -> list[list[Rec]]:
        result: list[list[Rec]] = []
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
                    kept.append(wrap(value, rec))
            if kept:
                result.append(kept)
        return result

    def _batch_expand(self, op: StepOp, batches: list[list[Rec]], out: list[Emit]) -> list[Rec]:
        result: list[Rec] = []
        for batch in batches:
            messages = [r.message for r in batch]
            try:
                values = list(self._attempt(op, partial(op.step.execute, messages)))
            except StepFailure as failure:
                for rec in batch:
                    self._fail(failure, rec, out)
                continue
            group = GroupToken([rec.token for rec in batch], len(values))
            head = Rec(batch[0].message, group)
            result.extend(wrap(value, head) for value in values)
        return result


def _reset_connection(exc: BaseException) -> None:
    from django.db import InterfaceError, OperationalError, connection

    if isinstance(exc, OperationalError | InterfaceError):
        connection.close()
