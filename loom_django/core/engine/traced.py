"""The interpreted, step-traced pipeline used when ``debug_execution`` is on."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from loom_django.core.command import with_fields_set
from loom_django.core.engine.codegen import input_decoder
from loom_django.core.engine.events import EventKind, RuntimeEvent, emit
from loom_django.core.engine.plan import ExecutionPlan, PipelineHost
from loom_django.core.errors import NotFound, RuleViolation, RuleViolations
from loom_django.core.tracing import get_trace_id
from loom_django.core.use_case.compute import ComputeSpec
from loom_django.core.use_case.markers import LookupKind, OnMissing, SourceKind

__all__ = ["run_traced"]


async def run_traced(
    executor: PipelineHost,
    instance: Any,
    params: dict[str, Any] | None,
    payload: dict[str, Any] | None,
    dependencies: dict[type[Any], Any] | None,
    load_overrides: dict[type[Any], Any] | None,
    plan: ExecutionPlan,
) -> Any:
    """The interpreted pipeline: same semantics as the generated one, one step at a time.

    Used with ``debug_execution=True``: logs ``[STEP]`` lines and emits ``STEP_DONE``.
    Its arguments are a generated pipeline's, with the plan passed last.
    """
    step = _step_tracer(executor, plan)
    bound: dict[str, Any] = {}
    if plan.bind_params is not None and not plan.bind_params(params or {}, bound):
        executor._bind_params(plan, params or {}, bound)
    command: Any = None
    fields_set: frozenset[str] = frozenset()
    binding = plan.input_binding
    if binding is not None:
        if payload is None:
            executor._missing_payload(plan)
        command, fields_set = input_decoder(plan)(payload)
        bound[binding.name] = command
        step("Bind Input")
    # Loads and exists checks are inlined: they are on every request's path.
    for load in plan.load_steps:
        entity = load.entity_type
        if load_overrides is not None and entity in load_overrides:
            bound[load.name] = load_overrides[entity]
            continue
        repo = dependencies.get(entity) if dependencies is not None else None
        if repo is None:
            repo = executor._repository(entity, dependencies, "LoadById")
        if load.source_kind is SourceKind.PARAM:
            value = bound[load.source_name]
        else:
            value = getattr(command, load.source_name)
        if load.lookup_kind is LookupKind.BY_ID:
            found = await repo.get_by_id(value, profile=load.profile)
        else:
            found = await executor._get_by(repo, load, value)
        if found is None:
            found = _missing(load.on_missing, entity, value)
        bound[load.name] = found
        step(f"Load {entity.__name__}")
    for check in plan.exists_steps:
        entity = check.entity_type
        repo = dependencies.get(entity) if dependencies is not None else None
        if repo is None:
            repo = executor._repository(entity, dependencies, "Exists")
        if check.source_kind is SourceKind.PARAM:
            value = bound[check.source_name]
        else:
            value = getattr(command, check.source_name)
        exists_by = getattr(repo, "exists_by", None)
        if exists_by is None:
            raise RuntimeError(f"Repository for {entity.__name__} does not support exists_by()")
        found = bool(await exists_by(check.against, value))
        if not found and check.on_missing is OnMissing.RAISE:
            raise NotFound(entity.__name__, id=value)
        bound[check.name] = found
        step(f"Exists {entity.__name__}")
    if plan.compute_fns:
        command = _apply_computes(executor, plan, command, fields_set, bound, step)
    if plan.rule_fns:
        _check_rules(executor, plan, command, fields_set, bound, step)
    result = instance.execute(**bound)
    if plan.is_async:
        result = await result
    step("Execute core logic")
    return result


def _apply_computes(
    executor: PipelineHost,
    plan: ExecutionPlan,
    command: Any,
    fields_set: frozenset[str],
    bound: dict[str, Any],
    step: Callable[[str], None],
) -> Any:
    original = command
    computed: set[str] | None = None
    assert plan.input_binding is not None
    name = plan.input_binding.name
    for fn in plan.compute_fns:
        new = fn(command, fields_set, bound)
        if new is not command:
            if isinstance(fn, ComputeSpec):
                computed = computed or set()
                computed.add(fn.target.leaf)
            command = new
            bound[name] = command
        step(f"Compute {getattr(fn, 'label', getattr(fn, '__name__', fn))}")
    if computed:
        return with_fields_set(command, fields_set | computed)
    if command is not original:
        return with_fields_set(command, fields_set)
    return command


def _check_rules(
    executor: PipelineHost,
    plan: ExecutionPlan,
    command: Any,
    fields_set: frozenset[str],
    bound: dict[str, Any],
    step: Callable[[str], None],
) -> None:
    violations: list[RuleViolation] | None = None
    for fn in plan.rule_fns:
        try:
            outcome = fn(command, fields_set, bound)
        except RuleViolation as violation:
            outcome = violation
        if isinstance(outcome, RuleViolation):
            if violations is None:
                violations = []
            violations.append(outcome)
            executor.logger.debug("[RULE] %s failed: %s", getattr(fn, "label", fn), outcome)
        step(f"Rule {getattr(fn, 'label', getattr(fn, '__name__', fn))}")
    if violations:
        raise RuleViolations(violations)


def _step_tracer(executor: PipelineHost, plan: ExecutionPlan) -> Callable[[str], None]:
    last = [time.perf_counter()]

    def step(name: str) -> None:
        now = time.perf_counter()
        duration = (now - last[0]) * 1000
        last[0] = now
        executor.logger.info("[STEP] %s (%s)", name, plan.name)
        emit(
            executor.metrics,
            RuntimeEvent(
                EventKind.STEP_DONE,
                plan.name,
                step_name=name,
                duration_ms=duration,
                trace_id=get_trace_id(),
            ),
        )

    return step


def _missing(on_missing: OnMissing, entity: type[Any], value: Any) -> Any:
    """What a load injects when nothing matched (or raises ``NotFound``)."""
    if on_missing is OnMissing.RAISE:
        raise NotFound(entity.__name__, id=value)
    return None if on_missing is OnMissing.RETURN_NONE else False
