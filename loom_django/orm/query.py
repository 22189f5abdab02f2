"""QuerySpec → Django: filters to ``Q`` objects, sorts to ordering, cursors to keyset predicates."""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, F, FloatField, Func, OrderBy, OuterRef, Q, Value
from django.db.models.lookups import Exact, GreaterThan, LessThan

from loom_django.core.errors import FilterPathError, UnsafeFilterError
from loom_django.core.repository.abc.query import FilterGroup, FilterOp, FilterSpec, SortSpec
from loom_django.orm.meta import ModelMeta
from loom_django.orm.relations import RelationInfo, relation_info

__all__ = ["Path", "build_q", "keyset_q", "ordering", "resolve_path"]

_LOOKUPS = {
    FilterOp.EQ: "exact",
    FilterOp.NE: "exact",
    FilterOp.GT: "gt",
    FilterOp.GTE: "gte",
    FilterOp.LT: "lt",
    FilterOp.LTE: "lte",
    FilterOp.IN: "in",
    FilterOp.LIKE: "like",
    FilterOp.ILIKE: "ilike",
}
_FALSY = frozenset({"false", "0", "no", "off", ""})


@dataclass(frozen=True)
class Path:
    """A resolved field path: a Django lookup (``user__email``) or a to-many condition.

    ``name`` is the normalised spelling (Python names, ``relation.column``).
    """

    name: str
    root: str
    lookup: str
    nullable: bool
    python_type: Any
    relation: RelationInfo | None = None
    to_many: bool = False


def _name(meta: ModelMeta, spelling: str, full: str) -> str:
    name = meta.names.get(spelling)
    if name is None:
        raise FilterPathError(full)
    return name


def resolve_path(meta: ModelMeta, path: str, allowed: frozenset[str] = frozenset()) -> Path:
    """Resolve ``column`` or ``relation.column`` (Python or camelCase names).

    Raises:
        FilterPathError: the path names no column / relation column of the model.
        UnsafeFilterError: ``allowed`` is non-empty and the root field is not in it.
    """
    head, _, rest = path.partition(".")
    root = _name(meta, head, path)
    if allowed and root not in allowed:
        raise UnsafeFilterError(root)
    if root in meta.lookup and not rest:
        return Path(root, root, meta.lookup[root], meta.nullable[root], meta.python_types[root])
    if root not in meta.relations or "." in rest:
        raise FilterPathError(path)
    info = relation_info(meta, root)
    if not rest:
        return Path(root, root, root, False, None, info, to_many=not info.join)
    column = _name(info.target, rest, path)
    if column not in info.target.lookup:
        raise FilterPathError(path)
    attname = info.target.lookup[column]
    nullable = info.target.nullable[column]
    kind = info.target.python_types[column]
    name = f"{root}.{column}"
    if info.join:
        return Path(name, root, f"{info.path}__{attname}", True, kind, info)
    return Path(name, root, f"{info.prefix}{attname}", nullable, kind, info, to_many=True)


