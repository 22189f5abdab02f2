"""Result encoding: every struct goes out camelCase, models and plain ``msgspec.Struct``s alike.

Models, commands and ``Response`` subclasses are declared ``rename="camel"`` and encode
as they are. A plain ``msgspec.Struct`` result (``class Totals(msgspec.Struct): item_count:
int``) would go out snake_case; a route whose declared result contains one gets an encoder
that renames its fields, decided once at startup so other routes keep msgspec's direct path.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from functools import cache
from types import UnionType
from typing import Any

import msgspec

from loom_django.rest.naming import snake_to_camel

__all__ = [
    "camel_struct_type",
    "needs_camel",
    "result_encoder",
    "snake_envelope_encoder",
    "snake_envelope_type",
]

_encode = msgspec.json.Encoder().encode


def _is_plain(cls: type[Any]) -> bool:
    """A struct whose wire names are its snake_case Python names (no ``rename``)."""
    fields = cls.__struct_fields__
    return cls.__struct_encode_fields__ == fields and any("_" in name for name in fields)


def needs_camel(tp: Any, _seen: set[Any] | None = None) -> bool:
    """Whether the type ``tp`` contains a plain struct with snake_case field names."""
    seen = _seen if _seen is not None else set()
    if tp in seen:
        return False
    seen.add(tp)
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        if _is_plain(tp):
            return True
        try:
            hints = typing.get_type_hints(tp)
        except Exception:
            return False
        return any(needs_camel(hint, seen) for hint in hints.values())
    origin = typing.get_origin(tp)
    if origin is not None or isinstance(tp, UnionType):
        return any(needs_camel(arg, seen) for arg in typing.get_args(tp))
    return False


def _camel_builtins(value: Any) -> Any:
    if isinstance(value, msgspec.Struct):
        cls = type(value)
        names = cls.__struct_fields__
        wire = cls.__struct_encode_fields__
        plain = wire == names
        out: dict[str, Any] = {}
        for name, encoded in zip(names, wire, strict=True):
            item = getattr(value, name)
            if item is msgspec.UNSET:
                continue
            out[snake_to_camel(name) if plain else encoded] = _camel_builtins(item)
        return out
    if isinstance(value, list | tuple):
        return [_camel_builtins(item) for item in value]
    if isinstance(value, dict):
        return {key: _camel_builtins(item) for key, item in value.items()}
    return value


def _encode_camel(value: Any) -> bytes:
    return _encode(_camel_builtins(value))


def result_encoder(result_type: Any) -> Callable[[Any], bytes]:
    """The JSON encoder of a route whose ``execute`` returns ``result_type``."""
    return _encode_camel if needs_camel(result_type) else _encode


@cache
def camel_struct_type(cls: type[Any]) -> type[Any]:
    """A camelCase twin of a plain struct, for its OpenAPI schema."""
    fields: list[Any] = []
    for info in msgspec.structs.fields(cls):
        if info.required:
            fields.append((info.name, info.type))
        elif info.default_factory is not msgspec.NODEFAULT:
            fields.append(
                (info.name, info.type, msgspec.field(default_factory=info.default_factory))
            )
        else:
            fields.append((info.name, info.type, info.default))
    return msgspec.defstruct(
        cls.__name__, fields, rename="camel", kw_only=True, module=cls.__module__
    )


def snake_envelope_encoder(encode: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
    """``app.rest.list_envelope: snake``: ``total_count``, ``has_next``, ``next_cursor`` for
    clients of older loom-kernel versions; the items keep their own encoding."""
    from loom_django.core.repository.abc.query import CursorResult, PageResult

    camel_items = encode is _encode_camel

    def encode_snake(value: Any) -> bytes:
        if not isinstance(value, PageResult | CursorResult):
            return encode(value)
        out = {name: getattr(value, name) for name in type(value).__struct_fields__}
        if camel_items:
            out["items"] = _camel_builtins(out["items"])
        return _encode(out)

    return encode_snake


@cache
def snake_envelope_type(result: Any) -> type[Any]:
    """A snake_case twin of ``PageResult[Model]``/``CursorResult[Model]`` for OpenAPI."""
    origin = typing.get_origin(result) or result
    (model,) = typing.get_args(result) or (Any,)
    fields = [(info.name, info.type) for info in msgspec.structs.fields(result)]
    name = f"{origin.__name__}{getattr(model, '__name__', '')}Snake"
    return msgspec.defstruct(name, fields, kw_only=True, module=origin.__module__)
