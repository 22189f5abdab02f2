"""How a use-case step runs its use case on the current DB lane (spec §7.3): ``inline``
(the coroutine driven on this thread, no event loop), ``bridged`` (``async_to_sync`` with every
ORM call back on this thread) or ``auto``; and, with ``idempotency``, inside one transaction
with its inbox record (spec §5.8)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from typing import Any

import msgspec

from loom_django.core.engine.driver import EventLoopRequired
from loom_django.core.uow import (
    DeferredCallbacks,
    activate_uow,
    deactivate_uow,
    get_active_uow,
)
from loom_django.streaming._bridge_loops import BridgeLoops
from loom_django.streaming.errors import InlineSuspensionError
from loom_django.streaming.messages import Message
from loom_django.streaming.usecase import UseCaseStep

__all__ = ["LaneUnitOfWork", "UseCaseRunner", "command_payload", "run_inline"]

_log = logging.getLogger("loom_django.streaming")


class UseCaseRunner:
    """Runs use-case steps for one flow; remembers which use cases ``auto`` runs bridged."""

    def __init__(self, flow: str) -> None:
        self.flow = flow
        self._bridged: set[type[Any]] = set()
        self._lock = threading.Lock()
        self._loopless: tuple[Any, Any] = (None, None)  # (executor, its loop-bound twin)
        self.loops = BridgeLoops(f"loom-bridge-{flow}")
        """The persistent loops bridged executions run on (one per lane thread)."""

    def close(self) -> None:
        """Stop the persistent loops of bridged executions (the flow stopped)."""
        self.loops.close()

    def run(self, runtime: Any, step: Any, instance: Any, message: Message[Any]) -> Any:
        """What ``step`` emits for ``message`` (``None``: nothing), its writes committed.

        Raises:
            InlineSuspensionError: ``mode="inline"`` and the use case needed an event loop.
            Exception: whatever the use case raised (its transaction rolled back).
        """
        params, payload = command_payload(step, message)
        key = step.idempotency_key(message)
        if key is None:
            value = self._execute(runtime, step, instance, params, payload)
            return step.result(value, message)
        return self._once(runtime, step, instance, message, key, params, payload)

    def inline_call(
        self, runtime: Any, step: Any, instance: Any
    ) -> Callable[[Message[Any]], Any] | None:
        """``run`` of ``step`` as one call per message for the common case: an inline
        execution (``mode="inline"``, or ``"auto"`` while its use case has not needed an
        event loop) without an idempotency key; ``None`` otherwise (``run`` handles those).
        """
        if step.mode == "bridged" or self.runs_bridged(step) or step.idempotency is not None:
            return None
        if type(step).idempotency_key is not UseCaseStep.idempotency_key:
            return None
        execute = runtime.executor.execute_sync
        params_of, command_of, result_of = step.params, step.command, step.result
        auto = step.mode == "auto"
        use_case = type(instance)
        bridged = self._bridged
        to_builtins = msgspec.to_builtins

        def call(message: Message[Any]) -> Any:
            if auto and use_case in bridged:  # an earlier message of the batch needed a loop
                return self.run(runtime, step, instance, message)
            params = params_of(message) or None
            command = command_of(message)
            payload = (
                command if isinstance(command, dict) or command is None else to_builtins(command)
            )
            try:
                value = execute(instance, params=params, payload=payload)
            except EventLoopRequired as exc:
                if not auto:
                    raise InlineSuspensionError(_cannot_run_inline(use_case)) from exc
                self.mark_bridged(use_case)
                value = self._bridged_run(runtime, instance, params, payload)
            return result_of(value, message)

        return call

    def _once(
        self,
        runtime: Any,
        step: Any,
        instance: Any,
        message: Message[Any],
        key: str,
        params: dict[str, Any] | None,
        payload: Any,
    ) -> Any:
        from django.db import IntegrityError

        import loom_django.streaming.inbox as inbox

        executor = runtime.executor
        using = getattr(getattr(executor, "_uow_factory", None), "using", "default")
        try:
            with executor.unit_of_work():
                stored = inbox.find(self.flow, key, using)
                if stored is not None:
                    return stored.result
                value = self._execute(runtime, step, instance, params, payload)
                result = step.result(value, message)
                inbox.record(self.flow, key, result, using)
                return result
        except IntegrityError:
            stored = inbox.find(self.flow, key, using)  # recorded by a concurrent redelivery
            if stored is None:
                raise
            return stored.result

    def _execute(
        self,
        runtime: Any,
        step: Any,
        instance: Any,
        params: dict[str, Any] | None,
        payload: Any,
    ) -> Any:
        mode = step.mode
        if mode == "bridged":
            return self._bridged_run(runtime, instance, params, payload)
        if mode == "inline":
            return run_inline(runtime, instance, params, payload)
        use_case = type(instance)
        if use_case in self._bridged:
            return self._bridged_run(runtime, instance, params, payload)
        try:
            return run_inline(runtime, instance, params, payload)
        except InlineSuspensionError:
            self.mark_bridged(use_case)
            return self._bridged_run(runtime, instance, params, payload)

    def runs_bridged(self, step: Any) -> bool:
        """Whether ``step`` runs bridged now: ``mode="bridged"``, or ``"auto"`` once its use
        case needed an event loop."""
        mode = step.mode
        return mode == "bridged" or (mode == "auto" and step.use_case in self._bridged)

    def mark_bridged(self, use_case: type[Any]) -> None:
        """Run ``use_case`` bridged from now on in ``auto`` mode (logged once, at INFO)."""
        with self._lock:
            first = use_case not in self._bridged
            self._bridged.add(use_case)
        if first:
            _log.info(
                "stream %s: use case %s needs an event loop; running it bridged from now on",
                self.flow,
                use_case.__qualname__,
            )

    def loopless(self, executor: Any) -> Any:
        """``executor`` without its thread offload, for coroutines run under ``async_to_sync``
        on this lane (their ORM calls come back here)."""
        owner, loopless = self._loopless
        if owner is not executor:
            loopless = executor.without_offload()
            self._loopless = (executor, loopless)
        return loopless

    def _bridged_run(
        self, runtime: Any, instance: Any, params: dict[str, Any] | None, payload: Any
    ) -> Any:
        """``async_to_sync`` on this thread: the coroutine runs on this lane's persistent
        loop while thread-sensitive ORM calls come back here, inside the transaction opened
        here."""
        executor = runtime.executor
        loopless = self.loopless(executor)
        with executor.unit_of_work():
            owner = get_active_uow()
            lane_uow = None if owner is None else LaneUnitOfWork(owner)
            token = activate_uow(lane_uow) if lane_uow is not None else None
            try:
                result = self.loops.call(
                    loopless.execute, instance, params=params, payload=payload, read_only=True
                )
            finally:
                if token is not None:
                    deactivate_uow(token)
            if lane_uow is not None:
                lane_uow.deferred.run()  # on this thread, inside the transaction
            return result


class LaneUnitOfWork:
    """The unit of work a bridged execution sees: work deferred to after the commit
    (``run_after_commit``: job dispatches) is collected wherever it is registered (the
    use case runs on the loop's thread, where the ORM is refused) and handed to the real
    unit of work on the lane thread once the execution succeeded."""

    def __init__(self, owner: Any) -> None:
        self.owner = owner
        self.deferred = DeferredCallbacks()

    def on_commit(self, fn: Callable[[], None]) -> None:
        owner = self.owner
        self.deferred.add(lambda: owner.on_commit(fn))

    def savepoint(self) -> AbstractContextManager[None]:
        stack = ExitStack()
        stack.enter_context(self.owner.savepoint())
        stack.enter_context(self.deferred.savepoint())
        return stack  # type: ignore[return-value]

    def __getattr__(self, name: str) -> Any:  # begin/commit/join/touch/using: the owner's
        return getattr(self.owner, name)


def run_inline(
    runtime: Any,
    instance: Any,
    params: dict[str, Any] | None,
    payload: Any,
    *,
    read_only: bool = False,
) -> Any:
    """Drive ``instance``'s execution on this thread with no event loop (``mode="inline"``);
    ``read_only`` skips its own transaction (the caller holds one).

    Raises:
        InlineSuspensionError: the execution needed an event loop.
    """
    try:
        return runtime.executor.execute_sync(
            instance, params=params, payload=payload, read_only=read_only
        )
    except EventLoopRequired as exc:
        raise InlineSuspensionError(_cannot_run_inline(type(instance))) from exc


def _cannot_run_inline(use_case: type[Any]) -> str:
    return f"use case {use_case.__qualname__} cannot run inline; use mode='bridged'"


def command_payload(step: Any, message: Message[Any]) -> tuple[dict[str, Any] | None, Any]:
    """``(params, payload)`` of ``step``'s execution for ``message``: the command as a dict
    (or ``None``), never a struct."""
    params = step.params(message) or None
    command = step.command(message)
    payload = (
        command if isinstance(command, dict) or command is None else msgspec.to_builtins(command)
    )
    return params, payload
