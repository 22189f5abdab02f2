"""Source lines that bind a pipeline's parameters and decode its payload into the command."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from loom_django.core.command import FIELDS_SET_ATTR, Command, get_patch_fields, known_shapes
from loom_django.core.engine.coercion import CoercionFailed
from loom_django.core.engine.plan import NO_DEFAULT, ExecutionPlan, ParamBinding
from loom_django.core.model.introspection import get_column_fields
from loom_django.core.use_case.use_case import use_case_model

if TYPE_CHECKING:
    from loom_django.core.engine._codegen_steps import Slots

__all__ = ["bind_section", "decode_lines", "input_decoder"]


def bind_section(plan: ExecutionPlan, slots: Slots, names: dict[str, Any]) -> list[str]:
    """Parameter binding: the fast conversions inline, the full report on any problem."""
    if not plan.param_bindings:
        return []
    names["CoercionFailed"] = CoercionFailed
    names["NO_DEFAULT"] = NO_DEFAULT
    lines = ["    if params is None:", "        params = {}", "    try:"]
    for index, param in enumerate(plan.param_bindings):
        lines += _bind_lines(index, param, slots.ref(param.name), names)
    lines.append("    except (KeyError, CoercionFailed, ValueError):")
    if slots.as_dict:
        return [*lines, "        executor._bind_params(plan, params, bound)"]
    lines += ["        checked = {}", "        executor._bind_params(plan, params, checked)"]
    bound_names = tuple(param.name for param in plan.param_bindings)
    return lines + [f"        {line}" for line in slots.unpack(bound_names, "checked")]


def _bind_lines(index: int, param: ParamBinding, target: str, names: dict[str, Any]) -> list[str]:
    key = repr(param.name)
    coerce = f"coerce_{index}"
    names[coerce] = param.coerce
    if param.coerce is None:
        value = f"params[{key}]"
    elif param.annotation is int:
        # Path and query parameters arrive as digit strings: convert ASCII ones without a
        # call; everything else (signs, odd digits) goes through the coercer, which
        # refuses non-canonical text. A number too long for int() raises ValueError,
        # which sends the call to the full binder and its report.
        value = (
            f"value if type(value := params[{key}]) is int else "
            "int(value) if type(value) is str and value.isascii() and value.isdigit() "
            f"else {coerce}(value)"
        )
    elif isinstance(param.annotation, type):
        names[f"type_{index}"] = param.annotation
        value = f"value if type(value := params[{key}]) is type_{index} else {coerce}(value)"
    else:
        value = f"{coerce}(params[{key}])"
    if param.default is NO_DEFAULT:
        return [f"        {target} = {value}"]
    names[f"default_{index}"] = param.default
    return [
        f"        if {key} in params:",
        f"            {target} = {value}",
        "        else:",
        f"            {target} = default_{index}",
    ]


def decode_lines(plan: ExecutionPlan, names: dict[str, Any]) -> list[str]:
    """Decode the payload: a payload shape seen before that needs no renaming is
    converted here directly; anything else (and every error) goes through the decoder."""
    assert plan.input_binding is not None
    command_type = plan.input_binding.command_type
    call = ["    command, fields_set = from_payload(payload)"]
    missing = ["    if payload is None:", "        executor._missing_payload(plan)"]
    if not (isinstance(command_type, type) and issubclass(command_type, Command)):
        return missing + call
    if names["from_payload"] != command_type._command_info().decode:
        return missing + call  # the decoder also refuses nulls: keep it whole
    shapes = known_shapes(command_type)
    if shapes is None:
        return missing + call
    info = command_type._command_info()
    names.update(
        known_shapes=shapes,
        command_type=command_type,
        convert=msgspec.convert,
        DecodeError=msgspec.ValidationError,
        required_fields=frozenset(info.python_by_encoded[name] for name in info.required),
    )
    convert = [
        "        try:",
        "            command = convert(payload, command_type)  # strict by default",
        "        except DecodeError:",
        *[f"        {line}" for line in call],
        "        else:",
    ]
    attach = f"            command.__dict__[{FIELDS_SET_ATTR!r}] = fields_set"
    # A payload with exactly as many keys as the command has required fields, that
    # converts, holds those fields and nothing else: its fields_set is known without
    # looking at its keys. Other payloads look their key tuple up among known shapes.
    return [
        f"    if type(payload) is dict and len(payload) == {len(info.required)}:",
        *convert,
        "            fields_set = required_fields",
        attach,
        "    else:",
        *[f"    {line}" for line in missing],
        "        shape = known_shapes.get(tuple(payload)) if type(payload) is dict else None",
        "        if shape is None or shape[1]:",
        *[f"        {line}" for line in call],
        "        else:",
        *[f"    {line}" for line in convert],
        "                fields_set = shape[0]",
        f"    {attach}",
    ]


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
