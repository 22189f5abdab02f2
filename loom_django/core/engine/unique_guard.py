"""Uniqueness rules enforced by the constraint instead of a SELECT before the write.

A create use case such as::

    rules = (Rule.forbid(_email_is_taken, message="email already exists")
             .from_params("email_exists"),)

    async def execute(self, cmd: CreateUser = Input(),
                      email_exists: bool = Exists(User, from_command="email", against="email")):
        return await self.main_repo.create(cmd)

pays a SELECT for the ``Exists`` on every call, although the column's unique constraint
already refuses a duplicate. When the flag feeds nothing but ``forbid`` rules, the compiled
plan skips the SELECT, writes, and turns that constraint's violation back into the rule's
own violation: the same 422, and race-free. Nothing else may observe the flag, so the
analysis is conservative; anything it cannot prove keeps the SELECT:

* ``execute`` is one ``self.main_repo.create(...)`` (``core/engine/single_write.py``) of the
  model the ``Exists`` reads, with the built-in repository (which reports
  :class:`~loom_django.core.errors.UniqueConflict`), and the ``Exists`` compares the command
  field of the same name, which no compute rewrites, against a ``unique=True`` column;
* ``execute`` never reads the flag (checked on its bytecode);
* every rule is a declarative rule, and those that read the flag are ``forbid`` rules that
  receive it through ``from_params``; no compute reads the runtime context.

At run time the generated pipeline binds the flag to ``False``. When any rule fails, it runs
the real queries and re-evaluates every rule, so all violations are reported together as
before; when the write raises a ``UniqueConflict`` on the guarded column, the guarding rules
are evaluated with the flag ``True`` and their violations raised instead.
"""

from __future__ import annotations

import dis
from collections.abc import Callable, Sequence
from typing import Any

from loom_django.core.engine.plan import DeferredExists, ExecutionPlan, ExistsStep
from loom_django.core.errors import RuleViolation, RuleViolations, UniqueConflict
from loom_django.core.model.introspection import get_column_fields, get_table_name
from loom_django.core.use_case.compute import ComputeSpec
from loom_django.core.use_case.field_ref import FieldExpr, FieldRef
from loom_django.core.use_case.markers import OnMissing, SourceKind
from loom_django.core.use_case.rule import RuleSpec

__all__ = [
    "DeferredExists",
    "deferrable_exists",
    "matches",
    "reads_local",
    "settle_deferred",
    "unique_violation",
]

_LOADS = frozenset({"LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_DEREF", "LOAD_CLOSURE"})


