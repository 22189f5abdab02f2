"""The use-case gateway: rows of a frame run through the compiled engine (§9.8).

``execute`` mode calls the runtime's executor once per row inside one step-level unit of
work (each row is a nested savepoint); ``validate`` mode binds params, builds the command
and applies computes and rules only, writing nothing.
"""

from __future__ import annotations

import inspect
import json
import logging
import threading
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from loom_django.core.errors import RuleViolation, RuleViolations, ValidationError
from loom_django.core.use_case.markers import InputMarker
from loom_django.etl.errors import RejectThresholdExceeded, SchemaError
from loom_django.etl.expr import ParamExpr, resolve
from loom_django.etl.targets import IntoUseCase

__all__ = ["GatewayResult", "command_fields", "command_type", "has_lookups", "run_rows"]

_log = logging.getLogger("loom_django.etl.use_case")
_ENGINE_LOG = "loom_django.engine"


class _QuietThreads(logging.Filter):
    """Drops the engine's per-row log lines on threads feeding rows to a use case; the
    gateway logs one line per batch instead."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[int] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread not in self.threads


_quiet = _QuietThreads()
logging.getLogger(_ENGINE_LOG).addFilter(_quiet)


def command_type(use_case: Any) -> type[Any] | None:
    """The ``Input()`` command type of ``use_case``'s ``execute``, or ``None``."""
    execute = getattr(use_case, "execute", None)
    if execute is None:
        return None
    try:
        hints = typing.get_type_hints(execute)
    except (NameError, TypeError):
        return None
    for parameter in inspect.signature(execute).parameters.values():
        if isinstance(parameter.default, InputMarker):
            annotation = hints.get(parameter.name)
            return annotation if isinstance(annotation, type) else None
    return None


def has_lookups(use_case: Any) -> bool:
    """Whether ``execute`` declares ``Load``/``LoadById``/``Exists`` parameters."""
    from loom_django.core.use_case.markers import ExistsMarker, LoadMarker

    execute = getattr(use_case, "execute", None)
    if execute is None:
        return False
    return any(
        isinstance(p.default, LoadMarker | ExistsMarker)
        for p in inspect.signature(execute).parameters.values()
    )


def command_fields(use_case: Any) -> tuple[str, ...] | None:
    """Field names of the use case's command, or ``None`` when it takes no ``Input()``."""
    cmd = command_type(use_case)
    if cmd is None or not issubclass(cmd, msgspec.Struct):
        return None
    return tuple(cmd.__struct_fields__)


@dataclass
class GatewayResult:
    """Valid rows (computed commands in validate mode, input rows in execute mode) and
    rejects (input row + ``_loom_row``, ``_loom_error_type``, ``_loom_violations``)."""

    valid: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    processed: int = 0


def _violations(exc: BaseException) -> list[dict[str, str]]:
    if isinstance(exc, RuleViolations):
        return [{"field": v.field, "message": v.message} for v in exc.violations]
    if isinstance(exc, RuleViolation):
        return [{"field": exc.field, "message": exc.message}]
    if isinstance(exc, ValidationError):
        return [{"field": v.field, "message": v.message} for v in exc.violations]
    return [{"field": "", "message": str(exc)}]


def _reject(row: dict[str, Any], index: int, exc: BaseException) -> dict[str, Any]:
    return {
        **row,
        "_loom_row": index,
        "_loom_error_type": type(exc).__name__,
        "_loom_violations": json.dumps(_violations(exc)),
    }


def _mapping(spec: IntoUseCase, columns: Iterable[str]) -> dict[str, str]:
    cmd = command_type(spec.use_case)
    if spec.payload is not None:
        payload = dict(spec.payload)
    else:
        names = set(columns)
        fields = getattr(cmd, "__struct_fields__", ())
        payload = {name: name for name in fields if name in names}
    if cmd is not None and issubclass(cmd, msgspec.Struct):
        required = [f.name for f in msgspec.structs.fields(cmd) if f.required]
        missing = [name for name in required if name not in payload]
        if missing:
            raise SchemaError(
                f"{spec.use_case.__qualname__}: required command fields {missing} have no column"
            )
    return payload


