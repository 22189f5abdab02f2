"""A use-case step over a whole batch on one DB lane (spec §2.7, §7.3, §9.2 W4):
``transaction="batch"`` (every execution of the batch in one transaction, all or nothing) and
bridged executions batched into one ``async_to_sync`` call (one transaction per message, the
event loop started once per batch instead of once per message)."""

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
    from asgiref.sync import async_to_sync

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

    values = async_to_sync(all_of)()
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
    ``async_to_sync`` call, each in its own transaction (its BEGIN and COMMIT, and any
    inbox work, on this lane).

    Stops after the first failure ``stop`` accepts (a retry is due: the caller retries that
    message before the next one runs, keeping order), so the list may be shorter.
    """
    from asgiref.sync import async_to_sync, sync_to_async

    executor = runtime.executor
    loopless = runner.loopless(executor)
    factory = getattr(executor, "_uow_factory", None)
    lane = _Lane(runner, step, factory, _using(executor))
    begin = sync_to_async(lane.begin, thread_sensitive=True)
    finish = sync_to_async(lane.finish, thread_sensitive=True)
    abort = sync_to_async(lane.abort, thread_sensitive=True)

    async def each() -> list[Outcome]:
        outcomes: list[Outcome] = []
        for message in messages:
            try:
                params, payload = command_payload(step, message)
                key = step.idempotency_key(message)
                uow, stored = await begin(key)
            except Exception as exc:
                outcomes.append((False, exc))
                if stop(exc):
                    break
                continue
            if stored is not None:
                outcomes.append((True, stored.result))
                continue
            lane_uow = None if uow is None else LaneUnitOfWork(uow)
            token = activate_uow(lane_uow) if lane_uow is not None else None
            try:
                value = await loopless.execute(
                    instance, params=params, payload=payload, read_only=True
                )
            except Exception as exc:
                if token is not None:
                    deactivate_uow(token)
                await abort(uow)
                outcomes.append((False, exc))
                if stop(exc):
                    break
                continue
            if token is not None:
                deactivate_uow(token)
            try:
                outcomes.append((True, await finish(uow, lane_uow, value, message, key)))
            except Exception as exc:
                outcomes.append((False, exc))
                if stop(exc):
                    break
        return outcomes

    return async_to_sync(each)()


class _Lane:
    """The parts of one bridged execution that run on the lane thread: BEGIN (and the
    inbox lookup), then the result, the inbox record, after-commit work and COMMIT."""

    def __init__(self, runner: UseCaseRunner, step: Any, factory: Any, using: str) -> None:
        self.runner = runner
        self.step = step
        self.factory = factory
        self.using = using

    def begin(self, key: str | None) -> tuple[Any, Any]:
        """``(unit of work, stored inbox row or None)``; no transaction is left open when a
        stored row is found."""
        import loom_django.streaming.inbox as inbox

        uow = None
        if self.factory is not None:
            uow = self.factory.create()
            uow.begin()
        if key is None:
            return uow, None
        try:
            stored = inbox.find(self.runner.flow, key, self.using)
        except BaseException:
            self.abort(uow)
            raise
        if stored is not None:
            self.abort(uow)
        return uow, stored

    def finish(
        self,
        uow: Any,
        lane_uow: LaneUnitOfWork | None,
        value: Any,
        message: Message[Any],
        key: str | None,
    ) -> Any:
        """What the step emits for ``value``, committed with the inbox record (a concurrent
        redelivery that recorded ``key`` first wins: its stored result is emitted)."""
        from django.db import IntegrityError

        import loom_django.streaming.inbox as inbox

        try:
            result = self.step.result(value, message)
            if key is not None:
                inbox.record(self.runner.flow, key, result, self.using)
            if lane_uow is not None:
                lane_uow.deferred.run()
        except IntegrityError:
            self.abort(uow)
            stored = inbox.find(self.runner.flow, key, self.using) if key is not None else None
            if stored is None:
                raise
            return stored.result
        except BaseException:
            self.abort(uow)
            raise
        if uow is not None:
            try:
                uow.commit()
            finally:
                uow.close()
        return result

    def abort(self, uow: Any) -> None:
        """Roll ``uow`` back (no-op for ``None``)."""
        if uow is not None:
            uow.rollback()
            uow.close()
