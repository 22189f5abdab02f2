"""Binding of a step's sources and target: table routes, Delta locations, file aliases and
templates, columns and parameter paths, each problem collected with its component and field."""

from __future__ import annotations

import string
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.util import find_spec
from typing import Any

import msgspec

from loom_django.etl.config import EtlConfig
from loom_django.etl.errors import ETLCompilationError
from loom_django.etl.errors import ETLErrorCode as C
from loom_django.etl.expr import ParamExpr, Predicate, columns_of, param_paths
from loom_django.etl.plan import SourceBinding, TableRoute, TargetBinding
from loom_django.etl.schema import Format, SchemaMode, options_match
from loom_django.etl.sources import FromFile, FromQuery, FromTable, FromTemp
from loom_django.etl.targets import (
    TARGET_TYPES,
    IntoFile,
    IntoHistory,
    IntoTable,
    IntoUseCase,
    WriteMode,
)

__all__ = ["Binder", "Collector", "param_path_ok"]


@dataclass
class Collector:
    component: str
    errors: list[ETLCompilationError] = field(default_factory=list)

    def add(self, code: C, message: str, field_name: str | None = None) -> None:
        self.errors.append(ETLCompilationError(code, self.component, message, field_name))


def param_path_ok(params_type: type[Any] | None, path: tuple[str, ...]) -> bool:
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


class Binder:
    """Binds sources and targets of steps to tables, Delta locations and files, checking
    their columns, aliases and parameter paths against the ``etl:`` configuration.

    Args:
        config: the compiler's routes and file aliases (read on every bind).
    """

    def __init__(self, config: Callable[[], EtlConfig]) -> None:
        self._config = config

    @property
    def config(self) -> EtlConfig:
        """The configuration binding resolves against."""
        return self._config()

    def check_params(
        self, pred: Predicate | None, params_type: Any, out: Collector, where: str
    ) -> None:
        if pred is None:
            return
        for expr in param_paths(pred):
            if not param_path_ok(params_type, expr.path):
                out.add(
                    C.UNKNOWN_PARAM_FIELD,
                    f"{where}: params has no field {'.'.join(expr.path)!r}",
                    ".".join(expr.path),
                )

    def _check_template(self, path: str, params_type: Any, out: Collector) -> None:
        for name in _template_fields(path):
            if not param_path_ok(params_type, tuple(name.split("."))):
                out.add(C.UNKNOWN_PARAM_FIELD, f"path {path!r}: params has no field {name!r}", name)

    def _route(
        self, ref: Any, database: str | None, out: Collector, alias: str
    ) -> TableRoute | None:
        from loom_django.etl._routing import RouteError, resolve_route

        try:
            return resolve_route(ref, self.config, database)
        except (RouteError, LookupError) as exc:
            out.add(C.NO_ROUTE, str(exc), alias)
            return None

    def _columns(
        self, route: TableRoute | None, names: Iterable[str], out: Collector, alias: str
    ) -> None:
        if route is None:
            return
        known = {c.name for c in route.columns} | {c.column for c in route.columns}
        unknown = [n for n in names if n not in known]
        if unknown:
            out.add(C.UNKNOWN_COLUMN, f"{route.name} has no column(s) {unknown}", alias)

    def _file(
        self, spec: FromFile | IntoFile, params_type: Any, out: Collector, alias: str
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

    def _delta(self, ref: Any, out: Collector, alias: str) -> str | None:
        from loom_django.etl._routing import delta_location

        location = delta_location(ref, self.config)
        if location is not None and find_spec("deltalake") is None:
            out.add(
                C.FEATURE_UNAVAILABLE,
                f"{ref!r} is a Delta table: pip install loom-django[delta]",
                alias,
            )
        return location

    def source(self, alias: str, spec: Any, params_type: Any, out: Collector) -> SourceBinding:
        if isinstance(spec, FromTable) and (delta := self._delta(spec.ref, out, alias)):
            self.check_params(spec.predicate, params_type, out, f"source {alias!r}")
            return SourceBinding(alias, spec, delta=delta)
        if isinstance(spec, FromTable):
            route = self._route(spec.ref, spec.database, out, alias)
            self.check_params(spec.predicate, params_type, out, f"source {alias!r}")
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

    def target(self, step: type[Any], out: Collector) -> TargetBinding | None:
        spec = step.target
        if spec is None:
            out.add(C.MISSING_TARGET, f"{step.__qualname__} has no target", "target")
            return None
        if not isinstance(spec, TARGET_TYPES):
            out.add(C.INVALID_TARGET_TYPE, f"target {spec!r} is not a target builder", "target")
            return None
        return self._bind_target(spec, step.params_type, out)

    def _bind_target(self, spec: Any, params_type: Any, out: Collector) -> TargetBinding | None:
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
        self, spec: IntoHistory, params_type: Any, out: Collector
    ) -> TargetBinding | None:
        if isinstance(spec.effective_date, ParamExpr) and not param_path_ok(
            params_type, spec.effective_date.path
        ):
            path = ".".join(spec.effective_date.path)
            out.add(C.UNKNOWN_PARAM_FIELD, f"effective_date: params has no field {path!r}", path)
        route = self._table_route(spec, out)
        if route is None:
            return None
        bounds = [spec.valid_from, spec.valid_to]
        if spec.delete_policy == "soft_delete":
            bounds.append(spec.deleted_at)
        cols = [*spec.keys, *(spec.track or ()), *spec.overwrite, *spec.partition_scope, *bounds]
        self._columns(route, cols, out, "target")
        return TargetBinding(spec, route=route)

    def _table_route(self, spec: IntoTable | IntoHistory, out: Collector) -> TableRoute | None:
        """The Django table a target writes; its schema must be STRICT (migrations own it)."""
        route = self._route(spec.ref, spec.database, out, "target")
        if route is not None and spec.schema is not SchemaMode.STRICT:
            out.add(
                C.SCHEMA_OWNED_BY_MIGRATIONS,
                f"{route.name} is a Django table: its schema is owned by migrations; use STRICT",
                "target",
            )
        return route

    def _table_target(
        self, spec: IntoTable, params_type: Any, out: Collector
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
        self.check_params(spec.predicate, params_type, out, "target")
        delta = self._delta(spec.ref, out, "target")
        if delta is not None:
            return TargetBinding(spec, delta=delta)
        route = self._table_route(spec, out)
        if route is None:
            return None
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
        self, spec: IntoUseCase, params_type: Any, out: Collector
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
            if isinstance(value, ParamExpr) and not param_path_ok(params_type, value.path):
                out.add(
                    C.UNKNOWN_PARAM_FIELD, f"params has no field {'.'.join(value.path)!r}", "target"
                )
        rejects = None
        if spec.rejects is not None:
            rejects = self._bind_target(spec.rejects, params_type, out)
        return TargetBinding(spec, rejects=rejects)