def reads_local(fn: Callable[..., Any], name: str) -> bool:
    """Whether ``fn``'s body reads its local ``name`` (or a closure captures it)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return True
    if name in code.co_cellvars:
        return True
    for instruction in dis.get_instructions(code):
        if not instruction.opname.startswith("LOAD_FAST") and instruction.opname not in _LOADS:
            continue
        value = instruction.argval
        if value == name or (isinstance(value, tuple) and name in value):
            return True
    return False


def _unique_column(step: ExistsStep) -> str | None:
    entity = step.entity_type
    if step.on_missing is not OnMissing.RETURN_FALSE or "__loom_repository__" in vars(entity):
        return None
    try:
        columns = get_column_fields(entity)
    except (TypeError, AttributeError):
        return None
    info = columns.get(step.against)
    if info is None or not info.field.unique:
        return None
    return step.against


def _rules_reading(rules: Sequence[Any], name: str) -> tuple[int, ...] | None:
    """Indexes of the ``forbid`` rules reading ``name``; ``None`` if another rule may read it."""
    found: list[int] = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, RuleSpec):
            return None
        if any(ref.root == name for ref in rule.field_refs):
            return None
        if name not in rule.param_names:
            continue
        if rule.kind != "forbid":
            return None
        found.append(index)
    return tuple(found)


def _computes_blind(computes: Sequence[Any]) -> bool:
    """Whether no compute can see the runtime context (the flag lives there)."""
    for compute in computes:
        if not isinstance(compute, ComputeSpec) or compute.from_param_names:
            return False
        refs = [*compute.sources, compute.target]
        if isinstance(compute.predicate, FieldRef):
            refs.append(compute.predicate)
        elif isinstance(compute.predicate, FieldExpr):
            refs.extend(compute.predicate.refs())
        elif compute.predicate is not None:
            return False
        if any(isinstance(ref.root, str) for ref in refs):
            return False
    return True


def deferrable_exists(
    created_model: type[Any] | None,
    execute: Callable[..., Any],
    exists: Sequence[ExistsStep],
    computes: Sequence[Any],
    rules: Sequence[Any],
) -> tuple[DeferredExists, ...]:
    """The ``Exists`` steps the plan may answer with the unique constraint (see module).

    ``created_model`` is the model ``execute`` provably inserts the command into, through
    the built-in repository, as its one write (``None`` otherwise: nothing is deferred).
    """
    if created_model is None or not exists or not rules or not _computes_blind(computes):
        return ()
    computed = {compute.target.leaf for compute in computes}
    deferred: list[DeferredExists] = []
    for step in exists:
        if step.entity_type is not created_model or step.source_kind is not SourceKind.COMMAND:
            continue
        if step.source_name != step.against or step.against in computed:
            continue
        column = _unique_column(step)
        if column is None or reads_local(execute, step.name):
            continue
        indexes = _rules_reading(rules, step.name)
        if not indexes:
            continue
        deferred.append(
            DeferredExists(step.name, get_table_name(step.entity_type), column, indexes)
        )
    return tuple(deferred)


def matches(conflict: UniqueConflict, guard: DeferredExists) -> bool:
    """Whether ``conflict`` is the violation of ``guard``'s unique column."""
    if conflict.columns != (guard.column,):
        return False
    return conflict.table is None or conflict.table == guard.table


def _violations(
    plan: ExecutionPlan,
    indexes: Sequence[int],
    command: Any,
    fields_set: frozenset[str],
    bound: dict[str, Any],
) -> list[RuleViolation]:
    found: list[RuleViolation] = []
    for index in indexes:
        try:
            outcome = plan.rule_fns[index](command, fields_set, bound)
        except RuleViolation as violation:
            outcome = violation
        if isinstance(outcome, RuleViolation):
            found.append(outcome)
    return found


async def settle_deferred(
    executor: Any,
    plan: ExecutionPlan,
    command: Any,
    fields_set: frozenset[str],
    bound: dict[str, Any],
    dependencies: Any,
) -> None:
    """A rule failed: answer the deferred ``Exists`` steps for real and re-run every rule.

    Raises:
        RuleViolations: every violation, as the plan without deferral would report them.
    """
    steps = {step.name: step for step in plan.exists_steps}
    for guard in plan.deferred_exists:
        step = steps[guard.name]
        entity = step.entity_type
        repo = dependencies.get(entity) if dependencies is not None else None
        if repo is None:
            repo = executor._repository(entity, dependencies, "Exists")
        value = (
            bound[step.source_name]
            if step.source_kind is SourceKind.PARAM
            else getattr(command, step.source_name)
        )
        bound[guard.name] = bool(await executor._exists_by(repo, entity)(step.against, value))
    violations = _violations(plan, range(len(plan.rule_fns)), command, fields_set, bound)
    if violations:
        raise RuleViolations(violations)


def unique_violation(
    plan: ExecutionPlan,
    conflict: UniqueConflict,
    command: Any,
    fields_set: frozenset[str],
    bound: dict[str, Any],
) -> None:
    """The write hit a guarded unique column: raise the guarding rules' violations.

    Returns without raising when no guard matches (the caller re-raises the conflict).

    Raises:
        RuleViolations: the ``forbid`` rules of the matching guard, evaluated with the flag
            ``True``.
    """
    for guard in plan.deferred_exists:
        if not matches(conflict, guard):
            continue
        violations = _violations(
            plan, guard.rule_indexes, command, fields_set, {**bound, guard.name: True}
        )
        if violations:
            raise RuleViolations(violations) from conflict
