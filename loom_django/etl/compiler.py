"""Compile declarations into frozen plans, collecting every error with class and field named.

Runs once per class (plans are cached per compiler); the runners see only plans.
"""

from __future__ import annotations

import inspect
import logging
import re
import string
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.util import find_spec
from typing import Any

import msgspec

from loom_django.etl._plan_checks import (
    check_temps,
    history_warnings,
    pipeline_units,
    races,
    raise_errors,
    spark_delta_errors,
    temp_errors,
)
from loom_django.etl.config import EtlConfig
from loom_django.etl.declarative import ClientStep, ETLPipeline, ETLProcess, ETLStep, StepSQL
from loom_django.etl.errors import ETLCompilationError
from loom_django.etl.errors import ETLErrorCode as C
from loom_django.etl.expr import ParamExpr, Predicate, columns_of, param_paths
from loom_django.etl.plan import (
    ParallelProcessGroup,
    ParallelStepGroup,
    PipelinePlan,
    ProcessPlan,
    SourceBinding,
    StepPlan,
    TableRoute,
    TargetBinding,
    iter_all_steps,
)
from loom_django.etl.schema import Format, SchemaMode, options_match
from loom_django.etl.sources import FromFile, FromQuery, FromTable, FromTemp, Sources, SourceSet
from loom_django.etl.targets import (
    TARGET_TYPES,
    IntoFile,
    IntoHistory,
    IntoTable,
    IntoUseCase,
    WriteMode,
)

__all__ = ["ETLCompiler", "check_temps", "raise_errors"]

_log = logging.getLogger("loom_django.etl.compiler")
_SQL_PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_SQL_PATH = re.compile(r"params(\.[A-Za-z_][A-Za-z0-9_]*)+")


@dataclass
class _Collector:
    component: str
    errors: list[ETLCompilationError] = field(default_factory=list)

    def add(self, code: C, message: str, field_name: str | None = None) -> None:
        self.errors.append(ETLCompilationError(code, self.component, message, field_name))


def _param_path_ok(params_type: type[Any] | None, path: tuple[str, ...]) -> bool:
    """Whether ``path`` exists on ``params_type`` (full path; skipped for non-Structs)."""
    current: Any = params_type
    for i, name in enumerate(path):
        if isinstance(current, type) and issubclass(current, msgspec.Struct):
            if name not in current.__struct_fields__:
                return False
            try:
                current = typing.get_type_hints(current)[name]
            except (NameError, TypeError):  # unresolvable annotation: the name is enough
                current = Any
            origin = typing.get_origin(current)
            if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
                args = [a for a in typing.get_args(current) if a is not type(None)]
                current = args[0] if len(args) == 1 else Any
        elif isinstance(current, type) and current.__module__ in ("datetime", "decimal"):
            if not hasattr(current, name):
                return False
            current = Any
        elif i == 0 and params_type is not None:
            return True
        else:
            return True
    return True


def _template_fields(path: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(path) if f]


