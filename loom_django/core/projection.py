"""Built-in projection loaders (count, exists, joined fields) and how they find their relation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from msgspec import UNSET

from loom_django.core.model.introspection import get_projections, get_relations, relation_target
from loom_django.core.model.relation import Projection

__all__ = [
    "CountLoader",
    "ExistsLoader",
    "JoinFieldsLoader",
    "RelationLoader",
    "compute_projection",
    "resolve_loader_relation",
    "validate_projections",
]


def resolve_loader_relation(owner: type, loader: Any, projection_name: str = "?") -> str:
    """Name of the relation of ``owner`` that ``loader`` aggregates over.

    ``loader.via`` wins; otherwise the single relation whose annotation resolves to
    ``loader.model`` (a class, or a class name for models defined later) is used.

    Raises:
        ValueError: ``via`` is not a relation of ``owner``, or no (or more than one)
            relation targets the loader's model; the message names the projection.
    """
    relations = get_relations(owner)
    label = f"Projection '{owner.__name__}.{projection_name}'"
    via = getattr(loader, "via", None)
    if via is not None:
        if via not in relations:
            raise ValueError(f"{label}: via={via!r} is not a relation of {owner.__name__}")
        return str(via)
    model = getattr(loader, "model", None)
    model_name = model if isinstance(model, str) else getattr(model, "__name__", repr(model))
    matches = [name for name in relations if _targets(owner, name, model)]
    if not matches:
        raise ValueError(
            f"{label}: no relation of {owner.__name__} targets {model_name}; "
            "declare one or pass via=<relation name>"
        )
    if len(matches) > 1:
        raise ValueError(
            f"{label}: several relations target {model_name} ({', '.join(matches)}); "
            "pass via=<relation name>"
        )
    return matches[0]


def _targets(owner: type, relation: str, model: Any) -> bool:
    target = relation_target(owner, relation)
    if isinstance(model, str):
        return target is not None and target.__name__ == model
    return target is model


def validate_projections(owner: type) -> dict[str, str]:
    """Resolve the relation of every built-in projection of ``owner`` (startup check).

    Returns ``{projection name: relation name}``; custom loaders are skipped.

    Raises:
        ValueError: as :func:`resolve_loader_relation`.
    """
    resolved: dict[str, str] = {}
    for name, projection in get_projections(owner).items():
        if isinstance(projection.loader, RelationLoader):
            resolved[name] = resolve_loader_relation(owner, projection.loader, name)
    return resolved


class RelationLoader:
    """Base of loaders computed from the rows of one relation.

    ``load_from_object(obj, context)`` reads the relation from ``context[<relation>]``
    when present, else from ``obj``. It returns ``UNSET`` when the relation is not
    loaded (cannot compute) and ``None`` when there are no related rows (the projection
    then falls back to its ``default``, else to ``empty_value``).
    """

    empty_value: Any = None

    def __init__(self, model: type | str, via: str | None = None) -> None:
        self.model = model
        self.via = via
        self._relation_by_owner: dict[type, str] = {}

    def relation_name(self, owner: type) -> str:
        """The relation of ``owner`` this loader reads (cached per owner class)."""
        name = self._relation_by_owner.get(owner)
        if name is None:
            name = resolve_loader_relation(owner, self)
            self._relation_by_owner[owner] = name
        return name

    def related_rows(self, obj: Any, context: Mapping[str, Any] | None = None) -> Any:
        """The related rows as a list, or ``UNSET`` when the relation is not available."""
        name = self.relation_name(type(obj))
        value = context[name] if context is not None and name in context else getattr(obj, name)
        if value is UNSET:
            return UNSET
        if value is None:
            return []
        if isinstance(value, list | tuple):
            return list(value)
        return [value]

    def load_from_object(self, obj: Any, context: Mapping[str, Any] | None = None) -> Any:
        """Compute the value for ``obj`` from its loaded relation."""
        rows = self.related_rows(obj, context)
        if rows is UNSET:
            return UNSET
        return self.from_rows(rows) if rows else None

    def from_rows(self, rows: Sequence[Any]) -> Any:
        """The value for a non-empty list of related rows."""
        raise NotImplementedError

    def __repr__(self) -> str:
        via = f", via={self.via!r}" if self.via else ""
        return f"{type(self).__name__}({getattr(self.model, '__name__', self.model)}{via})"


class CountLoader(RelationLoader):
    """Number of related rows."""

    empty_value = 0

    def from_rows(self, rows: Sequence[Any]) -> int:
        """``len(rows)``."""
        return len(rows)


class ExistsLoader(RelationLoader):
    """Whether any related row exists."""

    empty_value = False

    def from_rows(self, rows: Sequence[Any]) -> bool:
        """Always ``True`` (called only for non-empty rows)."""
        return True


class JoinFieldsLoader(RelationLoader):
    """A list of dicts holding the named columns of each related row."""

    def __init__(
        self, *, model: type | str, value_columns: Iterable[str], via: str | None = None
    ) -> None:
        super().__init__(model, via)
        self.value_columns = tuple(value_columns)
        self.empty_value: list[dict[str, Any]] = []

    def from_rows(self, rows: Sequence[Any]) -> list[dict[str, Any]]:
        """One ``{column: value}`` dict per row (rows may be structs or dicts)."""
        out: list[dict[str, Any]] = []
        for row in rows:
            if isinstance(row, Mapping):
                out.append({col: row.get(col) for col in self.value_columns})
            else:
                out.append({col: getattr(row, col, None) for col in self.value_columns})
        return out


def compute_projection(
    projection: Projection, obj: Any, context: Mapping[str, Any] | None = None
) -> Any:
    """Value of one projection for ``obj`` via its loader's ``load_from_object``.

    ``UNSET`` when the loader cannot compute (relation unavailable); when it yields
    nothing (``None``): the declared ``default``, else the loader's ``empty_value``.
    """
    value = projection.loader.load_from_object(obj, context)
    if value is UNSET:
        return UNSET
    if value is None:
        if projection.has_default:
            return projection.default
        empty = getattr(projection.loader, "empty_value", None)
        return list(empty) if isinstance(empty, list) else empty
    return value
