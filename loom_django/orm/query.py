"""QuerySpec → Django: filters to ``Q`` objects, sorts to ordering, cursors to keyset predicates."""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, F, OrderBy, OuterRef, Q

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


def ordering(paths: Sequence[tuple[SortSpec, Path]]) -> list[OrderBy]:
    """ORDER BY terms; NULLs sort after values ascending and before them descending."""
    terms = []
    for spec, path in paths:
        expr = F(path.lookup)
        if spec.direction == "DESC":
            terms.append(expr.desc(nulls_first=True) if path.nullable else expr.desc())
        else:
            terms.append(expr.asc(nulls_last=True) if path.nullable else expr.asc())
    return terms


def _after(spec: SortSpec, path: Path, value: Any) -> Q | None:
    """Rows strictly after ``value`` on one key in its order (NULLs last ASC, first DESC)."""
    desc = spec.direction == "DESC"
    if value is None:
        return Q(**{f"{path.lookup}__isnull": False}) if desc else None
    beyond = Q(**{f"{path.lookup}__{'lt' if desc else 'gt'}": value})
    if path.nullable and not desc:
        beyond |= Q(**{f"{path.lookup}__isnull": True})
    return beyond


def _equal(path: Path, value: Any) -> Q:
    if value is None:
        return Q(**{f"{path.lookup}__isnull": True})
    return Q(**{path.lookup: value})


def keyset_q(paths: Sequence[tuple[SortSpec, Path]], values: Sequence[Any]) -> Q:
    """Rows after the cursor row: OR over i of (keys before i equal AND key i after).

    The last key is the primary key, so the ordering is total and nothing repeats.
    """
    terms: list[Q] = []
    prefix = Q()
    for (spec, path), value in zip(paths, values, strict=True):
        after = _after(spec, path, value)
        if after is not None:
            terms.append(prefix & after)
        prefix &= _equal(path, value)
    return functools.reduce(operator.or_, terms) if terms else Q(pk__in=[])