class ETLCompiler:
    """Compiles steps, processes and pipelines; caches plans per class.

    Args:
        config: routes of tables and file aliases (``etl:`` section).
    """

    def __init__(self, config: EtlConfig | None = None) -> None:
        self.config = config or EtlConfig()
        self._steps: dict[type[Any], tuple[StepPlan | None, list[ETLCompilationError]]] = {}
        self._warned: set[type[Any]] = set()

    # -- steps -------------------------------------------------------------------------

    def compile_step(self, step: type[Any], params_type: type[Any] | None = None) -> StepPlan:
        """The plan of one step.

        Raises:
            ETLCompilationError: one problem (or a group of several).
        """
        plan, errors = self._step(step)
        raise_errors(list(errors))
        assert plan is not None
        return plan

    def _step(self, step: type[Any]) -> tuple[StepPlan | None, list[ETLCompilationError]]:
        cached = self._steps.get(step)
        if cached is not None:
            return cached
        result = self._build_step(step)
        self._steps[step] = result
        return result

    def _build_step(self, step: type[Any]) -> tuple[StepPlan | None, list[ETLCompilationError]]:
        out = _Collector(step.__qualname__)
        if step.params_type is None:
            out.add(C.MISSING_GENERIC_PARAM, f"{step.__qualname__} must be ETLStep[YourParams]")
        sources = self._sources(step, out)
        for alias, _spec in sources:
            if alias == "ctx":
                out.add(C.RESERVED_NAME, "a source may not be called 'ctx'", alias)
        wants_ctx = False
        if issubclass(step, ClientStep):
            pass
        elif issubclass(step, StepSQL):
            self._check_sql(step, out)
        else:
            wants_ctx = self._check_execute(step, [a for a, _ in sources], out)
        bindings = tuple(
            self._source(alias, spec, step.params_type, out) for alias, spec in sources
        )
        target = self._target(step, out)
        if out.errors or target is None:
            return None, out.errors
        warnings = self._warnings(step, target)
        plan = StepPlan(
            step_type=step,
            params_type=step.params_type,
            source_bindings=bindings,
            target_binding=target,
            streaming=step.streaming,
            wants_ctx=wants_ctx,
            sql=getattr(step, "sql", None) if issubclass(step, StepSQL) else None,
            warnings=warnings,
        )
        return plan, []

    def _sources(self, step: type[Any], out: _Collector) -> list[tuple[str, Any]]:
        declared = step.sources
        if step.inline_sources:
            return list(step.inline_sources)
        if declared is None:
            return []
        if isinstance(declared, Sources):
            return list(declared.items)
        if isinstance(declared, type) and issubclass(declared, SourceSet):
            return list(declared.as_sources().items)
        out.add(C.INVALID_SOURCES_TYPE, "'sources' must be Sources(...) or a SourceSet", "sources")
        return []

    def _check_execute(self, step: type[Any], aliases: list[str], out: _Collector) -> bool:
        signature = inspect.signature(step.execute)
        positional = [
            p
            for p in list(signature.parameters.values())[1:]
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        if not positional:
            out.add(C.INVALID_PARAMS_TYPE, "execute() must take 'params' after self")
        elif positional[0].name != "params":
            out.add(
                C.INVALID_PARAMS_NAME,
                f"execute()'s first parameter must be named 'params', not {positional[0].name!r}",
                positional[0].name,
            )
        keyword = [p.name for p in signature.parameters.values() if p.kind == p.KEYWORD_ONLY]
        if any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):
            return "ctx" in keyword
        missing = [a for a in aliases if a not in keyword]
        if missing:
            out.add(
                C.MISSING_SOURCE_PARAMS,
                f"execute() lacks keyword-only parameters for sources {missing}",
                missing[0],
            )
        extra = [k for k in keyword if k not in aliases and k != "ctx"]
        if extra:
            out.add(
                C.EXTRA_SOURCE_PARAMS,
                f"execute() has keyword-only parameters matching no source: {extra}",
                extra[0],
            )
        return "ctx" in keyword

    def _check_sql(self, step: type[Any], out: _Collector) -> None:
        sql = step.sql
        if isinstance(sql, staticmethod):
            return
        if callable(sql):
            return
        if not isinstance(sql, str) or not sql.strip():
            out.add(C.INVALID_TARGET_TYPE, "StepSQL.sql must be a string or a staticmethod", "sql")
            return
        for raw in _SQL_PLACEHOLDER.findall(sql):
            if not _SQL_PATH.fullmatch(raw):
                out.add(
                    C.UNKNOWN_PARAM_FIELD, f"SQL placeholder {{{{ {raw} }}}} is not params.x", raw
                )
                continue
            path = tuple(raw.split(".")[1:])
            if not _param_path_ok(step.params_type, path):
                out.add(C.UNKNOWN_PARAM_FIELD, f"params has no field {'.'.join(path)!r}", raw)

    def _check_params(
        self, pred: Predicate | None, params_type: Any, out: _Collector, where: str
    ) -> None:
        if pred is None:
            return
        for expr in param_paths(pred):
            if not _param_path_ok(params_type, expr.path):
                out.add(
                    C.UNKNOWN_PARAM_FIELD,
                    f"{where}: params has no field {'.'.join(expr.path)!r}",
                    ".".join(expr.path),
                )

    def _check_template(self, path: str, params_type: Any, out: _Collector) -> None:
        for name in _template_fields(path):
            if not _param_path_ok(params_type, tuple(name.split("."))):
                out.add(C.UNKNOWN_PARAM_FIELD, f"path {path!r}: params has no field {name!r}", name)

    def _route(
        self, ref: Any, database: str | None, out: _Collector, alias: str
    ) -> TableRoute | None:
        from loom_django.etl._routing import RouteError, resolve_route

        try:
            return resolve_route(ref, self.config, database)
        except (RouteError, LookupError) as exc:
            out.add(C.NO_ROUTE, str(exc), alias)
            return None

    def _columns(
        self, route: TableRoute | None, names: Iterable[str], out: _Collector, alias: str
    ) -> None:
        if route is None:
            return
        known = {c.name for c in route.columns} | {c.column for c in route.columns}
        unknown = [n for n in names if n not in known]
        if unknown:
            out.add(C.UNKNOWN_COLUMN, f"{route.name} has no column(s) {unknown}", alias)

    def _file(
        self, spec: FromFile | IntoFile, params_type: Any, out: _Collector, alias: str
    ) -> str | None:
        location = spec.path
        if spec.is_alias:
            configured = self.config.file_alias(spec.path)
            if configured is None:
                names = [f.name for f in self.config.storage.files]
                out.add(
                    C.UNKNOWN_FILE_ALIAS,
                    f"file alias {spec.path!r} is not configured {names}",
                    alias,
                )
                return None
            location = configured
        self._check_template(location, params_type, out)
        if spec.format is Format.DELTA:
            if find_spec("deltalake") is None:
                out.add(C.FEATURE_UNAVAILABLE, "Delta needs pip install loom-django[delta]", alias)
            else:
                out.add(
                    C.UNSUPPORTED_FORMAT, "Delta files are not supported by this version", alias
                )
        if spec.options is not None and not options_match(spec.format, spec.options):
            out.add(
                C.INVALID_READ_OPTIONS,
                f"{type(spec.options).__name__} does not match format {spec.format.value}",
                alias,
            )
        return location

    def _delta(self, ref: Any, out: _Collector, alias: str) -> str | None:
        from loom_django.etl._routing import delta_location

        location = delta_location(ref, self.config)
        if location is not None and find_spec("deltalake") is None:
            out.add(
                C.FEATURE_UNAVAILABLE,
                f"{ref!r} is a Delta table: pip install loom-django[delta]",
                alias,
            )
        return location

    def _source(self, alias: str, spec: Any, params_type: Any, out: _Collector) -> SourceBinding:
        if isinstance(spec, FromTable) and (delta := self._delta(spec.ref, out, alias)):
            self._check_params(spec.predicate, params_type, out, f"source {alias!r}")
            return SourceBinding(alias, spec, delta=delta)
        if isinstance(spec, FromTable):
            route = self._route(spec.ref, spec.database, out, alias)
            self._check_params(spec.predicate, params_type, out, f"source {alias!r}")
            self._columns(route, spec.projected or (), out, alias)
            if spec.predicate is not None:
                self._columns(route, columns_of(spec.predicate), out, alias)
            return SourceBinding(alias, spec, route=route)
        if isinstance(spec, FromFile):
            if spec.format is Format.XLSX and find_spec("fastexcel") is None:
                out.add(C.FEATURE_UNAVAILABLE, "XLSX reading needs the fastexcel package", alias)
            return SourceBinding(alias, spec, location=self._file(spec, params_type, out, alias))
        if isinstance(spec, FromTemp | FromQuery):
            return SourceBinding(alias, spec)
        out.add(C.INVALID_SOURCES_TYPE, f"source {alias!r} is not a source builder", alias)
        return SourceBinding(alias, spec)

    def _target(self, step: type[Any], out: _Collector) -> TargetBinding | None:
        spec = step.target
        if spec is None:
            out.add(C.MISSING_TARGET, f"{step.__qualname__} has no target", "target")
            return None
        if not isinstance(spec, TARGET_TYPES):
            out.add(C.INVALID_TARGET_TYPE, f"target {spec!r} is not a target builder", "target")
            return None
        return self._bind_target(spec, step.params_type, out)

    def _bind_target(self, spec: Any, params_type: Any, out: _Collector) -> TargetBinding | None:
        if isinstance(spec, IntoTable):
            return self._table_target(spec, params_type, out)
        if isinstance(spec, IntoFile):
            if spec.format is Format.XLSX:
                out.add(C.UNSUPPORTED_FORMAT, "XLSX cannot be written", "target")
                return None
            return TargetBinding(spec, location=self._file(spec, params_type, out, "target"))
        if isinstance(spec, IntoUseCase):
            return self._use_case_target(spec, params_type, out)
        if isinstance(spec, IntoHistory):
            return self._history_target(spec, params_type, out)
        return TargetBinding(spec)

    def _history_target(
        self, spec: IntoHistory, params_type: Any, out: _Collector
    ) -> TargetBinding | None:
        if isinstance(spec.effective_date, ParamExpr) and not _param_path_ok(
            params_type, spec.effective_date.path
        ):
            path = ".".join(spec.effective_date.path)
            out.add(C.UNKNOWN_PARAM_FIELD, f"effective_date: params has no field {path!r}", path)
        route = self._route(spec.ref, spec.database, out, "target")
        if route is None:
            return None
        if spec.schema is not SchemaMode.STRICT:
            out.add(
                C.SCHEMA_OWNED_BY_MIGRATIONS,
                f"{route.name} is a Django table: its schema is owned by migrations; use STRICT",
                "target",
            )
        bounds = [spec.valid_from, spec.valid_to]
        if spec.delete_policy == "soft_delete":
            bounds.append(spec.deleted_at)
        cols = [*spec.keys, *(spec.track or ()), *spec.overwrite, *spec.partition_scope, *bounds]
        self._columns(route, cols, out, "target")
        return TargetBinding(spec, route=route)

    def _table_target(
        self, spec: IntoTable, params_type: Any, out: _Collector
    ) -> TargetBinding | None:
        if spec.mode is WriteMode.UPSERT:
            if not spec.keys:
                out.add(C.UPSERT_NO_KEYS, "upsert() needs keys", "target")
            if spec.include and spec.exclude:
                out.add(
                    C.UPSERT_EXCLUDE_INCLUDE_CONFLICT,
                    "upsert(): include and exclude together",
                    "target",
                )
            in_exclude = [k for k in spec.keys if k in spec.exclude]
            if in_exclude:
                out.add(
                    C.UPSERT_KEY_IN_EXCLUDE, f"upsert(): keys {in_exclude} are excluded", "target"
                )
        self._check_params(spec.predicate, params_type, out, "target")
        delta = self._delta(spec.ref, out, "target")
        if delta is not None:
            return TargetBinding(spec, delta=delta)
        route = self._route(spec.ref, spec.database, out, "target")
        if route is None:
            return None
        if spec.schema is not SchemaMode.STRICT:
            out.add(
                C.SCHEMA_OWNED_BY_MIGRATIONS,
                f"{route.name} is a Django table: its schema is owned by migrations; use STRICT",
                "target",
            )
        cols = [*spec.partition_cols, *spec.keys, *spec.include, *spec.exclude]
        if spec.predicate is not None:
            cols.extend(columns_of(spec.predicate))
        self._columns(route, cols, out, "target")
        unique = frozenset(spec.keys) in route.unique_sets
        if spec.mode is WriteMode.UPSERT and spec.keys and not unique:
            out.add(
                C.UPSERT_KEYS_NOT_UNIQUE,
                f"upsert keys {list(spec.keys)} are not the primary key or an unconditional "
                f"unique constraint of {route.name}",
                "target",
            )
        return TargetBinding(spec, route=route)

    def _use_case_target(
        self, spec: IntoUseCase, params_type: Any, out: _Collector
    ) -> TargetBinding | None:
        from loom_django.etl._use_case import command_fields, has_lookups

        fields = command_fields(spec.use_case)
        if fields is None:
            out.add(
                C.USE_CASE_INVALID, f"{spec.use_case!r} is not a use case with an Input()", "target"
            )
            return None
        if spec.mode == "validate" and has_lookups(spec.use_case):
            out.add(
                C.USE_CASE_INVALID,
                f"{spec.use_case.__qualname__} has Load/Exists markers: validate mode does not "
                "run lookups yet; use mode='execute'",
                "target",
            )
        unknown = [f for f in (spec.payload or {}) if f not in fields]
        if unknown:
            out.add(C.USE_CASE_INVALID, f"payload maps unknown command fields {unknown}", "target")
        for value in (spec.params or {}).values():
            if isinstance(value, ParamExpr) and not _param_path_ok(params_type, value.path):
                out.add(
                    C.UNKNOWN_PARAM_FIELD, f"params has no field {'.'.join(value.path)!r}", "target"
                )
        rejects = None
        if spec.rejects is not None:
            rejects = self._bind_target(spec.rejects, params_type, out)
        return TargetBinding(spec, rejects=rejects)

    def _warnings(self, step: type[Any], target: TargetBinding) -> tuple[str, ...]:
        spec = target.spec
        warnings: list[str] = []
        if isinstance(spec, IntoTable) and not spec.explicit:
            warnings.append("W_IMPLICIT_REPLACE: no write mode given; the table is replaced")
        if isinstance(spec, IntoTable) and spec.mode is WriteMode.APPEND:
            warnings.append("W_APPEND: append target is not idempotent on rerun")
        if isinstance(spec, IntoHistory):
            warnings.extend(history_warnings(spec))
        if step not in self._warned:
            self._warned.add(step)
            for warning in warnings:
                _log.warning("%s: %s", step.__qualname__, warning)
        return tuple(warnings)

    # -- processes and pipelines -----------------------------------------------------------

    def compile_process(self, process: type[Any]) -> ProcessPlan:
        """The plan of one process (temps validated within it).

        Raises:
            ETLCompilationError: one problem (or a group of several).
        """
        errors: list[ETLCompilationError] = []
        plan = self._process(process, errors)
        if plan is not None:
            errors.extend(temp_errors([ProcessPlan(process, process.params_type, plan.nodes)]))
        raise_errors(errors)
        assert plan is not None
        return plan

    def _process(self, process: type[Any], errors: list[ETLCompilationError]) -> ProcessPlan | None:
        out = _Collector(process.__qualname__)
        if not (isinstance(process, type) and issubclass(process, ETLProcess)):
            return None
        if process.params_type is None:
            out.add(
                C.MISSING_GENERIC_PARAM, f"{process.__qualname__} must be ETLProcess[YourParams]"
            )
        nodes: list[StepPlan | ParallelStepGroup] = []
        for item in process.steps:
            if isinstance(item, list):
                group = [self._step_item(s, process, out, errors, nested=True) for s in item]
                plans = tuple(p for p in group if p is not None)
                if len(plans) == len(item):
                    nodes.append(ParallelStepGroup(plans))
            else:
                plan = self._step_item(item, process, out, errors, nested=False)
                if plan is not None:
                    nodes.append(plan)
        errors.extend(out.errors)
        return ProcessPlan(process, process.params_type, tuple(nodes))

    def _step_item(
        self,
        item: Any,
        process: type[Any],
        out: _Collector,
        errors: list[ETLCompilationError],
        *,
        nested: bool,
    ) -> StepPlan | None:
        if not (isinstance(item, type) and issubclass(item, ETLStep)):
            what = "a list nested inside a parallel group" if isinstance(item, list) else repr(item)
            out.add(C.INVALID_STEP_ITEM, f"steps item {what} is not an ETLStep subclass", str(item))
            return None
        plan, step_errors = self._step(item)
        errors.extend(step_errors)
        if plan is not None:
            missing = _missing_fields(item.params_type, process.params_type)
            if missing:
                out.add(
                    C.MISSING_PARAMS_FIELDS,
                    f"step {item.__qualname__} needs params fields {missing} that "
                    f"{process.__qualname__}'s params lack",
                    missing[0],
                )
        return plan

    def compile(self, pipeline: type[Any], *, backend: str | None = None) -> PipelinePlan:
        """The plan of a pipeline; every problem of every step is reported at once.

        Raises:
            ETLCompilationError: one problem, or an ``ETLCompilationErrorGroup``.
        """
        out = _Collector(pipeline.__qualname__)
        errors: list[ETLCompilationError] = []
        if pipeline.params_type is None:
            out.add(
                C.MISSING_GENERIC_PARAM, f"{pipeline.__qualname__} must be ETLPipeline[YourParams]"
            )
        if backend is not None and pipeline.engines is not None and backend not in pipeline.engines:
            out.add(
                C.ENGINE_MISMATCH,
                f"{pipeline.__qualname__} runs on {list(pipeline.engines)}, not {backend!r}",
            )
        nodes: list[ProcessPlan | ParallelProcessGroup] = []
        for item in pipeline.processes:
            members = item if isinstance(item, list) else [item]
            plans: list[ProcessPlan] = []
            for member in members:
                if not (isinstance(member, type) and issubclass(member, ETLProcess)):
                    out.add(
                        C.INVALID_PROCESS_ITEM,
                        f"processes item {member!r} is not an ETLProcess subclass",
                    )
                    continue
                plan = self._process(member, errors)
                if plan is None:
                    continue
                missing = _missing_fields(member.params_type, pipeline.params_type)
                if missing:
                    out.add(
                        C.MISSING_PARAMS_FIELDS,
                        f"process {member.__qualname__} needs params fields {missing}",
                        missing[0],
                    )
                plans.append(plan)
            if isinstance(item, list):
                nodes.append(ParallelProcessGroup(tuple(plans)))
            else:
                nodes.extend(plans)
        errors = out.errors[:1] + errors + out.errors[1:] if out.errors else errors
        result = PipelinePlan(pipeline, pipeline.params_type, tuple(nodes))
        if not errors:
            errors.extend(temp_errors(list(pipeline_units(result))))
        if backend == "spark":
            errors.extend(spark_delta_errors(result))
        raise_errors(errors)
        warnings = [w for s in iter_all_steps(result) for w in s.warnings]
        warnings.extend(races(result))
        alias = None
        if pipeline.atomic:
            from loom_django.etl._atomic import atomic_database

            alias = atomic_database(result, self.config)
        return PipelinePlan(
            pipeline,
            pipeline.params_type,
            tuple(nodes),
            warnings=tuple(warnings),
            atomic_database=alias,
        )


def _missing_fields(component: Any, container: Any) -> list[str]:
    if component is None or container is None or component is container:
        return []
    if issubclass(container, component):
        return []
    need = getattr(component, "__struct_fields__", ())
    have = set(getattr(container, "__struct_fields__", ()))
    return [name for name in need if name not in have]


def is_pipeline(obj: Any) -> bool:
    """Whether ``obj`` is a concrete pipeline class."""
    return isinstance(obj, type) and issubclass(obj, ETLPipeline) and obj is not ETLPipeline
