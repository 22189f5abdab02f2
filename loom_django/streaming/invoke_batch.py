"""A use-case step over a whole batch on one DB lane (spec §2.7, §7.3, §9.2 W4):
``transaction="batch"`` (every execution of the batch in one transaction, all or nothing) and
bridged executions batched into one ``async_to_sync`` call (one transaction per message, one
trip to the lane's event loop per batch instead of one per message)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from loom_django.core.uow import activate_uow, deactivate_uow, get_active_uow
from loom_django.streaming.errors import InlineSuspensionError
from loom_django.streaming.invoke import (
    LaneUnitOfWork,
    UseCaseRunner,
    command_payload,
    run_inline,
)
from loom_django.streaming.messages import Message

__all__ = ["BatchFailed", "Outcome", "run_bridged_each", "run_in_one_transaction"]

Outcome = tuple[bool, Any]
"""``(True, what the step emits)`` or ``(False, the exception)`` for one message."""


class BatchFailed(Exception):
    """A ``transaction="batch"`` batch failed and rolled back as a whole.

    ``index`` is the position of the message whose execution failed, ``None`` when the
    transaction itself failed (its COMMIT); ``exc`` is what was raised.
    """

    def __init__(self, index: int | None, exc: BaseException) -> None:
        super().__init__(str(exc) or type(exc).__name__)
        self.index = index
        self.exc = exc


def _using(executor: Any) -> str:
    return getattr(getattr(executor, "_uow_factory", None), "using", "default")


def run_in_one_transaction(
    runner: UseCaseRunner,
    runtime: Any,
    step: Any,
    instance: Any,
    messages: Sequence[Message[Any]],
) -> list[Any]:
    """What ``step`` emits for each of ``messages``, every execution (and, with idempotency,
    every inbox record) committed together in one transaction.

    In ``auto`` mode the batch runs inline until its use case needs an event loop; that
    attempt is rolled back and the batch runs again bridged.

    Raises:
        BatchFailed: an execution, a result mapping or the commit failed; nothing of the
            batch was written.
    """
    bridged = runner.runs_bridged(step)
    try:
        return _one_transaction(runner, runtime, step, instance, messages, bridged)
    except BatchFailed as failed:
        if bridged or step.mode != "auto" or not isinstance(failed.exc, InlineSuspensionError):
            raise
        runner.mark_bridged(type(instance))
        return _one_transaction(runner, runtime, step, instance, messages, True)


def _one_transaction(
    runner: UseCaseRunner,
    runtime: Any,
    step: Any,
    instance: Any,
    messages: Sequence[Message[Any]],
    bridged: bool,
) -> list[Any]:
    import loom_django.streaming.inbox as inbox

    executor = runtime.executor
    using = _using(executor)
    at: list[int | None] = [None]  # the message being worked on, for the failure
    results: list[Any] = [None] * len(messages)
    try:
        with executor.unit_of_work():
            keys = [step.idempotency_key(m) for m in messages]
            first: dict[str, int] = {}  # a key seen earlier in this batch re-emits its result
            calls: list[tuple[int, dict[str, Any] | None, Any]] = []
            for i, (message, key) in enumerate(zip(messages, keys, strict=True)):
                at[0] = i
                if key is not None:
                    if key in first:
                        continue
                    first[key] = i
                    stored = inbox.find(runner.flow, key, using)
                    if stored is not None:
                        results[i] = stored.result
                        keys[i] = None  # nothing to record
                        continue
                calls.append((i, *command_payload(step, message)))
            if bridged:
                values = _bridged_all(runner, executor, instance, calls, at)
            else:
                values = []
                for i, params, payload in calls:
                    at[0] = i
                    values.append(run_inline(runtime, instance, params, payload, read_only=True))
            for (i, _, _), value in zip(calls, values, strict=True):
                at[0] = i
                results[i] = step.result(value, messages[i])
                if keys[i] is not None:
                    inbox.record(runner.flow, keys[i], results[i], using)
            for i, key in enumerate(keys):
                if key is not None and first.get(key, i) != i:
                    results[i] = results[first[key]]
            at[0] = None  # what fails from here is the COMMIT
    except Exception as exc:
        raise BatchFailed(at[0], exc) from exc
    return results


def _bridged_all(
    runner: UseCaseRunner,
    executor: Any,
    instance: Any,
    calls: list[tuple[int, dict[str, Any] | None, Any]],
    at: list[int | None],
) -> list[Any]:
    """Every execution of ``calls`` in one ``async_to_sync`` call, inside the transaction
    this lane holds (each execution joins it: no savepoint, the batch fails as a whole)."""
    loopless = runner.loopless(executor)
    owner = get_active_uow()
    lane_uow = None if owner is None else LaneUnitOfWork(owner)

    async def all_of() -> list[Any]:
        token = activate_uow(lane_uow) if lane_uow is not None else None
        try:
            values = []
            for i, params, payload in calls:
                at[0] = i
                values.append(
                    await loopless.execute(instance, params=params, payload=payload, read_only=True)
                )
            return values
        finally:
            if token is not None:
                deactivate_uow(token)

    values = runner.loops.call(all_of)
    if lane_uow is not None:
        lane_uow.deferred.run()  # on this thread, inside the transaction
    return values


def run_bridged_each(
    runner: UseCaseRunner,
    runtime: Any,
    step: Any,
    instance: Any,
    messages: Sequence[Message[Any]],
    stop: Callable[[Exception], bool],
) -> list[Outcome]:
    """One outcome per message, in order, from executions run bridged in one
    ``async_to_sync`` call, each in its own transaction.

    The transaction work runs on this lane with one thread hop per message: the COMMIT of
    one message (with its result and inbox record) and the BEGIN of the next (with its inbox
    lookup) share a hop; the first BEGIN and the last COMMIT run here, outside the loop.
    Stops after the first failure ``stop`` accepts (a retry is due: the caller retries that
    message before the next one runs, keeping order), so the list may be shorter.
    """
    from asgiref.sync import sync_to_async

    executor = runtime.executor
    loopless = runner.loopless(executor)
    lane = _Lane(runner, step, getattr(executor, "_uow_factory", None), _using(executor))
    calls: list[tuple[dict[str, Any] | None, Any, str | None] | Exception] = []
    for message in messages:
        try:
            calls.append((*command_payload(step, message), step.idempotency_key(message)))
        except Exception as exc:
            calls.append(exc)
    outcomes: list[Outcome] = []
    transition = sync_to_async(lane.transition, thread_sensitive=True)
    state: dict[str, Any] = {"opened": lane.open(calls[0]) if calls else None, "pending": None}

    async def each() -> None:
        for i, message in enumerate(messages):
            opened, state["opened"] = state["opened"], None
            pending = None
            if isinstance(opened, Exception):
                outcomes.append((False, opened))
                if stop(opened):
                    return
            elif opened[1] is not None:  # stored in the inbox: nothing to run
                outcomes.append((True, opened[1].result))
            else:
                state["running"] = opened[0]
                pending = await _run_one(loopless, instance, calls[i], opened[0], message)
                state["running"] = None
                if not pending.ok and stop(pending.value):
                    state["pending"] = pending
                    return
            if i + 1 == len(messages):
                state["pending"] = pending
                return
            outcome, state["opened"] = await transition(pending, calls[i + 1])
            if outcome is not None:
                outcomes.append(outcome)
                if not outcome[0] and stop(outcome[1]):
                    return

    try:
        runner.loops.call(each)
    finally:
        pending, opened = state["pending"], state["opened"]
        if state.get("running") is not None:  # the execution was interrupted (BaseException)
            lane.abort(state["running"])
        if pending is not None:
            outcomes.append(lane.close(pending))
        if opened is not None and not isinstance(opened, Exception):
            lane.abort(opened[0])
    return outcomes


class _Pending:
    """An execution done on the loop whose transaction is still open on the lane."""

    __slots__ = ("key", "lane_uow", "message", "ok", "uow", "value")

    def __init__(
        self,
        uow: Any,
        lane_uow: LaneUnitOfWork | None,
        ok: bool,
        value: Any,
        message: Message[Any],
        key: str | None,
    ) -> None:
        self.uow = uow
        self.lane_uow = lane_uow
        self.ok = ok
        self.value = value
        self.message = message
        self.key = key


async def _run_one(
    loopless: Any, instance: Any, call: Any, uow: Any, message: Message[Any]
) -> _Pending:
    params, payload, key = call
    lane_uow = None if uow is None else LaneUnitOfWork(uow)
    token = activate_uow(lane_uow) if lane_uow is not None else None
    try:
        value = await loopless.execute(instance, params=params, payload=payload, read_only=True)
    except Exception as exc:
        return _Pending(uow, lane_uow, False, exc, message, key)
    finally:
        if token is not None:
            deactivate_uow(token)
    return _Pending(uow, lane_uow, True, value, message, key)


class _Lane:
    """The transaction work of bridged executions, run on the lane thread: BEGIN (and the
    inbox lookup); the result, the inbox record, after-commit work and COMMIT (or the
    ROLLBACK of a failed execution)."""

    def __init__(self, runner: UseCaseRunner, step: Any, factory: Any, using: str) -> None:
        self.runner = runner
        self.step = step
        self.factory = factory
        self.using = using

    def transition(self, pending: _Pending | None, call: Any) -> tuple[Outcome | None, Any]:
        """Close ``pending`` and open the next message's transaction, in one hop: ``(its
        outcome or None, what :meth:`open` returned)``."""
        outcome = None if pending is None else self.close(pending)
        return outcome, self.open(call)

    def open(self, call: Any) -> tuple[Any, Any] | Exception:
        """``(unit of work, stored inbox row or None)`` for ``call`` (``(params, payload,
        key)``), or the exception that prevents running it. No transaction is left open
        when a stored row is found or on failure."""
        import loom_django.streaming.inbox as inbox

        if isinstance(call, Exception):
            return call
        key = call[2]
        uow = None
        try:
            if self.factory is not None:
                uow = self.factory.create()
                uow.begin()
            stored = None if key is None else inbox.find(self.runner.flow, key, self.using)
        except Exception as exc:
            self.abort(uow)
            return exc
        if stored is not None:
            self.abort(uow)
            return None, stored
        return uow, None

    def close(self, pending: _Pending) -> Outcome:
        """COMMIT ``pending`` with its result and inbox record (a concurrent redelivery that
        recorded the key first wins: its stored result is emitted), or roll back a failed
        execution."""
        from django.db import IntegrityError

        import loom_django.streaming.inbox as inbox

        uow, key = pending.uow, pending.key
        if not pending.ok:
            self.abort(uow)
            return False, pending.value
        try:
            result = self.step.result(pending.value, pending.message)
            if key is not None:
                inbox.record(self.runner.flow, key, result, self.using)
            if pending.lane_uow is not None:
                pending.lane_uow.deferred.run()
        except IntegrityError as exc:
            self.abort(uow)
            try:
                stored = inbox.find(self.runner.flow, key, self.using) if key else None
            except Exception as again:
                return False, again
            return (True, stored.result) if stored is not None else (False, exc)
        except Exception as exc:
            self.abort(uow)
            return False, exc
        if uow is not None:
            try:
                uow.commit()
            except Exception as exc:
                return False, exc
            finally:
                uow.close()
        return True, result

    def abort(self, uow: Any) -> None:
        """Roll ``uow`` back (no-op for ``None``)."""
        if uow is not None:
            uow.rollback()
            uow.close()
