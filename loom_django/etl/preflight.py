"""Pre-flight: what needs the database (tables exist) checked before anything runs."""

from __future__ import annotations

from django.db import connections

from loom_django.etl.compiler import raise_errors
from loom_django.etl.errors import ETLCompilationError
from loom_django.etl.errors import ETLErrorCode as C
from loom_django.etl.plan import PipelinePlan, TableRoute, iter_all_steps

__all__ = ["preflight", "preflight_errors"]


def _missing(route: TableRoute, tables: dict[str, set[str]]) -> bool:
    if route.database not in tables:
        tables[route.database] = set(connections[route.database].introspection.table_names())
    return route.table not in tables[route.database]


def preflight_errors(plan: PipelinePlan) -> list[ETLCompilationError]:
    """Every Django table of ``plan`` that does not exist (run ``migrate``)."""
    errors: list[ETLCompilationError] = []
    tables: dict[str, set[str]] = {}
    for step in iter_all_steps(plan):
        component = step.step_type.__qualname__
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


def preflight(plan: PipelinePlan) -> None:
    """Raise the pre-flight errors of ``plan``, all at once.

    Raises:
        ETLCompilationError: a table is missing (one, or a group).
    """
    raise_errors(preflight_errors(plan))
