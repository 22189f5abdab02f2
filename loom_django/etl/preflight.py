"""Pre-flight: what needs the database (tables exist) checked before anything runs."""

from __future__ import annotations

from django.db import connections

from loom_django.etl.compiler import raise_errors
from loom_django.etl.errors import ETLCompilationError, SchemaNotFoundError
from loom_django.etl.errors import ETLErrorCode as C
from loom_django.etl.plan import PipelinePlan, StepPlan, TableRoute, iter_all_steps

__all__ = ["preflight", "preflight_errors"]


def _missing(route: TableRoute, tables: dict[str, set[str]]) -> bool:
    if route.database not in tables:
        tables[route.database] = set(connections[route.database].introspection.table_names())
    return route.table not in tables[route.database]


def _delta_errors(step: StepPlan, created: set[str], policy: str) -> list[ETLCompilationError]:
    """Delta sources must exist or be created by an earlier step; a missing Delta target
    must be creatable under ``policy``."""
    from loom_django.etl._delta_io import can_create, delta_exists

    errors: list[ETLCompilationError] = []
    component = step.step_type.__qualname__
    for binding in step.source_bindings:
        if binding.delta and binding.delta not in created and not delta_exists(binding.delta):
            errors.append(
                ETLCompilationError(
                    C.UNKNOWN_SOURCE_TABLE,
                    component,
                    f"Delta table {binding.delta} does not exist",
                    binding.alias,
                )
            )
    target = step.target_binding
    if target.delta and target.delta not in created and not delta_exists(target.delta):
        if can_create(target.spec, policy):
            created.add(target.delta)
        else:
            errors.append(SchemaNotFoundError(component, target.delta))
    return errors


def preflight_errors(plan: PipelinePlan, policy: str = "schema_mode") -> list[ETLCompilationError]:
    """Every Django table of ``plan`` that does not exist (run ``migrate``), and every Delta
    table that neither exists nor may be created (``storage.missing_table_policy``)."""
    errors: list[ETLCompilationError] = []
    tables: dict[str, set[str]] = {}
    created: set[str] = set()
    for step in iter_all_steps(plan):
        component = step.step_type.__qualname__
        if step.target_binding.delta or any(b.delta for b in step.source_bindings):
            errors.extend(_delta_errors(step, created, policy))
        for binding in step.source_bindings:
            if binding.route is not None and _missing(binding.route, tables):
                errors.append(
                    ETLCompilationError(
                        C.UNKNOWN_SOURCE_TABLE,
                        component,
                        f"table {binding.route.table} ({binding.route.name}) does not exist on "
                        f"database {binding.route.database!r}: run manage.py migrate",
                        binding.alias,
                    )
                )
        target = step.target_binding
        for route in (target.route, target.rejects.route if target.rejects else None):
            if route is not None and _missing(route, tables):
                errors.append(
                    ETLCompilationError(
                        C.UNKNOWN_TARGET_TABLE,
                        component,
                        f"table {route.table} ({route.name}) does not exist on database "
                        f"{route.database!r}: run manage.py migrate",
                        "target",
                    )
                )
    return errors


def preflight(plan: PipelinePlan, policy: str = "schema_mode") -> None:
    """Raise the pre-flight errors of ``plan``, all at once.

    Raises:
        ETLCompilationError: a table is missing (one, or a group); ``SchemaNotFoundError``
            for a Delta target that may not be created.
    """
    raise_errors(preflight_errors(plan, policy))
