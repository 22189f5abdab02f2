"""UseCaseCompiler: inspects a use case or job once and produces its ExecutionPlan."""

from __future__ import annotations

import dataclasses
import inspect
import logging
import time
import typing
from collections.abc import Callable, Iterable
from typing import Any

from loom_django.core.command import Command, get_patch_fields
from loom_django.core.engine.codegen import generate_pipeline
from loom_django.core.engine.coercion import build_binder, build_coercer
from loom_django.core.engine.events import EventKind, MetricsAdapter, RuntimeEvent, emit
from loom_django.core.engine.fastpath import compile_compute, compile_rule
from loom_django.core.engine.plan import (
    NO_DEFAULT,
    ComputeStep,
    ExecutionPlan,
    ExistsStep,
    InputBinding,
    LoadStep,
    ParamBinding,
    RuleStep,
)
from loom_django.core.engine.single_write import single_write_method
from loom_django.core.engine.unique_guard import deferrable_exists
from loom_django.core.engine.validation import validate_declarations
from loom_django.core.errors import CompilationError
from loom_django.core.use_case.compute import ComputeSpec
from loom_django.core.use_case.markers import (
    ExistsMarker,
    InputMarker,
    LoadMarker,
    LookupKind,
    SourceKind,
)
from loom_django.core.use_case.rule import RuleSpec
from loom_django.core.use_case.use_case import UseCase, use_case_model, use_case_repo_contract

__all__ = ["UseCaseCompiler", "accepts_context"]

_log = logging.getLogger("loom_django.engine")
_SKIPPED_KINDS = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def accepts_context(fn: Callable[..., Any]) -> bool:
    """Whether a raw compute/rule function takes the runtime context as a third argument."""
    if isinstance(fn, ComputeSpec | RuleSpec):
        return True
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = 0
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            return True
        if parameter.kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            positional += 1
    return positional >= 3


class UseCaseCompiler:
    """Compiles UseCase and Job classes into cached, immutable ExecutionPlans."""

    def __init__(
        self, logger: logging.Logger | None = None, metrics: MetricsAdapter | None = None
    ) -> None:
        self._log = logger or _log
        self._metrics = metrics
        self._plans: dict[type[Any], ExecutionPlan] = {}

    def get_plan(self, use_case_type: type[Any]) -> ExecutionPlan | None:
        """The cached plan of ``use_case_type``, or ``None`` if it was never compiled here."""
        return self._plans.get(use_case_type)

    def compile_all(self, classes: Iterable[type[Any]]) -> list[ExecutionPlan]:
        """Compile several classes; the first structural error aborts."""
        return [self.compile(cls) for cls in classes]

    def compile(self, use_case_type: type[Any]) -> ExecutionPlan:
        """Return the plan of ``use_case_type``, compiling it on first use.

        Raises:
            CompilationError: the class is structurally invalid; the message names the
                class and the offending parameter, rule or compute.
        """
        plan = self._plans.get(use_case_type)
        if plan is not None:
            return plan
        name = use_case_type.__qualname__
        emit(self._metrics, RuntimeEvent(EventKind.COMPILE_START, name))
        started = time.perf_counter()
        plan = _build_plan(use_case_type)
        self._plans[use_case_type] = plan
        use_case_type.__execution_plan__ = plan
        duration = (time.perf_counter() - started) * 1000
        self._log.debug("[BOOT] compiled %s in %.2fms", name, duration)
        emit(
            self._metrics,
            RuntimeEvent(EventKind.COMPILE_DONE, name, duration_ms=duration, status="success"),
        )
        return plan


