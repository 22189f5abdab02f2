"""Turns compute and rule declarations into specialised closures once, at compile time.

The executor calls these closures with ``(command, fields_set, context)``; each reads its
fields with a C-level ``attrgetter`` and does nothing it could have decided earlier.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from msgspec.structs import force_setattr

from loom_django.core.errors import RuleViolation
from loom_django.core.use_case.compute import ComputeSpec
from loom_django.core.use_case.field_ref import FieldRef
from loom_django.core.use_case.rule import RuleSpec

__all__ = ["StepFn", "compile_compute", "compile_rule", "make_outcome", "plain_refs", "rule_field"]

StepFn = Callable[[Any, frozenset[str], dict[str, Any]], Any]


def plain_refs(refs: tuple[FieldRef, ...]) -> bool:
    """Whether every ref is one plain attribute of the command (fit for ``attrgetter``)."""
    return all(
        not isinstance(r.root, str)
        and len(r.path) == 1
        and r.path[0].isidentifier()
        and not keyword.iskeyword(r.path[0])
        for r in refs
    )


def _values_getter(refs: tuple[FieldRef, ...]) -> Callable[[Any, dict[str, Any]], tuple[Any, ...]]:
    """One call returning the values of ``refs`` (attrgetter when all are plain fields)."""
    if all(not isinstance(r.root, str) and len(r.path) == 1 for r in refs):
        getter = attrgetter(*(r.path[0] for r in refs))
        if len(refs) == 1:
            return lambda command, context: (getter(command),)
        return lambda command, context: getter(command)
    return lambda command, context: tuple(r.resolve(command, context) for r in refs)


def compile_compute(fn: Any, accepts_context: bool, patch_fields: frozenset[str]) -> StepFn:
    """A closure ``(command, fields_set, context) -> command`` for one compute.

    Built-in computes write their target in place on the command the execution built
    (``force_setattr``), except patch-field targets, which go through ``replace`` so the
    executor can see that they ran and add them to the write set.
    """
    if not isinstance(fn, ComputeSpec):
        if accepts_context:
            return fn  # type: ignore[no-any-return]
        return lambda command, fields_set, context: fn(command, fields_set)
    if fn.predicate is not None or fn.target.leaf in patch_fields:
        return fn
    leaf = fn.target.leaf
    via = fn.via
    names = fn.from_param_names
    if fn.whole_command:
        assert via is not None

        def whole(command: Any, fields_set: frozenset[str], context: dict[str, Any]) -> Any:
            force_setattr(command, leaf, via(command, *[context[n] for n in names]))
            return command

        return whole
    if names or len(fn.sources) > 2 or not plain_refs(fn.sources):
        values = _values_getter(fn.sources)
    elif len(fn.sources) == 1:
        one = attrgetter(fn.sources[0].path[0])
        if via is None:

            def copy_one(command: Any, fields_set: frozenset[str], context: Any) -> Any:
                force_setattr(command, leaf, one(command))
                return command

            return copy_one

        def derive_one(command: Any, fields_set: frozenset[str], context: Any) -> Any:
            force_setattr(command, leaf, via(one(command)))
            return command

        return derive_one
    else:
        first, second = (attrgetter(ref.path[0]) for ref in fn.sources)
        assert via is not None

        def derive_two(command: Any, fields_set: frozenset[str], context: Any) -> Any:
            force_setattr(command, leaf, via(first(command), second(command)))
            return command

        return derive_two
    if via is None:

        def copy(command: Any, fields_set: frozenset[str], context: dict[str, Any]) -> Any:
            force_setattr(command, leaf, values(command, context)[0])
            return command

        return copy
    if not names:

        def derive(command: Any, fields_set: frozenset[str], context: dict[str, Any]) -> Any:
            force_setattr(command, leaf, via(*values(command, context)))
            return command

        return derive

    def derive_with_params(
        command: Any, fields_set: frozenset[str], context: dict[str, Any]
    ) -> Any:
        force_setattr(command, leaf, via(*values(command, context), *[context[n] for n in names]))
        return command

    return derive_with_params


def rule_field(fn: RuleSpec, command_type: type[Any] | None) -> str:
    """The field a failing rule reports, decided once (spec fallback order)."""
    return str(
        fn.explicit_field
        or (
            fn.targets[0].leaf
            if fn.targets
            else fn.command_refs[0].leaf
            if fn.command_refs
            else fn.param_names[0]
            if fn.param_names
            else getattr(command_type, "__name__", "command")
        )
    )


def make_outcome(field: str, message: str | None) -> Callable[[Any], RuleViolation | None]:
    """Map what a rule's evaluator returned to a violation (or None when it passed)."""
    failure_message = message or "Rule check failed"

    def outcome_of(outcome: Any) -> RuleViolation | None:
        if outcome is None or outcome is False:
            return None
        if outcome is True:
            return RuleViolation(field, failure_message)
        if isinstance(outcome, str):
            return RuleViolation(field, outcome)
        if isinstance(outcome, RuleViolation):
            return outcome
        return None

    return outcome_of


def compile_rule(fn: Any, accepts_context: bool, command_type: type[Any] | None) -> StepFn:
    """A closure ``(command, fields_set, context) -> RuleViolation | None`` for one rule."""
    if not isinstance(fn, RuleSpec):
        if accepts_context:
            return fn  # type: ignore[no-any-return]
        return lambda command, fields_set, context: fn(command, fields_set)
    if fn.kind == "require_present" or fn.predicate is not None or fn.fn is None:
        return fn
    via = fn.fn
    outcome_of = make_outcome(rule_field(fn, command_type), fn.message)
    names = fn.param_names
    refs = fn.targets or (fn.command_refs if fn.uses_command_refs else ())
    values = _values_getter(refs) if refs else None

    if values is not None and not names and len(refs) == 1 and plain_refs(refs):
        one = attrgetter(refs[0].path[0])

        def check_one(command: Any, fields_set: frozenset[str], context: Any) -> Any:
            outcome = via(one(command))
            if outcome is None or outcome is False:
                return None
            return outcome_of(outcome)

        return check_one
    if values is not None and not names:
        return lambda command, fields_set, context: outcome_of(via(*values(command, context)))
    if values is not None:
        return lambda command, fields_set, context: outcome_of(
            via(*values(command, context), *[context[n] for n in names])
        )
    return lambda command, fields_set, context: outcome_of(
        via(command, fields_set, *[context[n] for n in names])
    )
