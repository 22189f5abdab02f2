"""RuntimeExecutor: runs a compiled plan through the fixed pipeline inside its transaction.

Pipeline: bind params → build command → loads → exists → computes → rules → execute,
wrapped in a unit of work for top-level writes (a savepoint when nested).
"""

from __future__ import annotations

import copy
import logging
import time
from asyncio import _get_running_loop
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextlib import AbstractContextManager, nullcontext
from contextvars import Token
from types import TracebackType
from typing import Any, TypeVar

from loom_django.core.engine.coercion import CoercionFailed
from loom_django.core.engine.compiler import UseCaseCompiler
from loom_django.core.engine.driver import (
    drive,
    drive_suspended,
    ensure_no_running_loop,
    mark_coroutine_function,
    raise_loop_required,
)
from loom_django.core.engine.events import EventKind, MetricsAdapter, RuntimeEvent, emit
from loom_django.core.engine.plan import NO_DEFAULT, ExecutionPlan, LoadStep
from loom_django.core.engine.traced import run_traced
from loom_django.core.errors import (
    DomainError,
    ParameterBindingError,
    RuleViolations,
    ValidationError,
)
from loom_django.core.tracing import get_trace_id
from loom_django.core.uow import (
    UnitOfWork,
    UnitOfWorkFactory,
    activate_uow,
    deactivate_uow,
    get_active_uow,
)

__all__ = ["Offloader", "RuntimeExecutor"]

T = TypeVar("T")
Offloader = Callable[[Callable[..., Any]], Callable[..., Awaitable[Any]]]
"""Turns the synchronous entry point into an awaitable run on another thread (one hop)."""

_log = logging.getLogger("loom_django.engine")
_NO_TRANSACTION: AbstractContextManager[None] = nullcontext()
_DEBUG = logging.DEBUG


