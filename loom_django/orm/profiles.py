"""Load a profile's relations and projections for a page of rows in a bounded number of queries.

Many-to-one relations come with the main query (joined columns); to-many relations cost
one keyed query each; count/exists projections over a relation that is not loaded are
correlated subqueries in the main query; projections over a loaded relation are computed
from its rows. The cost of a page never depends on its size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from django.db.models import Exists, F, Func, IntegerField, OuterRef, Subquery

from loom_django.core.errors import ValidationError
from loom_django.core.model import model_profiles
from loom_django.core.model.relation import Projection
from loom_django.core.projection import CountLoader, ExistsLoader, RelationLoader
from loom_django.orm.meta import ModelMeta, row_maker
from loom_django.orm.relations import RelationInfo, relation_info

__all__ = ["ProfilePlan", "load_rows", "profile_plan"]


@dataclass
class ProfilePlan:
    """What one profile reads: extra selected values, keyed queries and computed fields."""

    values: tuple[str, ...]
    annotations: dict[str, Any] = field(default_factory=dict)
    joins: list[tuple[str, RelationInfo, int]] = field(default_factory=list)
    many: list[tuple[str, RelationInfo]] = field(default_factory=list)
    computed: list[tuple[str, Projection, str]] = field(default_factory=list)
    annotated: list[tuple[str, Projection, int]] = field(default_factory=list)
    fetched: list[tuple[str, Projection, RelationInfo]] = field(default_factory=list)
    custom: list[tuple[str, Projection]] = field(default_factory=list)
    extras: tuple[str, ...] = ()
    make: Any = None

    @property
    def simple(self) -> bool:
        """True when only the model's own columns are read."""
        return self.make is None


def _fallback(projection: Projection, value: Any) -> Any:
    if value is not None:
        return value
    if projection.has_default:
        default = projection.default
        return list(default) if isinstance(default, list) else default
    empty = getattr(projection.loader, "empty_value", None)
    return list(empty) if isinstance(empty, list) else empty


def _from_rows(projection: Projection, rows: Sequence[Any]) -> Any:
    loader: RelationLoader = projection.loader
    return _fallback(projection, loader.from_rows(rows) if rows else None)


def _annotation(info: RelationInfo, loader: Any) -> Any:
    related = info.subquery("default", lambda name: OuterRef(info.owner.lookup[name]))
    if isinstance(loader, ExistsLoader):
        return Exists(related)
    counted = related.order_by().annotate(_n=Func(F("pk"), function="COUNT")).values("_n")
    return Subquery(counted, output_field=IntegerField())


def _build(meta: ModelMeta, profile: str) -> ProfilePlan:
    values = list(meta.attnames)
    plan = ProfilePlan(values=())
    extras: list[str] = []
    loaded: set[str] = set()
    for name, rel in meta.relations.items():
        if profile not in rel.profiles:
            continue
        info = relation_info(meta, name)
        if info.join:
            plan.joins.append((name, info, len(values)))
            values.extend(f"{info.path}__{a}" for a in info.target.attnames)
        else:
            plan.many.append((name, info))
        extras.append(name)
        loaded.add(name)
    for name, projection in meta.projections.items():
        if profile not in projection.profiles:
            continue
        extras.append(name)
        loader = projection.loader
        if not isinstance(loader, RelationLoader):
            plan.custom.append((name, projection))
            continue
        relation = loader.relation_name(meta.loom)
        if relation in loaded:
            plan.computed.append((name, projection, relation))
        elif isinstance(loader, CountLoader | ExistsLoader):
            alias = f"_loom_{name}"
            plan.annotations[alias] = _annotation(relation_info(meta, relation), loader)
            plan.annotated.append((name, projection, len(values)))
            values.append(alias)
        else:
            plan.fetched.append((name, projection, relation_info(meta, relation)))
    plan.values = tuple(values)
    plan.extras = tuple(extras)
    if extras:
        names = [*meta.columns, *extras]
        plan.make = row_maker(meta.loom, names)
    return plan


