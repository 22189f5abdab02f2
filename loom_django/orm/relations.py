"""How each loom relation is reached in SQL: a join (many-to-one) or a keyed second query."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import models

from loom_django.core.model import Cardinality, relation_target
from loom_django.orm.meta import ModelMeta, meta_for
from loom_django.orm.registry import REGISTRY

__all__ = ["RelationInfo", "relation_info"]


@dataclass(frozen=True)
class RelationInfo:
    """Resolved facts of one relation attribute of ``owner``.

    ``join`` relations (many-to-one) are read through the owner's foreign key ``path``;
    the others by querying ``source`` (the target, or the link table of a many-to-many)
    for rows whose ``source_fk`` is in the owners' ``owner_key`` values; ``prefix`` leads
    from ``source`` to the target's columns (``"tag__"`` through a link table).
    """

    name: str
    owner: ModelMeta
    target: ModelMeta
    join: bool
    single: bool
    typed: bool
    path: str = ""
    source: ModelMeta | None = None
    source_fk: str = ""
    owner_key: str = ""
    prefix: str = ""

    def subquery(self, using: str, outer: Any) -> models.QuerySet[Any]:
        """Rows of ``source`` (or the target, for a join) related to the outer row."""
        if self.join:
            key: Any = getattr(self.owner.field_by_name[self.owner_key], "target_field", None)
            return self.target.queryset(using).filter(**{key.attname: outer(self.owner_key)})
        assert self.source is not None
        return self.source.queryset(using).filter(**{self.source_fk: outer(self.owner_key)})


def _error(meta: ModelMeta, name: str, why: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"Relation {meta.entity}.{name}: {why}")


def _target_meta(meta: ModelMeta, name: str, fallback: type[models.Model] | None) -> ModelMeta:
    target = relation_target(meta.loom, name)
    if target is None and fallback is not None:
        target = getattr(fallback, "__loom_model__", None)
    if target is None:
        raise _error(meta, name, "cannot tell which model it targets")
    return meta_for(target)


def _build(meta: ModelMeta, name: str) -> RelationInfo:
    rel = meta.relations[name]
    kind = rel.cardinality
    if kind is Cardinality.MANY_TO_ONE:
        fk = meta.field_by_name.get(rel.fk_column)
        if fk is None or not fk.is_relation:
            raise _error(meta, name, f"{rel.fk_column!r} is not a foreign key column")
        target = _target_meta(meta, name, _related_model(fk))
        return RelationInfo(
            name,
            meta,
            target,
            join=True,
            single=True,
            typed=True,
            path=fk.name,
            owner_key=rel.fk_column,
        )
    if kind is Cardinality.MANY_TO_MANY:
        link_loom = REGISTRY.table_model(rel.secondary or "")
        if link_loom is None:
            raise _error(meta, name, f"no model has __tablename__ {rel.secondary!r}")
        link = meta_for(link_loom)
        m2m: Any = meta.django._meta.get_field(name)
        owner_fk: Any = link.django._meta.get_field(m2m.m2m_field_name())
        target_fk: Any = link.django._meta.get_field(m2m.m2m_reverse_field_name())
        typed = relation_target(meta.loom, name) is not None
        target = _target_meta(meta, name, _related_model(target_fk))
        return RelationInfo(
            name,
            meta,
            target,
            join=False,
            single=False,
            typed=typed,
            source=link,
            source_fk=owner_fk.attname,
            owner_key=_owner_key(meta, owner_fk),
            prefix=f"{target_fk.name}__",
        )
    target = _target_meta(meta, name, None)
    fk = target.field_by_name.get(rel.fk_column)
    if fk is None or not fk.is_relation:
        raise _error(meta, name, f"{target.entity}.{rel.fk_column} is not a foreign key column")
    return RelationInfo(
        name,
        meta,
        target,
        join=False,
        single=kind is Cardinality.ONE_TO_ONE,
        typed=True,
        source=target,
        source_fk=fk.attname,
        owner_key=_owner_key(meta, fk),
    )


def _related_model(field: Any) -> type[models.Model] | None:
    model = getattr(field, "related_model", None)
    return model if isinstance(model, type) else None


def _owner_key(meta: ModelMeta, fk: Any) -> str:
    """The owner's loom column referenced by foreign key ``fk`` (usually the primary key)."""
    attname = fk.target_field.attname
    for name, field in meta.field_by_name.items():
        if field.attname == attname:
            return name
    raise _error(meta, fk.name, f"references {attname!r}, which is not a column")


def relation_info(meta: ModelMeta, name: str) -> RelationInfo:
    """The cached :class:`RelationInfo` of relation ``name`` of ``meta``'s model."""
    cache: dict[str, RelationInfo] = meta.__dict__.setdefault("_relation_infos", {})
    found = cache.get(name)
    if found is None:
        found = cache[name] = _build(meta, name)
    return found
