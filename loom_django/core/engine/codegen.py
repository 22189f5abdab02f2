"""Generates one straight-line pipeline function per plan, so a call runs no step loops.

The generated coroutine does exactly what ``RuntimeExecutor`` documents (bind, command,
loads, exists, computes, rules, execute) with every decision that depends only on the plan
taken at compile time. Slow paths (error reporting, repository resolution) call back into
the executor.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from msgspec.structs import force_setattr

from loom_django.core.command import get_patch_fields, with_fields_set
from loom_django.core.engine.coercion import MAX_INT_DIGITS, CoercionFailed
from loom_django.core.engine.fastpath import make_outcome, plain_refs, rule_field
from loom_django.core.engine.plan import NO_DEFAULT, ExecutionPlan, ParamBinding
from loom_django.core.engine.unique_guard import settle_deferred, unique_violation
from loom_django.core.errors import (
    NotFound,
    RuleViolation,
    RuleViolations,
    UniqueConflict,
    ValidationError,
)
from loom_django.core.model.introspection import get_column_fields
from loom_django.core.use_case.compute import ComputeSpec
from loom_django.core.use_case.field_ref import FieldRef
from loom_django.core.use_case.markers import LookupKind, OnMissing, SourceKind
from loom_django.core.use_case.rule import RuleSpec
from loom_django.core.use_case.use_case import use_case_model

__all__ = ["Pipeline", "generate_pipeline", "input_decoder"]

Pipeline = Callable[..., Coroutine[Any, Any, Any]]


def generate_pipeline(plan: ExecutionPlan) -> Pipeline:
    """Build the pipeline coroutine function of ``plan``.

    Its signature is ``(executor, instance, params, payload, dependencies, load_overrides)``.
    """
    names: dict[str, Any] = {
        "NotFound": NotFound,
        "RuleViolation": RuleViolation,
        "RuleViolations": RuleViolations,
        "ValidationError": ValidationError,
        "ComputeSpec": ComputeSpec,
        "with_fields_set": with_fields_set,
        "plan": plan,
    }
    lines = [
        "async def pipeline(executor, instance, params, payload, dependencies, load_overrides):",
        "    bound = {}",
    ]
    if plan.param_bindings:
        names["CoercionFailed"] = CoercionFailed
        names["NO_DEFAULT"] = NO_DEFAULT
        lines += ["    if params is None:", "        params = {}", "    try:"]
        for index, param in enumerate(plan.param_bindings):
            lines += _bind_lines(index, param, names)
        lines += [
            "    except (KeyError, CoercionFailed):",
            "        executor._bind_params(plan, params, bound)",
        ]
    binding = plan.input_binding
    if binding is not None:
        names["from_payload"] = input_decoder(plan)
        lines += [
            "    if payload is None:",
            "        executor._missing_payload(plan)",
            "    command, fields_set = from_payload(payload)",
            f"    bound[{binding.name!r}] = command",
        ]
    for index, load in enumerate(plan.load_steps):
        entity = f"load_entity_{index}"
        names[entity] = load.entity_type
        value = _source(load.source_kind, load.source_name)
        lines += [
            f"    if load_overrides is not None and {entity} in load_overrides:",
            f"        found = load_overrides[{entity}]",
            "    else:",
            f"        repo = dependencies.get({entity}) if dependencies is not None else None",
            "        if repo is None:",
            f"            repo = executor._repository({entity}, dependencies, 'LoadById')",
            f"        value = {value}",
        ]
        if load.lookup_kind is LookupKind.BY_ID:
            lines.append(f"        found = await repo.get_by_id(value, profile={load.profile!r})")
        else:
            names[f"load_step_{index}"] = load
            lines.append(f"        found = await executor._get_by(repo, load_step_{index}, value)")
        lines.append("        if found is None:")
        if load.on_missing is OnMissing.RAISE:
            lines.append(f"            raise NotFound({entity}.__name__, id=value)")
        else:
            empty = "None" if load.on_missing is OnMissing.RETURN_NONE else "False"
            lines.append(f"            found = {empty}")
        lines.append(f"    bound[{load.name!r}] = found")
    deferred = {guard.name for guard in plan.deferred_exists}
    for index, check in enumerate(plan.exists_steps):
        if check.name in deferred:
            lines.append(f"    bound[{check.name!r}] = False")
            continue
        entity = f"exists_entity_{index}"
        names[entity] = check.entity_type
        lines += [
            f"    repo = dependencies.get({entity}) if dependencies is not None else None",
            "    if repo is None:",
            f"        repo = executor._repository({entity}, dependencies, 'Exists')",
            f"    value = {_source(check.source_kind, check.source_name)}",
            f"    exists_by = executor._exists_by(repo, {entity})",
            f"    found = bool(await exists_by({check.against!r}, value))",
        ]
        if check.on_missing is OnMissing.RAISE:
            lines += ["    if not found:", f"        raise NotFound({entity}.__name__, id=value)"]
        lines.append(f"    bound[{check.name!r}] = found")
    if plan.compute_fns:
        assert binding is not None
        lines += ["    original = command", "    computed = None"]
        for index, (step, fn) in enumerate(zip(plan.compute_steps, plan.compute_fns, strict=True)):
            inline = _inline_compute(index, step.fn, fn, names)
            if inline is not None:
                lines.append(inline)
                continue
            names[f"compute_{index}"] = fn
            lines += [
                f"    new = compute_{index}(command, fields_set, bound)",
                "    if new is not command:",
            ]
            if isinstance(fn, ComputeSpec):
                lines.append(f"        computed = (computed or set()) | {{{fn.target.leaf!r}}}")
            lines += ["        command = new", f"        bound[{binding.name!r}] = command"]
        lines += [
            "    if computed:",
            "        with_fields_set(command, fields_set | computed)",
            "    elif command is not original:",
            "        with_fields_set(command, fields_set)",
        ]
    if plan.rule_fns:
        lines.append("    violations = None")
        command_type = binding.command_type if binding is not None else None
        for index, (rule_step, fn) in enumerate(zip(plan.rule_steps, plan.rule_fns, strict=True)):
            inline_lines = _inline_rule(index, rule_step.fn, command_type, names)
            if inline_lines is not None:
                lines += inline_lines
                continue
            names[f"rule_{index}"] = fn
            lines += [
                "    try:",
                f"        outcome = rule_{index}(command, fields_set, bound)",
                "    except RuleViolation as violation:",
                "        outcome = violation",
                "    if outcome is not None and isinstance(outcome, RuleViolation):",
                "        if violations is None:",
                "            violations = []",
                "        violations.append(outcome)",
            ]
        lines.append("    if violations:")
        if deferred:
            names["settle_deferred"] = settle_deferred
            lines.append(
                "        await settle_deferred(executor, plan, command, fields_set, bound, "
                "dependencies)"
            )
        else:
            lines.append("        raise RuleViolations(violations)")
    call = "instance.execute(**bound)"
    returned = f"    return await {call}" if plan.is_async else f"    return {call}"
    if deferred:
        names["UniqueConflict"] = UniqueConflict
        names["unique_violation"] = unique_violation
        lines += [
            "    try:",
            "    " + returned,
            "    except UniqueConflict as conflict:",
            "        unique_violation(plan, conflict, command, fields_set, bound)",
            "        raise",
        ]
    else:
        lines.append(returned)
    source = "\n".join(lines)
    code = compile(source, f"<loom pipeline {plan.name}>", "exec")
    exec(code, names)
    pipeline: Pipeline = names["pipeline"]
    pipeline.__loom_source__ = source  # type: ignore[attr-defined]
    return pipeline


def input_decoder(plan: ExecutionPlan) -> Callable[[Any], tuple[Any, frozenset[str]]]:
    """The payload decoder of ``plan``'s input command.

    ``Patch`` fields over NOT NULL columns of the use case's model refuse an explicit
    ``null`` here, so it is a 422 naming the field rather than an error inside a rule
    or a constraint violation in the database.
    """
    binding = plan.input_binding
    assert binding is not None
    command_type = binding.command_type
    decoder = getattr(command_type, "_payload_decoder", None)
    if decoder is None:
        from_payload: Callable[[Any], tuple[Any, frozenset[str]]] = command_type.from_payload
        return from_payload
    not_null = _not_null_patch_fields(command_type, use_case_model(plan.use_case_type))
    result: Callable[[Any], tuple[Any, frozenset[str]]] = decoder(not_null)
    return result


def _not_null_patch_fields(command_type: type[Any], model: Any) -> tuple[str, ...]:
    if model is None:
        return ()
    columns = get_column_fields(model)
    return tuple(
        name
        for name in get_patch_fields(command_type)
        if name in columns and not columns[name].nullable
    )


def _bind_lines(index: int, param: ParamBinding, names: dict[str, Any]) -> list[str]:
    key = repr(param.name)
    coerce = f"coerce_{index}"
    names[coerce] = param.coerce
    if param.coerce is None:
        value = f"params[{key}]"
    elif param.annotation is int:
        # Path and query parameters arrive as digit strings: convert short ASCII ones
        # without a call; everything else (signs, odd digits, huge numbers) goes through
        # the coercer, which refuses non-canonical text.
        value = (
            f"value if type(value := params[{key}]) is int else "
            "int(value) if type(value) is str and value.isascii() and value.isdigit() "
            f"and len(value) <= {MAX_INT_DIGITS} else {coerce}(value)"
        )
    elif isinstance(param.annotation, type):
        names[f"type_{index}"] = param.annotation
        value = f"value if type(value := params[{key}]) is type_{index} else {coerce}(value)"
    else:
        value = f"{coerce}(params[{key}])"
    if param.default is NO_DEFAULT:
        return [f"        bound[{key}] = {value}"]
    names[f"default_{index}"] = param.default
    return [
        f"        if {key} in params:",
        f"            bound[{key}] = {value}",
        "        else:",
        f"            bound[{key}] = default_{index}",
    ]


def _args(refs: tuple[FieldRef, ...], params: tuple[str, ...]) -> str:
    return ", ".join([f"command.{ref.path[0]}" for ref in refs] + [f"bound[{p!r}]" for p in params])


def _inline_compute(index: int, spec: Any, fn: Any, names: dict[str, Any]) -> str | None:
    """One line for a built-in compute the fast path writes in place, else None."""
    if not isinstance(spec, ComputeSpec) or fn is spec or not plain_refs(spec.sources):
        return None
    names["force_setattr"] = force_setattr
    leaf = repr(spec.target.leaf)
    if spec.via is None:
        return f"    force_setattr(command, {leaf}, command.{spec.sources[0].path[0]})"
    names[f"compute_via_{index}"] = spec.via
    if spec.whole_command:
        args = ", ".join(["command"] + [f"bound[{p!r}]" for p in spec.from_param_names])
    else:
        args = _args(spec.sources, spec.from_param_names)
    return f"    force_setattr(command, {leaf}, compute_via_{index}({args}))"


def _inline_rule(
    index: int, spec: Any, command_type: type[Any] | None, names: dict[str, Any]
) -> list[str] | None:
    """Lines for a check/forbid rule without presence gate, else None."""
    if not isinstance(spec, RuleSpec) or spec.kind == "require_present" or spec.fn is None:
        return None
    if spec.predicate is not None:
        return None
    refs = spec.targets or (spec.command_refs if spec.uses_command_refs else ())
    if refs and not plain_refs(refs):
        return None
    names[f"rule_via_{index}"] = spec.fn
    names[f"rule_outcome_{index}"] = make_outcome(rule_field(spec, command_type), spec.message)
    if refs:
        args = _args(refs, spec.param_names)
    else:
        args = ", ".join(["command", "fields_set"] + [f"bound[{p!r}]" for p in spec.param_names])
    return [
        "    try:",
        f"        outcome = rule_via_{index}({args})",
        "    except RuleViolation as violation:",
        "        outcome = violation",
        "    if outcome is not None and outcome is not False:",
        f"        outcome = rule_outcome_{index}(outcome)",
        "        if outcome is not None:",
        "            if violations is None:",
        "                violations = []",
        "            violations.append(outcome)",
    ]


def _source(kind: SourceKind, name: str) -> str:
    if kind is SourceKind.PARAM:
        return f"bound[{name!r}]"
    return f"getattr(command, {name!r})"