def _is_null_wanted(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in _FALSY
    return bool(value) if value is not None else True


def _condition(meta: ModelMeta, spec: FilterSpec, using: str, allowed: frozenset[str]) -> Q:
    path = resolve_path(meta, spec.field, allowed)
    op = FilterOp(spec.op)
    if op in (FilterOp.EXISTS, FilterOp.NOT_EXISTS):
        if path.relation is None or path.lookup != path.root:
            raise FilterPathError(spec.field)
        related = Exists(path.relation.subquery(using, _outer(meta)))
        return Q(related) if op is FilterOp.EXISTS else ~Q(related)
    if path.lookup == path.root and path.relation is not None:
        raise FilterPathError(spec.field)
    value: Any
    if op is FilterOp.IS_NULL:
        lookup, value = f"{path.lookup}__isnull", _is_null_wanted(spec.value)
    else:
        value = spec.value
        if op is FilterOp.IN and not isinstance(value, list | tuple | set | frozenset):
            value = [value]
        lookup = f"{path.lookup}__{_LOOKUPS[op]}"
    condition = Q(**{lookup: value})
    if path.to_many:
        assert path.relation is not None
        condition = Q(Exists(path.relation.subquery(using, _outer(meta)).filter(condition)))
    return ~condition if op is FilterOp.NE else condition


def _outer(meta: ModelMeta) -> Any:
    return lambda name: OuterRef(meta.lookup[name])


def build_q(
    meta: ModelMeta, group: FilterGroup | None, using: str, allowed: frozenset[str] = frozenset()
) -> Q:
    """The ``Q`` of a (possibly nested) filter group; an empty ``Q`` when there is none."""
    if group is None or not group.filters:
        return Q()
    parts = [
        build_q(meta, item, using, allowed)
        if isinstance(item, FilterGroup)
        else _condition(meta, item, using, allowed)
        for item in group.filters
    ]
    join = operator.or_ if str(group.op).upper() == "OR" else operator.and_
    return functools.reduce(join, parts)


def sort_paths(
    meta: ModelMeta, sort: Iterable[SortSpec], allowed: frozenset[str] = frozenset()
) -> list[tuple[SortSpec, Path]]:
    """Each sort key with its resolved path (field names normalised to Python names).

    Raises:
        FilterPathError: unknown field, or a field reached through a to-many relation.
    """
    resolved = []
    for spec in sort:
        path = resolve_path(meta, spec.field, allowed)
        if path.to_many or (path.lookup == path.root and path.relation is not None):
            raise FilterPathError(spec.field)
        descending = str(spec.direction).upper() == "DESC"
        resolved.append((SortSpec(path.name, "DESC" if descending else "ASC"), path))
    return resolved


def _julian(path: Path, vendor: str) -> bool:
    """SQLite keeps datetimes as text in two precisions (``db_default`` has milliseconds,
    Django writes microseconds): keyset comparisons go through ``julianday()`` there."""
    kind = path.python_type
    return vendor == "sqlite" and isinstance(kind, type) and issubclass(kind, dt.datetime)


def _key(path: Path, vendor: str) -> Any:
    if _julian(path, vendor):
        return Func(F(path.lookup), function="julianday", output_field=FloatField())
    return F(path.lookup)


def ordering(paths: Sequence[tuple[SortSpec, Path]], vendor: str = "") -> list[OrderBy | str]:
    """ORDER BY terms; NULLs sort after values ascending and before them descending.

    Pass the database ``vendor`` for keyset (cursor) ordering, so it compares keys the
    way :func:`keyset_q` does.
    """
    terms: list[Any] = []
    for spec, path in paths:
        if not path.nullable and not _julian(path, vendor):
            terms.append(f"-{path.lookup}" if spec.direction == "DESC" else path.lookup)
            continue
        expr = _key(path, vendor)
        if spec.direction == "DESC":
            terms.append(expr.desc(nulls_first=True) if path.nullable else expr.desc())
        else:
            terms.append(expr.asc(nulls_last=True) if path.nullable else expr.asc())
    return terms


class _Keyset:
    """Builds the comparisons of one cursor key against the cursor row's value."""

    def __init__(self, path: Path, connection: Any) -> None:
        self.path = path
        self.lhs = _key(path, connection.vendor)
        self.julian = _julian(path, connection.vendor)
        self.connection = connection

    def _rhs(self, value: Any) -> Any:
        if not self.julian:
            return value
        text = self.connection.ops.adapt_datetimefield_value(value)
        return Func(Value(text), function="julianday", output_field=FloatField())

    def is_null(self, wanted: bool) -> Q:
        return Q(**{f"{self.path.lookup}__isnull": wanted})

    def equal(self, value: Any) -> Q:
        if value is None:
            return self.is_null(True)
        if not self.julian:
            return Q(**{self.path.lookup: value})
        return Q(Exact(self.lhs, self._rhs(value)))

    def after(self, spec: SortSpec, value: Any) -> Q | None:
        """Rows strictly after ``value`` in this key's order (NULLs last ASC, first DESC)."""
        desc = spec.direction == "DESC"
        if value is None:
            return self.is_null(False) if desc else None
        if self.julian:
            compare = LessThan if desc else GreaterThan
            beyond = Q(compare(self.lhs, self._rhs(value)))
        else:
            beyond = Q(**{f"{self.path.lookup}__{'lt' if desc else 'gt'}": value})
        if self.path.nullable and not desc:
            beyond |= self.is_null(True)
        return beyond


def keyset_q(paths: Sequence[tuple[SortSpec, Path]], values: Sequence[Any], connection: Any) -> Q:
    """Rows after the cursor row: OR over i of (keys before i equal AND key i after).

    The last key is the primary key, so the ordering is total and nothing repeats.
    """
    terms: list[Q] = []
    prefix = Q()
    for (spec, path), value in zip(paths, values, strict=True):
        key = _Keyset(path, connection)
        after = key.after(spec, value)
        if after is not None:
            terms.append(prefix & after)
        prefix &= key.equal(value)
    return functools.reduce(operator.or_, terms) if terms else Q(pk__in=[])
