"""RuntimeExecutor: runs a compiled plan through the fixed pipeline inside its transaction.

Pipeline: bind params → build command → loads → exists → computes → rules → execute,
wrapped in a unit of work for top-level writes (a savepoint when nested).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, TypeVar

from loom_django.core.command import with_fields_set
from loom_django.core.engine.coercion import CoercionFailed
from loom_django.core.engine.compiler import UseCaseCompiler
from loom_django.core.engine.driver import drive, ensure_no_running_loop
from loom_django.core.engine.events import EventKind, MetricsAdapter, RuntimeEvent, emit
from loom_django.core.engine.plan import NO_DEFAULT, ExecutionPlan, ExistsStep, LoadStep
from loom_django.core.errors import (
    DomainError,
    NotFound,
    ParameterBindingError,
    RuleViolation,
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
from loom_django.core.use_case.compute import ComputeSpec
from loom_django.core.use_case.markers import LookupKind, OnMissing, SourceKind

__all__ = ["Offloader", "RuntimeExecutor"]

T = TypeVar("T")
Offloader = Callable[[Callable[..., Any]], Callable[..., Awaitable[Any]]]
"""Turns the synchronous entry point into an awaitable run on another thread (one hop)."""

_log = logging.getLogger("loom_django.engine")
_DRIVEN: ContextVar[bool] = ContextVar("loom_driven_execution", default=False)


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
    ) -> None:
        self._compiler = compiler
        self._plans = compiler._plans
        self._uow_factory = uow_factory
        self._debug = debug_execution
        self._log = logger or _log
        self._metrics = metrics
        self._repo_resolver = repo_resolver
        self._offload = offload

    @property
    def compiler(self) -> UseCaseCompiler:
        """The compiler whose plans this executor runs."""
        return self._compiler

    async def execute(
        self,
        instance: Any,
        *,
        params: dict[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
        dependencies: dict[type[Any], Any] | None = None,
        load_overrides: dict[type[Any], Any] | None = None,
        read_only: bool = False,
    ) -> Any:
        """Run ``instance`` (a use case or job) and return what its ``execute`` returns.

        Raises:
            ValidationError: a parameter or the payload does not fit the declared types.
            NotFound: a ``Load``/``Exists`` with ``OnMissing.RAISE`` found nothing.
            RuleViolations: one or more rules failed; ``execute`` was not called.
        """
        if self._offload is not None and not _DRIVEN.get():
            runner = self._offload(self.execute_sync)
            return await runner(
                instance,
                params=params,
                payload=payload,
                dependencies=dependencies,
                load_overrides=load_overrides,
                read_only=read_only,
            )
        return await self._run(instance, params, payload, dependencies, load_overrides, read_only)

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
        if not _DRIVEN.get():
            ensure_no_running_loop(f"{type(instance).__qualname__}: execute_sync()")
        token = _DRIVEN.set(True)
        try:
            return drive(
                self._run(instance, params, payload, dependencies, load_overrides, read_only),
                type(instance).__qualname__,
            )
        finally:
            _DRIVEN.reset(token)

    def unit_of_work(self) -> AbstractContextManager[None]:
        """A transaction for work that is not an execution (job callbacks, scripts).

        Joins the active unit of work if there is one; otherwise opens, commits or rolls
        back its own (a no-op without a unit-of-work factory).
        """
        if get_active_uow() is not None or self._uow_factory is None:
            return nullcontext()
        return _OwnedUnitOfWork(self._uow_factory)

    async def _run(
        self,
        instance: Any,
        params: dict[str, Any] | None,
        payload: dict[str, Any] | None,
        dependencies: dict[type[Any], Any] | None,
        load_overrides: dict[type[Any], Any] | None,
        read_only: bool,
    ) -> Any:
        plan = self._plans.get(type(instance))
        if plan is None:
            plan = self._compiler.compile(type(instance))
        metrics = self._metrics
        verbose = self._log.isEnabledFor(logging.DEBUG)
        if verbose:
            self._log.debug("[EXEC] %s", plan.name)
        if metrics is not None:
            emit(metrics, RuntimeEvent(EventKind.EXEC_START, plan.name, trace_id=get_trace_id()))
        started = time.perf_counter()
        skip_tx = read_only or plan.read_only
        try:
            active = get_active_uow()
            if active is not None:
                if skip_tx:
                    result = await self._pipeline(
                        instance, plan, params, payload, dependencies, load_overrides
                    )
                else:
                    with active.savepoint():
                        result = await self._pipeline(
                            instance, plan, params, payload, dependencies, load_overrides
                        )
            elif self._uow_factory is not None and not skip_tx:
                with _OwnedUnitOfWork(self._uow_factory):
                    result = await self._pipeline(
                        instance, plan, params, payload, dependencies, load_overrides
                    )
            else:
                result = await self._pipeline(
                    instance, plan, params, payload, dependencies, load_overrides
                )
        except BaseException as exc:
            self._failed(plan, exc, started)
            raise
        if verbose or metrics is not None:
            duration = (time.perf_counter() - started) * 1000
            if verbose:
                self._log.debug("[DONE] %s %.3fms", plan.name, duration)
            if metrics is not None:
                emit(
                    metrics,
                    RuntimeEvent(
                        EventKind.EXEC_DONE,
                        plan.name,
                        duration_ms=duration,
                        status="success",
                        trace_id=get_trace_id(),
                    ),
                )
        return result

    def _failed(self, plan: ExecutionPlan, exc: BaseException, started: float) -> None:
        duration = (time.perf_counter() - started) * 1000
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

    async def _pipeline(
        self,
        instance: Any,
        plan: ExecutionPlan,
        params: dict[str, Any] | None,
        payload: dict[str, Any] | None,
        dependencies: dict[type[Any], Any] | None,
        load_overrides: dict[type[Any], Any] | None,
    ) -> Any:
        step = self._step_tracer(plan) if self._debug else None
        bound: dict[str, Any] = {}
        if plan.param_bindings:
            self._bind_params(plan, params or {}, bound)
        command: Any = None
        fields_set: frozenset[str] = frozenset()
        binding = plan.input_binding
        if binding is not None:
            if payload is None:
                raise ValidationError(
                    [("$", "payload is required")],
                    f"{plan.name}: payload is required for a UseCase with Input()",
                )
            command, fields_set = binding.command_type.from_payload(payload)
            bound[binding.name] = command
            if step:
                step("Bind Input")
        for load in plan.load_steps:
            bound[load.name] = await self._load(
                plan, load, bound, command, dependencies, load_overrides
            )
            if step:
                step(f"Load {load.entity_type.__name__}")
        for check in plan.exists_steps:
            bound[check.name] = await self._exists(check, bound, command, dependencies)
            if step:
                step(f"Exists {check.entity_type.__name__}")
        if plan.compute_steps:
            command = self._apply_computes(plan, command, fields_set, bound, step)
            assert binding is not None
            bound[binding.name] = command
        if plan.rule_steps:
            self._check_rules(plan, command, fields_set, bound, step)
        result = instance.execute(**bound)
        if plan.is_async:
            result = await result
        if step:
            step("Execute core logic")
        return result

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

    async def _load(
        self,
        plan: ExecutionPlan,
        load: LoadStep,
        bound: dict[str, Any],
        command: Any,
        dependencies: dict[type[Any], Any] | None,
        load_overrides: dict[type[Any], Any] | None,
    ) -> Any:
        entity = load.entity_type
        if load_overrides is not None and entity in load_overrides:
            return load_overrides[entity]
        repo = self._repository(entity, dependencies, "LoadById")
        if load.source_kind is SourceKind.PARAM:
            value = bound[load.source_name]
        else:
            value = getattr(command, load.source_name)
        if load.lookup_kind is LookupKind.BY_ID:
            found = await repo.get_by_id(value, profile=load.profile)
        else:
            getter = getattr(repo, "get_by", None)
            if getter is None:
                raise RuntimeError(f"Repository for {entity.__name__} does not support get_by()")
            found = await getter(load.against, value, profile=load.profile)
        if found is not None:
            return found
        if load.on_missing is OnMissing.RAISE:
            raise NotFound(entity.__name__, id=value)
        return None if load.on_missing is OnMissing.RETURN_NONE else False

    async def _exists(
        self,
        check: ExistsStep,
        bound: dict[str, Any],
        command: Any,
        dependencies: dict[type[Any], Any] | None,
    ) -> bool:
        entity = check.entity_type
        repo = self._repository(entity, dependencies, "Exists")
        exists_by = getattr(repo, "exists_by", None)
        if exists_by is None:
            raise RuntimeError(f"Repository for {entity.__name__} does not support exists_by()")
        if check.source_kind is SourceKind.PARAM:
            value = bound[check.source_name]
        else:
            value = getattr(command, check.source_name)
        found = bool(await exists_by(check.against, value))
        if not found and check.on_missing is OnMissing.RAISE:
            raise NotFound(entity.__name__, id=value)
        return found

    def _apply_computes(
        self,
        plan: ExecutionPlan,
        command: Any,
        fields_set: frozenset[str],
        bound: dict[str, Any],
        step: Callable[[str], None] | None,
    ) -> Any:
        computed: set[str] = set()
        for compute in plan.compute_steps:
            fn = compute.fn
            new = (
                fn(command, fields_set, bound)
                if compute.accepts_context
                else fn(command, fields_set)
            )
            if new is not command and isinstance(fn, ComputeSpec):
                computed.add(fn.target.leaf)
            command = new
            bound[plan.input_binding.name] = command  # type: ignore[union-attr]
            if step:
                step(f"Compute {getattr(fn, 'label', getattr(fn, '__name__', fn))}")
        return with_fields_set(command, fields_set | computed if computed else fields_set)

    def _check_rules(
        self,
        plan: ExecutionPlan,
        command: Any,
        fields_set: frozenset[str],
        bound: dict[str, Any],
        step: Callable[[str], None] | None,
    ) -> None:
        violations: list[RuleViolation] | None = None
        for rule in plan.rule_steps:
            fn = rule.fn
            try:
                outcome = (
                    fn(command, fields_set, bound)
                    if rule.accepts_context
                    else fn(command, fields_set)
                )
            except RuleViolation as violation:
                outcome = violation
            if isinstance(outcome, RuleViolation):
                if violations is None:
                    violations = []
                violations.append(outcome)
                self._log.debug("[RULE] %s failed: %s", getattr(fn, "label", fn), outcome)
            if step:
                step(f"Rule {getattr(fn, 'label', getattr(fn, '__name__', fn))}")
        if violations:
            raise RuleViolations(violations)

    def _step_tracer(self, plan: ExecutionPlan) -> Callable[[str], None]:
        last = [time.perf_counter()]

        def step(name: str) -> None:
            now = time.perf_counter()
            duration = (now - last[0]) * 1000
            last[0] = now
            self._log.info("[STEP] %s (%s)", name, plan.name)
            emit(
                self._metrics,
                RuntimeEvent(
                    EventKind.STEP_DONE,
                    plan.name,
                    step_name=name,
                    duration_ms=duration,
                    trace_id=get_trace_id(),
                ),
            )

        return step


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