def _build_plan(cls: type[Any]) -> ExecutionPlan:
    qualname = cls.__qualname__
    execute = getattr(cls, "execute", None)
    if execute is None or getattr(execute, "__loom_abstract__", False):
        raise CompilationError(f"{qualname} must override execute() before it can be compiled")
    hints = _type_hints(execute)
    where = f"{qualname}.execute"

    params: list[ParamBinding] = []
    input_binding: InputBinding | None = None
    loads: list[LoadStep] = []
    exists: list[ExistsStep] = []
    signature = inspect.signature(execute)
    for index, parameter in enumerate(signature.parameters.values()):
        if (index == 0 and parameter.name == "self") or parameter.kind in _SKIPPED_KINDS:
            continue
        annotation = hints.get(parameter.name, Any)
        default = parameter.default
        if isinstance(default, InputMarker):
            if input_binding is not None:
                raise CompilationError(f"{where}: only one Input() parameter is allowed")
            if not callable(getattr(annotation, "from_payload", None)):
                raise CompilationError(
                    f"{where}: Input() parameter '{parameter.name}' type must implement "
                    "from_payload(payload)"
                )
            input_binding = InputBinding(parameter.name, annotation)
        elif isinstance(default, LoadMarker):
            loads.append(_load_step(parameter.name, default))
        elif isinstance(default, ExistsMarker):
            exists.append(
                ExistsStep(
                    parameter.name,
                    default.entity_type,
                    default.source_kind,
                    default.source_name,
                    default.against,
                    default.on_missing,
                )
            )
        else:
            has_default = default is not inspect.Parameter.empty
            params.append(
                ParamBinding(
                    parameter.name,
                    annotation,
                    default if has_default else NO_DEFAULT,
                    build_coercer(annotation),
                )
            )

    _check_sources(where, params, input_binding, loads, exists)
    computes = tuple(getattr(cls, "computes", ()) or ())
    rules = tuple(getattr(cls, "rules", ()) or ())
    validate_declarations(
        qualname,
        input_binding.command_type if input_binding else None,
        computes,
        rules,
        context_keys=_context_keys(params, input_binding, loads, exists),
        loads=loads,
    )
    command_type = input_binding.command_type if input_binding else None
    patch_fields: frozenset[str] = frozenset()
    if command_type is not None and _is_command(command_type):
        patch_fields = frozenset(get_patch_fields(command_type))
    compute_steps = tuple(ComputeStep(fn, accepts_context(fn)) for fn in computes)
    rule_steps = tuple(RuleStep(fn, accepts_context(fn)) for fn in rules)
    plan = ExecutionPlan(
        use_case_type=cls,
        param_bindings=tuple(params),
        input_binding=input_binding,
        load_steps=tuple(loads),
        exists_steps=tuple(exists),
        compute_steps=compute_steps,
        rule_steps=rule_steps,
        read_only=bool(getattr(cls, "read_only", False)),
        transactional=_transactional(cls, execute),
        is_async=inspect.iscoroutinefunction(execute),
        name=qualname,
        compute_fns=tuple(
            compile_compute(s.fn, s.accepts_context, patch_fields) for s in compute_steps
        ),
        rule_fns=tuple(compile_rule(s.fn, s.accepts_context, command_type) for s in rule_steps),
        bind_params=build_binder(tuple(params)) if params else None,
        deferred_exists=deferrable_exists(
            _created_model(cls, execute), execute, exists, computes, rules
        ),
    )
    pipelines = generate_pipeline(plan)
    return dataclasses.replace(
        plan,
        pipeline=pipelines.run,
        quiet_sync=pipelines.quiet_sync,
        quiet_async=pipelines.quiet_async,
        bind_entries=pipelines.bind,
    )


def _default_repository_model(cls: type[Any]) -> type[Any] | None:
    """The main model when ``main_repo`` is the built-in repository, else ``None``."""
    model = use_case_model(cls)
    if model is None or use_case_repo_contract(cls) is not None:
        return None
    if "__loom_repository__" in vars(model):
        return None
    return model  # type: ignore[no-any-return]


def _created_model(cls: type[Any], execute: Any) -> type[Any] | None:
    """The model ``execute`` inserts into as its one write through the built-in repository."""
    model = _default_repository_model(cls)
    if model is None or single_write_method(execute) != "create":
        return None
    return model


def _transactional(cls: type[Any], execute: Any) -> bool:
    """The class's own ``transactional``, else ``False`` for a provable single write."""
    for klass in cls.__mro__:
        if "transactional" in vars(klass):
            if klass.__module__ != UseCase.__module__:
                return bool(vars(klass)["transactional"])
            break
    if _default_repository_model(cls) is None:
        return True
    return single_write_method(execute) is None


def _is_command(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, Command)


def _type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except Exception:
        hints: dict[str, Any] = {}
        for name, value in getattr(fn, "__annotations__", {}).items():
            hints[name] = value if not isinstance(value, str) else Any
        return hints


def _load_step(name: str, marker: LoadMarker) -> LoadStep:
    return LoadStep(
        name,
        marker.entity_type,
        marker.source_kind,
        marker.source_name,
        marker.lookup_kind,
        marker.against,
        marker.profile,
        marker.on_missing,
    )


def _check_sources(
    where: str,
    params: list[ParamBinding],
    input_binding: InputBinding | None,
    loads: list[LoadStep],
    exists: list[ExistsStep],
) -> None:
    param_names = {p.name for p in params}
    steps: list[tuple[str, LoadStep | ExistsStep]] = [(_load_label(step), step) for step in loads]
    steps += [(f"Exists({step.entity_type.__name__})", step) for step in exists]
    for label, step in steps:
        if step.source_kind is SourceKind.PARAM and step.source_name not in param_names:
            raise CompilationError(
                f"{where}: {label}: parameter '{step.source_name}' not found in execute signature"
            )
        if step.source_kind is SourceKind.COMMAND:
            if input_binding is None:
                raise CompilationError(f"{where}: {label}: from_command requires Input() parameter")
            fields = _struct_field_names(input_binding.command_type)
            if fields is not None and step.source_name not in fields:
                raise CompilationError(
                    f"{where}: {label}: from_command field '{step.source_name}' is not a field "
                    f"of {input_binding.command_type.__name__}"
                )


def _load_label(step: LoadStep) -> str:
    label = f"LoadById({step.entity_type.__name__})"
    return label if step.lookup_kind is LookupKind.BY_ID else f"{label} [Load]"


def _struct_field_names(cls: type[Any]) -> frozenset[str] | None:
    fields = getattr(cls, "__struct_fields__", None)
    return frozenset(fields) if fields is not None else None


def _context_keys(
    params: list[ParamBinding],
    input_binding: InputBinding | None,
    loads: list[LoadStep],
    exists: list[ExistsStep],
) -> frozenset[str]:
    keys = {p.name for p in params}
    keys.update(step.name for step in loads)
    keys.update(step.name for step in exists)
    if input_binding is not None:
        keys.add(input_binding.name)
    return frozenset(keys)
