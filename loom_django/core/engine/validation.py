"""Startup checks of computes, rules and load profiles, so typos fail before any request."""

from __future__ import annotations

import typing
from collections.abc import Sequence
from typing import Any

from loom_django.core.errors import CompilationError
from loom_django.core.use_case.compute import ComputeSpec
from loom_django.core.use_case.field_ref import FieldExpr, FieldRef
from loom_django.core.use_case.rule import RuleSpec

__all__ = ["validate_declarations"]


def validate_declarations(
    qualname: str,
    command_type: type[Any] | None,
    computes: Sequence[Any],
    rules: Sequence[Any],
    *,
    context_keys: frozenset[str],
    loads: Sequence[Any],
) -> None:
    """Check every F path, ``from_params`` name, compute target and load profile.

    Raises:
        CompilationError: naming the use case, the rule or compute index and the bad name.
    """
    if command_type is None and (computes or rules):
        raise CompilationError(
            f"{qualname}: computes/rules are declared but execute() has no Input() parameter, "
            "so they would never run"
        )
    for index, compute in enumerate(computes):
        where = f"{qualname}: computes[{index}]"
        _check_callable(where, compute)
        if isinstance(compute, ComputeSpec):
            _check_ref(where, compute.target, command_type, context_keys)
            for ref in compute.sources:
                _check_ref(where, ref, command_type, context_keys)
            _check_predicate(where, compute.predicate, command_type, context_keys)
            _check_params(where, compute.from_param_names, context_keys)
    for index, rule in enumerate(rules):
        where = f"{qualname}: rules[{index}]"
        _check_callable(where, rule)
        if isinstance(rule, RuleSpec):
            for ref in rule.field_refs:
                _check_ref(where, ref, command_type, context_keys)
            _check_params(where, rule.param_names, context_keys)
    for step in loads:
        _check_profile(qualname, step)


def _check_callable(where: str, item: Any) -> None:
    if not callable(item):
        raise CompilationError(f"{where}: {item!r} is not callable")


def _check_params(where: str, names: Sequence[str], context_keys: frozenset[str]) -> None:
    for name in names:
        if name not in context_keys:
            known = ", ".join(sorted(context_keys)) or "none"
            raise CompilationError(
                f"{where}: from_params name '{name}' is not a parameter of execute (known: {known})"
            )


def _check_predicate(
    where: str, predicate: Any, command_type: type[Any] | None, context_keys: frozenset[str]
) -> None:
    if isinstance(predicate, FieldExpr):
        for ref in predicate.refs():
            _check_ref(where, ref, command_type, context_keys)
    elif isinstance(predicate, FieldRef):
        _check_ref(where, predicate, command_type, context_keys)


def _check_ref(
    where: str, ref: FieldRef, command_type: type[Any] | None, context_keys: frozenset[str]
) -> None:
    root = ref.root
    if isinstance(root, str):
        if root not in context_keys:
            raise CompilationError(f"{where}: F('{root}') does not name a parameter of execute")
        return
    from loom_django.core.command import Command

    if (
        isinstance(root, type)
        and issubclass(root, Command)
        and command_type is not None
        and not issubclass(command_type, root)
    ):
        raise CompilationError(
            f"{where}: F({root.__name__}) does not match the Input() command type "
            f"{command_type.__name__}"
        )
    current: Any = root
    for name in ref.path:
        fields = _field_types(current)
        if fields is None:
            return
        if name not in fields:
            raise CompilationError(
                f"{where}: unknown field '{name}' on {getattr(current, '__name__', current)} "
                f"(in {ref})"
            )
        current = _unwrap(fields[name])


def _field_types(cls: Any) -> dict[str, Any] | None:
    if not isinstance(cls, type):
        return None
    names = getattr(cls, "__struct_fields__", None)
    if names is None:
        return None
    try:
        hints = typing.get_type_hints(cls)
    except Exception:
        hints = {}
    return {name: hints.get(name, Any) for name in names}


def _unwrap(annotation: Any) -> Any:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(args) == 1 and typing.get_origin(annotation) in (typing.Union, _union_type()):
        return args[0]
    return annotation


def _union_type() -> Any:
    import types

    return types.UnionType


def _check_profile(qualname: str, step: Any) -> None:
    if step.profile == "default":
        return
    try:
        from loom_django.core.model import model_profiles
    except ImportError:
        return
    entity = step.entity_type
    if getattr(entity, "__struct_fields__", None) is None:
        return
    profiles = model_profiles(entity)
    if step.profile not in profiles:
        raise CompilationError(
            f"{qualname}.execute: {step.name}: profile '{step.profile}' is not defined by "
            f"{entity.__name__} (defined: {', '.join(sorted(profiles))})"
        )
