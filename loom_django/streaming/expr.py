"""Routing expressions: ``msg`` and ``payload`` build attribute/item paths and predicates."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["Expr", "msg", "payload"]


def _step(value: Any, part: tuple[str, Any]) -> Any:
    how, name = part
    if how == "attr":
        if isinstance(value, Mapping):
            return value[name]
        return getattr(value, name)
    return value[name]


class Expr:
    """A path (``msg.payload.segment``) or a boolean combination evaluated against a message.

    A path is a *selector* (``select(message)``); a comparison is a *predicate*
    (``matches(message)``). Missing attributes raise, which the runtime reports as a ROUTING
    error.
    """

    __slots__ = ("_fn", "_text")

    def __init__(self, fn: Callable[[Any], Any], text: str) -> None:
        self._fn = fn
        self._text = text

    def select(self, message: Any) -> Any:
        """The value this expression denotes for ``message``."""
        return self._fn(message)

    def matches(self, message: Any) -> bool:
        """Whether the expression is truthy for ``message``."""
        return bool(self._fn(message))

    def __repr__(self) -> str:
        return self._text

    def __hash__(self) -> int:
        return id(self)

    def __getattr__(self, name: str) -> Expr:
        if name.startswith("__"):
            raise AttributeError(name)
        fn = self._fn
        return Expr(lambda m: _step(fn(m), ("attr", name)), f"{self._text}.{name}")

    def __getitem__(self, key: Any) -> Expr:
        fn = self._fn
        return Expr(lambda m: _step(fn(m), ("item", key)), f"{self._text}[{key!r}]")

    def _cmp(self, other: Any, op: Callable[[Any, Any], bool], sym: str) -> Expr:
        fn = self._fn
        if isinstance(other, Expr):
            ofn = other._fn
            return Expr(lambda m: op(fn(m), ofn(m)), f"({self._text} {sym} {other._text})")
        return Expr(lambda m: op(fn(m), other), f"({self._text} {sym} {other!r})")

    def __eq__(self, other: object) -> Expr:  # type: ignore[override]
        return self._cmp(other, lambda a, b: a == b, "==")

    def __ne__(self, other: object) -> Expr:  # type: ignore[override]
        return self._cmp(other, lambda a, b: a != b, "!=")

    def __lt__(self, other: Any) -> Expr:
        return self._cmp(other, lambda a, b: a < b, "<")

    def __le__(self, other: Any) -> Expr:
        return self._cmp(other, lambda a, b: a <= b, "<=")

    def __gt__(self, other: Any) -> Expr:
        return self._cmp(other, lambda a, b: a > b, ">")

    def __ge__(self, other: Any) -> Expr:
        return self._cmp(other, lambda a, b: a >= b, ">=")

    def __and__(self, other: Expr) -> Expr:
        a, b = self._fn, other._fn
        return Expr(lambda m: bool(a(m)) and bool(b(m)), f"({self._text} & {other._text})")

    def __or__(self, other: Expr) -> Expr:
        a, b = self._fn, other._fn
        return Expr(lambda m: bool(a(m)) or bool(b(m)), f"({self._text} | {other._text})")

    def __invert__(self) -> Expr:
        a = self._fn
        return Expr(lambda m: not a(m), f"~{self._text}")

    def isin(self, values: Iterable[Any]) -> Expr:
        """True when the value is one of ``values``."""
        pool = frozenset(values)
        fn = self._fn
        return Expr(lambda m: fn(m) in pool, f"{self._text}.isin({sorted(map(repr, pool))})")

    def between(self, low: Any, high: Any) -> Expr:
        """True when ``low <= value <= high``."""
        fn = self._fn
        return Expr(lambda m: low <= fn(m) <= high, f"{self._text}.between({low!r}, {high!r})")


msg = Expr(lambda m: m, "msg")
"""The root expression: the whole :class:`~loom_django.streaming.messages.Message`."""

payload = Expr(lambda m: m.payload, "payload")
"""The root expression at ``message.payload``."""