def profile_plan(meta: ModelMeta, profile: str) -> ProfilePlan:
    """The cached plan of ``profile``.

    Raises:
        ValidationError: the model defines no such profile.
    """
    plan: ProfilePlan | None = meta.profiles.get(profile)
    if plan is None:
        if profile not in model_profiles(meta.loom):
            known = ", ".join(sorted(model_profiles(meta.loom)))
            raise ValidationError(
                [("profile", f"Invalid profile '{profile}' for {meta.entity}; known: {known}")]
            )
        plan = meta.profiles[profile] = _build(meta, profile)
    return plan


def _fetch(
    info: RelationInfo, keys: list[Any], using: str, columns: Sequence[str] | None = None
) -> dict[Any, list[Any]]:
    """Related rows of the owners whose key is in ``keys``, grouped by owner key."""
    target = info.target
    assert info.source is not None
    names = tuple(columns) if columns is not None else target.columns
    paths = [f"{info.prefix}{target.lookup[n]}" for n in names]
    rows = (
        info.source.queryset(using)
        .filter(**{f"{info.source_fk}__in": keys})
        .order_by(info.source.pk_field.attname)
        .values_list(info.source_fk, *paths)
    )
    grouped: dict[Any, list[Any]] = {}
    as_struct = columns is None and info.typed
    for row in rows:
        values = row[1:]
        item = target.make(values) if as_struct else dict(zip(names, values, strict=True))
        grouped.setdefault(row[0], []).append(item)
    return grouped


def load_rows(meta: ModelMeta, plan: ProfilePlan, rows: Sequence[Any], using: str) -> list[Any]:
    """Structs for ``rows`` (selected with ``plan.values``), relations and projections filled."""
    if plan.make is None:
        make = meta.make
        return [make(row) for row in rows]
    related: dict[str, dict[Any, list[Any]]] = {}
    keys: dict[str, list[Any]] = {}
    for name, info in plan.many:
        keys[name] = _keys(meta, info, rows)
        related[name] = _fetch(info, keys[name], using) if keys[name] else {}
    for name, projection, info in plan.fetched:
        wanted = tuple(projection.loader.value_columns)
        found = _keys(meta, info, rows)
        related[name] = _fetch(info, found, using, wanted) if found else {}
    width = len(meta.columns)
    out = []
    for row in rows:
        extra: dict[str, Any] = {}
        for name, info, start in plan.joins:
            part = row[start : start + len(info.target.columns)]
            pk = part[info.target.columns.index(info.target.pk)]
            extra[name] = None if pk is None else info.target.make(part)
        for name, info in plan.many:
            items = related[name].get(row[meta.columns.index(info.owner_key)], [])
            extra[name] = (items[0] if items else None) if info.single else items
        for name, projection, relation in plan.computed:
            value = extra[relation]
            rows_of = value if isinstance(value, list) else ([] if value is None else [value])
            extra[name] = _from_rows(projection, rows_of)
        for name, projection, index in plan.annotated:
            value = row[index]
            extra[name] = _fallback(projection, value if value else None)
        for name, projection, info in plan.fetched:
            rows_of = related[name].get(row[meta.columns.index(info.owner_key)], [])
            extra[name] = _from_rows(projection, rows_of)
        for name, _projection in plan.custom:
            extra[name] = msgspec.UNSET
        out.append(plan.make([*row[:width], *(extra[name] for name in plan.extras)]))
    return _apply_custom(plan, out) if plan.custom else out


def _keys(meta: ModelMeta, info: RelationInfo, rows: Sequence[Any]) -> list[Any]:
    index = meta.columns.index(info.owner_key)
    return list(dict.fromkeys(row[index] for row in rows if row[index] is not None))


def _apply_custom(plan: ProfilePlan, items: list[Any]) -> list[Any]:
    out = []
    for item in items:
        changes = {}
        for name, projection in plan.custom:
            value = projection.loader.load_from_object(item, None)
            changes[name] = _fallback(projection, value) if value is not msgspec.UNSET else value
        out.append(msgspec.structs.replace(item, **changes))
    return out
