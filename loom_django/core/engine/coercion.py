"""Parameter coercion: converts caller values (often strings) to ``execute`` annotations."""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

import msgspec

from loom_django.core.engine.plan import NO_DEFAULT as _NO_DEFAULT

__all__ = ["MAX_INT_DIGITS", "CoercionFailed", "build_binder", "build_coercer", "parse_int"]

MAX_INT_DIGITS = 4300
"""Longest digit string read as an int (CPython's default ``int()`` limit)."""


class CoercionFailed(ValueError):
    """The value cannot be converted to the annotation."""


def parse_int(text: str) -> int | None:
    """The int written canonically in ``text``, else ``None``.

    Canonical means ASCII digits with an optional ``+``/``-`` sign, at most
    :data:`MAX_INT_DIGITS` digits: no spaces, underscores, exponents, decimal points or
    non-ASCII digits (``int()`` reads ``" 1_0"`` and ``"\\uff11"``; a path or query integer must
    not).
    """
    digits = text[1:] if text[:1] in ("-", "+") else text
    if digits.isascii() and digits.isdigit() and len(digits) <= MAX_INT_DIGITS:
        return int(text)
    return None


def build_coercer(annotation: Any) -> Callable[[Any], Any] | None:
    """Return a converter for ``annotation``, or ``None`` when values pass through unchanged."""
    if annotation is Any or annotation is object or isinstance(annotation, typing.TypeVar):
        return None
    if annotation is str:
        return _to_str
    if annotation is int:
        return _to_int
    if isinstance(annotation, type):
        if _is_struct_like(annotation):
            return _passthrough_instances(annotation)
        return _plain(annotation)
    try:
        msgspec.inspect.type_info(annotation)
    except Exception:
        return None
    return _lax(annotation)


def _is_struct_like(cls: type[Any]) -> bool:
    return issubclass(cls, msgspec.Struct) or hasattr(cls, "__dataclass_fields__")


def _to_str(value: Any) -> Any:
    if type(value) is str:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value
    raise CoercionFailed


def _to_int(value: Any) -> Any:
    kind = type(value)
    if kind is int:
        return value
    if isinstance(value, str):
        parsed = parse_int(value)
        if parsed is None:
            raise CoercionFailed
        return parsed
    if isinstance(value, bool):
        raise CoercionFailed
    try:
        return msgspec.convert(value, int, strict=False)
    except (msgspec.ValidationError, TypeError) as exc:
        raise CoercionFailed from exc


def _plain(cls: type[Any]) -> Callable[[Any], Any]:
    def coerce(value: Any) -> Any:
        if type(value) is cls:
            return value
        if isinstance(value, cls) and not (cls is int and isinstance(value, bool)):
            return value
        try:
            return msgspec.convert(value, cls, strict=False)
        except (msgspec.ValidationError, TypeError) as exc:
            raise CoercionFailed from exc

    return coerce


def _passthrough_instances(cls: type[Any]) -> Callable[[Any], Any]:
    def coerce(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        try:
            return msgspec.convert(value, cls, strict=False)
        except (msgspec.ValidationError, TypeError) as exc:
            raise CoercionFailed from exc

    return coerce


def _lax(annotation: Any) -> Callable[[Any], Any]:
    def coerce(value: Any) -> Any:
        try:
            return msgspec.convert(value, annotation, strict=False)
        except (msgspec.ValidationError, TypeError) as exc:
            raise CoercionFailed from exc

    return coerce


def build_binder(
    bindings: tuple[Any, ...],
) -> Callable[[dict[str, Any], dict[str, Any]], bool]:
    """A fast binder for the common case: every parameter given and convertible.

    Returns False (having bound nothing reliable) when a value is missing or does not
    convert; the executor then runs its detailed binder to report every problem.
    """
    steps = tuple((b.name, b.coerce, b.default) for b in bindings)

    def bind(params: dict[str, Any], bound: dict[str, Any]) -> bool:
        try:
            for name, coerce, default in steps:
                if name in params:
                    value = params[name]
                    bound[name] = coerce(value) if coerce is not None else value
                elif default is not _NO_DEFAULT:
                    bound[name] = default
                else:
                    return False
        except CoercionFailed:
            return False
        return True

    return bind