class RuntimeExecutor:
    """Executes use cases and jobs from their ExecutionPlan; no reflection per call.

    ``execute_sync`` serves synchronous callers (WSGI views, Celery, management commands)
    with no event loop at all; ``await execute`` serves async callers and, when an
    ``offload`` is configured (Django), hops to a worker thread once per execution.
    """

    def __init__(
        self,
        compiler: UseCaseCompiler,
        *,
        uow_factory: UnitOfWorkFactory | None = None,
        debug_execution: bool = False,
        logger: logging.Logger | None = None,
        metrics: MetricsAdapter | None = None,
        repo_resolver: Callable[[type[Any]], Any] | None = None,
        offload: Offloader | None = None,
        repo_cache: Mapping[type[Any], Any] | None = None,
    ) -> None:
        self._compiler = compiler
        self._plans = compiler._plans
        self._uow_factory = uow_factory
        self._caller_transaction: Callable[[], bool] = getattr(
            uow_factory, "caller_in_transaction", _never
        )
        self._debug = debug_execution
        self._log = logger or _log
        self._metrics = metrics
        self._repo_resolver = repo_resolver
        # Repositories the resolver already built (the container's live cache): pipelines
        # read it before calling the resolver.
        self._repo_cache: Mapping[type[Any], Any] = repo_cache if repo_cache is not None else {}
        self._offload = offload
        self._observed = metrics is not None or debug_execution
        # logging's per-level answers of isEnabledFor (emptied in place on any level change):
        # a quiet call reads DEBUG's answer there instead of calling isEnabledFor.
        levels = getattr(self._log, "_cache", None)
        self._levels: dict[int, bool] = levels if isinstance(levels, dict) else {}
        # Plans of classes this executor ran before whose calls may take the quiet path
        # (no metrics, no debug tracing, generated quiet pipelines); filled on first call.
        self._quiet: dict[type[Any], ExecutionPlan] = {}

    @property
    def compiler(self) -> UseCaseCompiler:
        """The compiler whose plans this executor runs."""
        return self._compiler

    @mark_coroutine_function
    def execute(
        self,
        instance: Any,
        *,
        params: dict[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
        dependencies: dict[type[Any], Any] | None = None,
        load_overrides: dict[type[Any], Any] | None = None,
        read_only: bool = False,
    ) -> Coroutine[Any, Any, Any]:
        """Run ``instance`` (a use case or job); await it for what its ``execute`` returns.

        Raises (when awaited):
            ValidationError: a parameter or the payload does not fit the declared types.
            NotFound: a ``Load``/``Exists`` with ``OnMissing.RAISE`` found nothing.
            RuleViolations: one or more rules failed; ``execute`` was not called.
        """
        # With no loop running on this thread we are being driven synchronously (a nested
        # call inside an execution): run inline. Under a real loop, hop to a thread once.
        if self._offload is not None and _get_running_loop() is not None:
            return self._offloaded(
                instance, params, payload, dependencies, load_overrides, read_only
            )
        plan = self._quiet.get(type(instance))
        try:
            loud = self._levels[_DEBUG]
        except KeyError:  # level changed since the last call: ask logging again
            loud = True
        if (
            plan is None
            or loud
            or (
                not (read_only or plan.read_only)
                and (self._uow_factory is not None or get_active_uow() is not None)
            )
        ):
            return self._execute(instance, params, payload, dependencies, load_overrides, read_only)
        # Unobserved and outside any transaction: the caller awaits the pipeline itself.
        return plan.quiet_async(self, instance, params, payload, dependencies, load_overrides)  # type: ignore[misc,no-any-return]

    async def _offloaded(
        self,
        instance: Any,
        params: dict[str, Any] | None,
        payload: dict[str, Any] | None,
        dependencies: dict[type[Any], Any] | None,
        load_overrides: dict[type[Any], Any] | None,
        read_only: bool,
    ) -> Any:
        runner = self._offload(self.execute_sync)  # type: ignore[misc]
        return await runner(
            instance,
            params=params,
            payload=payload,
            dependencies=dependencies,
            load_overrides=load_overrides,
            read_only=read_only,
        )

    async def _execute(
        self,
        instance: Any,
        params: dict[str, Any] | None,
        payload: dict[str, Any] | None,
        dependencies: dict[type[Any], Any] | None,
        load_overrides: dict[type[Any], Any] | None,
        read_only: bool,
    ) -> Any:
        """``execute`` with its events, logging and transaction (any call that is not quiet)."""
        plan = self._plans.get(type(instance)) or self._compiler.compile(type(instance))
        if not self._observed and plan.quiet_sync is not None:
            self._quiet[type(instance)] = plan
        started = 0.0
        if self._metrics is not None or self._log.isEnabledFor(logging.DEBUG):
            started = self._started(plan)
        scope = None
        if not (read_only or plan.read_only) and (
            self._uow_factory is not None or get_active_uow() is not None
        ):
            scope = self._scope(plan)
        pipeline = plan.pipeline
        if pipeline is None or self._debug:
            pipeline = run_traced
        try:
            if scope is None:
                result = await pipeline(
                    self, instance, params, payload, dependencies, load_overrides, plan
                )
            else:
                with scope:
                    result = await pipeline(
                        self, instance, params, payload, dependencies, load_overrides, plan
                    )
        except BaseException as exc:
            self._failed(plan, exc, started)
            raise
        if started:
            self._done(plan, started)
        return result

    def execute_sync(
        self,
        instance: Any,
        *,
        params: dict[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
        dependencies: dict[type[Any], Any] | None = None,
        load_overrides: dict[type[Any], Any] | None = None,
        read_only: bool = False,
    ) -> Any:
        """Synchronous twin of ``execute`` for code that has no event loop running."""
        if _get_running_loop() is not None:
            ensure_no_running_loop(instance)
        plan = self._quiet.get(type(instance))
        try:
            loud = self._levels[_DEBUG]
        except KeyError:  # level changed since the last call: ask logging again
            loud = True
        if (
            plan is None
            or loud
            or (
                not (read_only or plan.read_only)
                and (self._uow_factory is not None or get_active_uow() is not None)
            )
        ):
            return self._execute_sync(
                instance, params, payload, dependencies, load_overrides, read_only
            )
        # Unobserved and outside any transaction: the pipeline leaves its result in ``out``
        # and returns None, so iterating it finishes it without a StopIteration value.
        out: list[Any] = [None]
        try:
            coroutine = plan.quiet_sync(  # type: ignore[misc]
                self, instance, params, payload, dependencies, load_overrides, out
            )
            try:
                for yielded in coroutine.__await__():
                    drive_suspended(coroutine, yielded, plan.name)
                    break
            except RuntimeError as error:
                raise_loop_required(error, plan.name)
        except BaseException as exc:
            self._failed(plan, exc, 0.0)
            raise
        return out[0]

    def _execute_sync(
        self,
        instance: Any,
        params: dict[str, Any] | None,
        payload: dict[str, Any] | None,
        dependencies: dict[type[Any], Any] | None,
        load_overrides: dict[type[Any], Any] | None,
        read_only: bool,
    ) -> Any:
        """``execute_sync`` with its events, logging and transaction."""
        plan = self._plans.get(type(instance)) or self._compiler.compile(type(instance))
        if not self._observed and plan.quiet_sync is not None:
            self._quiet[type(instance)] = plan
        started = 0.0
        if self._metrics is not None or self._log.isEnabledFor(logging.DEBUG):
            started = self._started(plan)
        scope = None
        if not (read_only or plan.read_only) and (
            self._uow_factory is not None or get_active_uow() is not None
        ):
            scope = self._scope(plan)
        pipeline = plan.pipeline
        if pipeline is None or self._debug:
            pipeline = run_traced
        try:
            coroutine = pipeline(
                self, instance, params, payload, dependencies, load_overrides, plan
            )
            if scope is None:
                # The first send finishes every execution that awaits only loom calls.
                try:
                    yielded = coroutine.send(None)
                except StopIteration as stop:
                    result = stop.value
                except RuntimeError as error:
                    raise_loop_required(error, plan.name)
                else:
                    result = drive_suspended(coroutine, yielded, plan.name)
            else:
                with scope:
                    result = drive(coroutine, plan.name)
        except BaseException as exc:
            self._failed(plan, exc, started)
            raise
        if started:
            self._done(plan, started)
        return result

    def without_offload(self) -> RuntimeExecutor:
        """A twin that runs ``await execute(...)`` on the caller's event loop, no thread hop.

        For callers that own the thread the ORM work must run on and bridge to it themselves
        (the streaming door's ``bridged`` mode runs the coroutine under ``async_to_sync`` on
        its DB lane). Plans, metrics and the unit-of-work factory are shared.
        """
        twin = copy.copy(self)
        twin._offload = None
        return twin

    @property
    def observed(self) -> bool:
        """Whether every call must emit events (a metrics adapter or ``debug_execution``)."""
        return self._observed

    @property
    def metrics(self) -> MetricsAdapter | None:
        """The adapter runtime events go to (``None``: none configured)."""
        return self._metrics

    @property
    def logger(self) -> logging.Logger:
        """The engine's logger (``[EXEC]``, ``[STEP]`` and ``[RULE]`` lines)."""
        return self._log

    def drive(self, coroutine: Coroutine[Any, Any, T], name: str) -> T:
        """Run ``coroutine`` (e.g. an async job callback) on this thread without a loop.

        Engine calls it awaits (invocations, repositories) run inline, as in ``execute_sync``.
        """
        return drive(coroutine, name)

    def unit_of_work(self) -> AbstractContextManager[None]:
        """A transaction for work that is not an execution (job callbacks, scripts).

        Joins the active unit of work if there is one; otherwise opens, commits or rolls
        back its own (a no-op without a unit-of-work factory).
        """
        if get_active_uow() is not None or self._uow_factory is None:
            return _NO_TRANSACTION
        return _OwnedUnitOfWork(self._uow_factory)

    def _scope(self, plan: ExecutionPlan) -> AbstractContextManager[Any] | None:
        """The transaction of a writing execution: owned, a savepoint when nested, or none."""
        active = get_active_uow()
        if active is not None:
            return active.savepoint()
        if self._uow_factory is not None and (plan.transactional or self._caller_transaction()):
            # A single-statement plan inside the caller's own transaction still gets a
            # savepoint, so its failure cannot abort the caller's work.
            return _OwnedUnitOfWork(self._uow_factory)
        return None

    def _started(self, plan: ExecutionPlan) -> float:
        """Log and emit the start; return the start time, or 0.0 when nobody listens."""
        verbose = self._log.isEnabledFor(logging.DEBUG)
        if not verbose and self._metrics is None:
            return 0.0
        if verbose:
            self._log.debug("[EXEC] %s", plan.name)
        if self._metrics is not None:
            emit(
                self._metrics,
                RuntimeEvent(EventKind.EXEC_START, plan.name, trace_id=get_trace_id()),
            )
        return time.perf_counter()

    def _done(self, plan: ExecutionPlan, started: float) -> None:
        duration = (time.perf_counter() - started) * 1000
        self._log.debug("[DONE] %s %.3fms", plan.name, duration)
        if self._metrics is not None:
            emit(
                self._metrics,
                RuntimeEvent(
                    EventKind.EXEC_DONE,
                    plan.name,
                    duration_ms=duration,
                    status="success",
                    trace_id=get_trace_id(),
                ),
            )

    def _failed(self, plan: ExecutionPlan, exc: BaseException, started: float) -> None:
        duration = (time.perf_counter() - started) * 1000 if started else 0.0
        rule_failure = isinstance(exc, RuleViolations)
        if rule_failure or isinstance(exc, DomainError):
            self._log.warning("[FAIL] %s %.3fms: %s", plan.name, duration, exc)
        else:
            self._log.error(
                "[FAIL] %s %.3fms: %r",
                plan.name,
                duration,
                exc,
                exc_info=not isinstance(exc, Exception) or None,
            )
        if self._metrics is not None:
            emit(
                self._metrics,
                RuntimeEvent(
                    EventKind.EXEC_ERROR,
                    plan.name,
                    duration_ms=duration,
                    status="rule_failure" if rule_failure else "failure",
                    error=exc,
                    trace_id=get_trace_id(),
                ),
            )

    def _missing_payload(self, plan: ExecutionPlan) -> None:
        raise ValidationError(
            [("$", "payload is required")],
            f"{plan.name}: payload is required for a UseCase with Input()",
        )

    def _exists_by(self, repo: Any, entity: type[Any]) -> Any:
        exists_by = getattr(repo, "exists_by", None)
        if exists_by is None:
            raise RuntimeError(f"Repository for {entity.__name__} does not support exists_by()")
        return exists_by

    async def _get_by(self, repo: Any, load: LoadStep, value: Any) -> Any:
        getter = getattr(repo, "get_by", None)
        if getter is None:
            raise RuntimeError(
                f"Repository for {load.entity_type.__name__} does not support get_by()"
            )
        return await getter(load.against, value, profile=load.profile)

    def _bind_params(
        self, plan: ExecutionPlan, params: dict[str, Any], bound: dict[str, Any]
    ) -> None:
        problems: list[tuple[str, str]] = []
        for binding in plan.param_bindings:
            name = binding.name
            if name in params:
                value = params[name]
                if binding.coerce is not None:
                    try:
                        value = binding.coerce(value)
                    except CoercionFailed:
                        expected = getattr(binding.annotation, "__name__", binding.annotation)
                        problems.append(
                            (
                                name,
                                (
                                    f"{plan.name}: invalid value for parameter '{name}': expected "
                                    f"{expected}, got {type(value).__name__} ({value!r})"
                                ),
                            )
                        )
                        continue
                bound[name] = value
            elif binding.default is not NO_DEFAULT:
                bound[name] = binding.default
            else:
                problems.append((name, f"{plan.name}: missing required parameter '{name}'"))
        if len(problems) == 1 and "invalid value" in problems[0][1]:
            raise ParameterBindingError(problems[0][1], param=problems[0][0])
        if problems:
            raise ValidationError(problems, "; ".join(message for _, message in problems))

    def _repository(
        self, entity: type[Any], dependencies: dict[type[Any], Any] | None, label: str
    ) -> Any:
        if dependencies is not None:
            repo = dependencies.get(entity)
            if repo is not None:
                return repo
        if self._repo_resolver is None:
            if dependencies is None:
                raise RuntimeError(f"No dependencies provided for {label}({entity.__name__})")
            raise RuntimeError(f"No repository registered for entity type '{entity.__name__}'")
        repo = self._repo_resolver(entity)
        if repo is None:
            raise RuntimeError(f"No repository registered for entity type '{entity.__name__}'")
        return repo


def _never() -> bool:
    return False


class _OwnedUnitOfWork:
    """Begin a unit of work, make it active, and commit or roll it back on exit.

    The unit of work stops being active before it commits, so work deferred to after the
    commit (job dispatches, callbacks) runs outside it and may open transactions of its own.
    """

    __slots__ = ("_token", "_uow")

    def __init__(self, factory: UnitOfWorkFactory) -> None:
        self._uow: UnitOfWork = factory.create()
        self._token: Token[UnitOfWork | None] | None = None

    def __enter__(self) -> None:
        self._uow.begin()
        self._token = activate_uow(self._uow)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        uow = self._uow
        assert self._token is not None
        deactivate_uow(self._token)
        try:
            if exc_type is None:
                uow.commit()
            else:
                uow.rollback()
        finally:
            uow.close()
