"""Evaluates the query language over Python objects for the in-memory repository."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from loom_django.core.errors import FilterPathError, UnsafeFilterError
from loom_django.core.model.introspection import (
    column_map,
    get_relations,
    relation_target,
)
from loom_django.core.repository.abc.query import FilterGroup, FilterOp, FilterSpec, SortSpec

__all__ = ["MemoryQuery", "Predicate", "like_pattern"]

Predicate = Callable[[Any], bool]
RelationValue = Callable[[Any, str], Any]

_FALSY = (False, 0, "false", "False", "FALSE", "0")
_COMPARE: dict[FilterOp, Callable[[Any, Any], bool]] = {
    FilterOp.GT: lambda a, b: a > b,
    FilterOp.GTE: lambda a, b: a >= b,
    FilterOp.LT: lambda a, b: a < b,
    FilterOp.LTE: lambda a, b: a <= b,
}


def like_pattern(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    """A regex equivalent to SQL ``LIKE`` (``%`` any run, ``_`` one character)."""
    parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _null_key(value: Any) -> tuple[bool, Any]:
    return (value is not None, value)


def _coerce(value: Any, kind: Any) -> Any:
    if value is None or kind is None:
        return value
    try:
        return msgspec.convert(value, kind, strict=False)
    except (msgspec.ValidationError, TypeError):
        return value


class MemoryQuery:
    """Compiles filters and orderings for one model into plain Python callables.

    Paths are validated when compiled (so errors surface even on an empty store):
    fields outside ``allowed`` raise :class:`UnsafeFilterError`, unknown paths
    :class:`FilterPathError`. ``relation_value(row, name)`` supplies related rows
    (``UNSET`` when the repository has no data for that relation).
    """

    def __init__(self, model: type, relation_value: RelationValue, allowed: frozenset[str]) -> None:
        self.model = model
        self.columns = column_map(model)
        self.relations = get_relations(model)
        self.relation_value = relation_value
        self.allowed = allowed

    # -- paths ---------------------------------------------------------------------

    def _resolve(self, path: str) -> tuple[str, str | None, Any]:
        """``(root, column on the related model or None, python type)``."""
        root, _, rest = path.partition(".")
        if self.allowed and root not in self.allowed:
            raise UnsafeFilterError(root)
        if not rest:
            if root not in self.columns:
                raise FilterPathError(path)
            return root, None, self.columns[root].python_type
        if root not in self.relations or "." in rest:
            raise FilterPathError(path)
        target = relation_target(self.model, root)
        target_columns = column_map(target) if target is not None else {}
        if target is not None and rest not in target_columns:
            raise FilterPathError(path)
        info = target_columns.get(rest)
        return root, rest, info.python_type if info is not None else None

    def _related(self, row: Any, relation: str) -> list[Any]:
        value = self.relation_value(row, relation)
        if value is msgspec.UNSET:
            raise ValueError(
                f"InMemoryRepository({self.model.__name__}) has no data for relation "
                f"'{relation}': pass relations={{'{relation}': ...}} or seed loaded values"
            )
        if value is None:
            return []
        return list(value) if isinstance(value, list | tuple) else [value]

    def _getter(self, root: str, column: str | None) -> Callable[[Any], list[Any]]:
        """Candidate values of a path for one row (one per related row, else ``[None]``)."""
        if column is None:
            return lambda row: [getattr(row, root)]

        def related_values(row: Any) -> list[Any]:
            rows = self._related(row, root)
            values = [r.get(column) if isinstance(r, dict) else getattr(r, column) for r in rows]
            return values or [None]

        return related_values

    # -- filters -------------------------------------------------------------------

    def compile(self, node: FilterSpec | FilterGroup | None) -> Predicate:
        """A predicate for ``node`` (``None`` matches every row)."""
        if node is None:
            return lambda row: True
        if isinstance(node, FilterGroup):
            parts = [self.compile(child) for child in node.filters]
            if node.op == "OR":
                return lambda row: any(p(row) for p in parts)
            return lambda row: all(p(row) for p in parts)
        return self._compile_spec(node)

    def _compile_spec(self, spec: FilterSpec) -> Predicate:
        op = FilterOp(spec.op)
        if op in (FilterOp.EXISTS, FilterOp.NOT_EXISTS):
            relation = spec.field.partition(".")[0]
            if self.allowed and relation not in self.allowed:
                raise UnsafeFilterError(relation)
            if relation not in self.relations:
                raise FilterPathError(spec.field)
            wanted = op is FilterOp.EXISTS
            return lambda row: bool(self._related(row, relation)) is wanted
        root, column, kind = self._resolve(spec.field)
        values = self._getter(root, column)
        test = self._value_test(op, spec.value, kind)
        return lambda row: any(test(v) for v in values(row))

    def _value_test(self, op: FilterOp, raw: Any, kind: Any) -> Callable[[Any], bool]:
        if op is FilterOp.IS_NULL:
            want_null = raw not in _FALSY
            return lambda v: (v is None) is want_null
        if op in (FilterOp.LIKE, FilterOp.ILIKE):
            regex = like_pattern(str(raw), ignore_case=op is FilterOp.ILIKE)
            return lambda v: v is not None and regex.fullmatch(str(v)) is not None
        if op is FilterOp.IN:
            items = raw if isinstance(raw, list | tuple | set | frozenset) else [raw]
            accepted = [_coerce(item, kind) for item in items]
            return lambda v: v in accepted
        value = _coerce(raw, kind)
        if op is FilterOp.EQ:
            return lambda v: v == value
        if op is FilterOp.NE:
            return lambda v: v != value
        compare = _COMPARE[op]
        return lambda v: v is not None and value is not None and compare(v, value)

    # -- ordering ------------------------------------------------------------------

    def sort_keys(self, ordering: Sequence[SortSpec]) -> Callable[[Any], tuple[Any, ...]]:
        """A function returning the ordering values of a row (validates the paths)."""
        getters: list[Callable[[Any], Any]] = []
        for spec in ordering:
            root, column, _ = self._resolve(spec.field)
            getters.append(self._first_getter(root, column))
        return lambda row: tuple(g(row) for g in getters)

    def _first_getter(self, root: str, column: str | None) -> Callable[[Any], Any]:
        values = self._getter(root, column)
        return lambda row: values(row)[0]

    def types(self, ordering: Sequence[SortSpec]) -> list[Any]:
        """Python type of each ordering field (``None`` when unknown)."""
        return [self._resolve(spec.field)[2] for spec in ordering]

    @staticmethod
    def sort(
        rows: list[Any], keys: list[tuple[Any, ...]], ordering: Sequence[SortSpec]
    ) -> list[Any]:
        """``rows`` ordered by ``keys`` (NULLs first ascending, last descending)."""
        indexes = list(range(len(rows)))
        for position in reversed(range(len(ordering))):
            indexes.sort(
                key=lambda i: _null_key(keys[i][position]),
                reverse=ordering[position].direction == "DESC",
            )
        return [rows[i] for i in indexes]

    @staticmethod
    def after(key: tuple[Any, ...], cursor: tuple[Any, ...], ordering: Sequence[SortSpec]) -> bool:
        """Whether a row with ordering values ``key`` comes strictly after ``cursor``."""
        for value, bound, spec in zip(key, cursor, ordering, strict=True):
            left, right = _null_key(value), _null_key(bound)
            if left == right:
                continue
            greater = left > right
            return greater if spec.direction != "DESC" else not greater
        return False