def _invocation(
    spec: IntoUseCase, payload_map: dict[str, str], row: dict[str, Any], run_params: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    params: dict[str, Any] = {}
    for name, source in (spec.params or {}).items():
        params[name] = resolve(source, run_params) if isinstance(source, ParamExpr) else row[source]
    payload = {name: row[column] for name, column in payload_map.items() if column in row}
    return params, payload


def _threshold(spec: IntoUseCase, rejected: int, total: int) -> None:
    limit = spec.max_rejects
    if limit is None:
        return
    allowed = limit * total if isinstance(limit, float) and 0 < limit < 1 else limit
    if rejected > allowed:
        raise RejectThresholdExceeded(
            f"{spec.use_case.__qualname__}: {rejected} of {total} rows rejected "
            f"(max_rejects={limit})"
        )


def run_rows(
    spec: IntoUseCase,
    batches: Iterator[list[dict[str, Any]]],
    columns: list[str],
    run_params: Any,
    runtime: Any,
) -> GatewayResult:
    """Feed ``batches`` of rows to ``spec.use_case``; raise on the first failure with
    ``on_error='fail'``; raise :class:`RejectThresholdExceeded` (its ``result`` holds the
    rejects) when ``max_rejects`` is exceeded — in execute mode after rolling back.
    """
    payload_map = _mapping(spec, columns)
    thread = threading.get_ident()
    _quiet.threads.add(thread)
    try:
        return _run(spec, batches, payload_map, run_params, runtime)
    finally:
        _quiet.threads.discard(thread)


def _run(
    spec: IntoUseCase,
    batches: Iterator[list[dict[str, Any]]],
    payload_map: dict[str, str],
    run_params: Any,
    runtime: Any,
) -> GatewayResult:
    result = GatewayResult()
    if spec.mode == "validate":
        plan = runtime.executor.compiler.compile(spec.use_case)
        for batch in batches:
            _validate_batch(spec, plan, payload_map, batch, run_params, result)
        _raise_threshold(spec, result)
        return result
    executor = runtime.executor
    if spec.transaction == "step":
        with executor.unit_of_work():
            for batch in batches:
                _execute_batch(spec, runtime, payload_map, batch, run_params, result)
            _raise_threshold(spec, result)
        return result
    for batch in batches:
        with executor.unit_of_work():
            _execute_batch(spec, runtime, payload_map, batch, run_params, result)
    _raise_threshold(spec, result)
    return result


def _raise_threshold(spec: IntoUseCase, result: GatewayResult) -> None:
    try:
        _threshold(spec, len(result.rejects), result.processed)
    except RejectThresholdExceeded as exc:
        exc.result = result  # type: ignore[attr-defined]
        raise


def _execute_batch(
    spec: IntoUseCase,
    runtime: Any,
    payload_map: dict[str, str],
    batch: list[dict[str, Any]],
    run_params: Any,
    result: GatewayResult,
) -> None:
    executor = runtime.executor
    factory = runtime.factory
    for row in batch:
        index = result.processed
        result.processed += 1
        params, payload = _invocation(spec, payload_map, row, run_params)
        try:
            executor.execute_sync(factory.build(spec.use_case), params=params, payload=payload)
        except Exception as exc:
            if spec.on_error == "fail":
                exc.add_note(f"ETL row {index} of use case {spec.use_case.__qualname__}")
                raise
            result.rejects.append(_reject(row, index, exc))
            continue
        result.valid.append(row)
    _log.info(
        "%s: %d rows, %d rejected so far",
        spec.use_case.__qualname__,
        result.processed,
        len(result.rejects),
    )


def _validate_batch(
    spec: IntoUseCase,
    plan: Any,
    payload_map: dict[str, str],
    batch: list[dict[str, Any]],
    run_params: Any,
    result: GatewayResult,
) -> None:
    for row in batch:
        index = result.processed
        result.processed += 1
        params, payload = _invocation(spec, payload_map, row, run_params)
        try:
            command = _validate_one(plan, params, payload)
        except Exception as exc:
            if spec.on_error == "fail":
                exc.add_note(f"ETL row {index} of use case {spec.use_case.__qualname__}")
                raise
            result.rejects.append(_reject(row, index, exc))
            continue
        result.valid.append(msgspec.to_builtins(command) if command is not None else row)


def _validate_one(plan: Any, params: dict[str, Any], payload: dict[str, Any]) -> Any:
    bound: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for binding in plan.param_bindings:
        if binding.name not in params:
            continue
        value = params[binding.name]
        if binding.coerce is not None:
            try:
                value = binding.coerce(value)
            except Exception as exc:  # the engine's own coercion failure types vary
                problems.append((binding.name, str(exc)))
                continue
        bound[binding.name] = value
    if problems:
        raise ValidationError(problems)
    binding = plan.input_binding
    if binding is None:
        return None
    command, fields_set = binding.command_type.from_payload(payload)
    bound[binding.name] = command
    for fn in plan.compute_fns:
        command = fn(command, fields_set, bound)
        bound[binding.name] = command
    violations: list[RuleViolation] = []
    for fn in plan.rule_fns:
        try:
            outcome = fn(command, fields_set, bound)
        except RuleViolation as violation:
            outcome = violation
        if isinstance(outcome, RuleViolation):
            violations.append(outcome)
    if violations:
        raise RuleViolations(violations)
    return command
