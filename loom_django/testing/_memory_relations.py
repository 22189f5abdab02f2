"""How the in-memory repository reads relation rows: callables or other in-memory repositories."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from loom_django.core.model.introspection import get_projections, get_relations
from loom_django.core.model.relation import Cardinality, Relation
from loom_django.core.projection import RelationLoader, compute_projection

__all__ = ["RelationSource", "load_profile", "relation_resolver"]

S = TypeVar("S", bound=msgspec.Struct)

RelationSource = Any
"""A callable ``fn(entity) -> value`` or another ``InMemoryRepository``."""


def relation_resolver(
    relation: Relation, source: RelationSource, owner_id_field: str
) -> Callable[[Any], Any]:
    """A function returning the loaded value of ``relation`` for one owner entity.

    With another in-memory repository as ``source`` the relation's foreign key is
    followed: ONE_TO_MANY/ONE_TO_ONE match ``target.<fk> == owner.<id>``, MANY_TO_ONE
    matches ``target.<id> == owner.<fk>``.

    Raises:
        ValueError: a repository source for a MANY_TO_MANY relation (pass a callable).
    """
    if not (hasattr(source, "all") and hasattr(source, "id_field")):
        if not callable(source):
            raise TypeError("relation source must be a callable or an InMemoryRepository")
        return source  # type: ignore[no-any-return]
    fk = relation.fk_column
    cardinality = relation.cardinality
    if cardinality is Cardinality.MANY_TO_MANY:
        raise ValueError("many-to-many relations need a callable source")
    if cardinality is Cardinality.MANY_TO_ONE:
        target_id = source.id_field

        def parent(owner: Any) -> Any:
            value = getattr(owner, fk)
            return next((r for r in source.all() if getattr(r, target_id) == value), None)

        return parent

    def children(owner: Any) -> list[Any]:
        owner_id = getattr(owner, owner_id_field)
        return [r for r in source.all() if getattr(r, fk) == owner_id]

    if cardinality is Cardinality.ONE_TO_ONE:
        return lambda owner: next(iter(children(owner)), None)
    return children


def load_profile(model: type, row: S, profile: str, relation_value: Callable[[Any, str], Any]) -> S:
    """``row`` with the relations and projections of ``profile`` filled in.

    Relations without data stay ``UNSET``; a projection over such a relation gets its
    ``default`` when it has one, else stays ``UNSET``.
    """
    changes: dict[str, Any] = {}
    context: dict[str, Any] = {}
    for name, relation in get_relations(model).items():
        value = relation_value(row, name)
        context[name] = value
        if profile in relation.profiles and value is not msgspec.UNSET:
            changes[name] = list(value) if isinstance(value, list | tuple) else value
    for name, projection in get_projections(model).items():
        if profile not in projection.profiles:
            continue
        loader = projection.loader
        if (
            isinstance(loader, RelationLoader)
            and context.get(loader.relation_name(model), msgspec.UNSET) is msgspec.UNSET
        ):
            if projection.has_default:
                changes[name] = projection.default
            continue
        value = compute_projection(projection, row, context)
        if value is not msgspec.UNSET:
            changes[name] = value
    return msgspec.structs.replace(row, **changes) if changes else row
