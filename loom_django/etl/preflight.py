"""Pre-flight: what needs the database (tables exist) checked before anything runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections

from loom_django.etl.compiler import raise_errors
from loom_django.etl.errors import ETLCompilationError, SchemaNotFoundError
from loom_django.etl.errors import ETLErrorCode as C
from loom_django.etl.plan import (
    ParallelProcessGroup,
    ParallelStepGroup,
    PipelinePlan,
    StepPlan,
    TableRoute,
)

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


def _walk(
    nodes: Sequence[Any], created: set[str], visit: Callable[[StepPlan, set[str]], None]
) -> None:
    """Visit steps in run order; members of a parallel group see only what was created before
    the group, and everything they create is visible after it."""
    for node in nodes:
        if isinstance(node, ParallelStepGroup | ParallelProcessGroup):
            after = set(created)
            for member in node.plans:
                seen = set(created)
                if isinstance(member, StepPlan):
                    visit(member, seen)
                else:
                    _walk(member.nodes, seen, visit)
                after |= seen
            created |= after
        elif isinstance(node, StepPlan):
            visit(node, created)
        else:
            _walk(node.nodes, created, visit)


def preflight_errors(plan: PipelinePlan, policy: str = "schema_mode") -> list[ETLCompilationError]:
    """Every Django table of ``plan`` that does not exist (run ``migrate``), and every Delta
    table that neither exists nor may be created (``storage.missing_table_policy``) by an
    earlier step (a sibling in the same parallel group does not count)."""
    errors: list[ETLCompilationError] = []
    tables: dict[str, set[str]] = {}
    _walk(
        plan.nodes, set(), lambda step, created: errors.extend(_step(step, created, tables, policy))
    )
    return errors


def _step(
    step: StepPlan, created: set[str], tables: dict[str, set[str]], policy: str
) -> list[ETLCompilationError]:
    """The pre-flight errors of one step; Delta tables it may create are added to ``created``."""
    errors: list[ETLCompilationError] = []
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
