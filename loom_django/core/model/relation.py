"""Read-side declarations: relations to other models and derived projection fields."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import msgspec

from loom_django.core.model.field import OnDelete

__all__ = [
    "Cardinality",
    "Projection",
    "ProjectionField",
    "Relation",
    "RelationField",
    "projection_field",
    "relation_field",
]


class Cardinality(StrEnum):
    """How many rows sit on each side of a relation."""

    ONE_TO_ONE = "one_to_one"
    ONE_TO_MANY = "one_to_many"
    MANY_TO_ONE = "many_to_one"
    MANY_TO_MANY = "many_to_many"


@dataclass(frozen=True, kw_only=True)
class Relation:
    """A relation attribute: never a column, loaded only for the profiles it lists.

    ``foreign_key`` is ``"col"`` or ``"table.col"``: the FK on the target for
    ONE_TO_MANY/ONE_TO_ONE, on the owner for MANY_TO_ONE, and the owner-side FK inside
    ``secondary`` for MANY_TO_MANY.
    """

    foreign_key: str
    cardinality: Cardinality
    secondary: str | None = None
    back_populates: str | None = None
    on_delete: OnDelete | None = None
    on_update: str | None = None
    profiles: tuple[str, ...] = ("default",)
    depends_on: tuple[str, ...] = ()
    default: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "cardinality", Cardinality(self.cardinality))
        object.__setattr__(self, "profiles", tuple(self.profiles))
        object.__setattr__(self, "depends_on", tuple(self.depends_on))
        if self.on_delete is not None:
            object.__setattr__(self, "on_delete", OnDelete(self.on_delete))

    @property
    def fk_column(self) -> str:
        """The column part of ``foreign_key``."""
        return self.foreign_key.rpartition(".")[2]

    @property
    def fk_table(self) -> str | None:
        """The table part of ``foreign_key`` when given as ``"table.col"``."""
        table, dot, _ = self.foreign_key.rpartition(".")
        return table if dot else None

    @property
    def is_many(self) -> bool:
        """True for to-many relations (values are lists)."""
        return self.cardinality in (Cardinality.ONE_TO_MANY, Cardinality.MANY_TO_MANY)


@dataclass(frozen=True, kw_only=True)
class Projection:
    """A derived read-only field computed by ``loader`` for the profiles it lists.

    ``default`` (when given) is used when the loader yields nothing for an entity.
    """

    loader: Any
    profiles: tuple[str, ...] = ("default",)
    depends_on: tuple[str, ...] = ()
    default: Any = msgspec.NODEFAULT

    def __post_init__(self) -> None:
        object.__setattr__(self, "profiles", tuple(self.profiles))
        object.__setattr__(self, "depends_on", tuple(self.depends_on))

    @property
    def has_default(self) -> bool:
        """True when a fallback value was declared."""
        return self.default is not msgspec.NODEFAULT


def RelationField(
    *,
    foreign_key: str,
    cardinality: Cardinality,
    secondary: str | None = None,
    back_populates: str | None = None,
    on_delete: OnDelete | None = None,
    on_update: str | None = None,
    profiles: Sequence[str] = ("default",),
    depends_on: Sequence[str] = (),
    default: Any = None,
) -> Any:
    """Declare a relation attribute (``reviews: list[Review] = RelationField(...)``).

    Returns a :class:`Relation`; typed ``Any`` so the assignment type-checks.
    """
    return Relation(
        foreign_key=foreign_key,
        cardinality=cardinality,
        secondary=secondary,
        back_populates=back_populates,
        on_delete=on_delete,
        on_update=on_update,
        profiles=tuple(profiles),
        depends_on=tuple(depends_on),
        default=default,
    )


def ProjectionField(
    *,
    loader: Any,
    profiles: Sequence[str] = ("default",),
    depends_on: Sequence[str] = (),
    default: Any = msgspec.NODEFAULT,
) -> Any:
    """Declare a projection attribute (``review_count: int = ProjectionField(...)``).

    Returns a :class:`Projection`; typed ``Any`` so the assignment type-checks.
    """
    return Projection(
        loader=loader, profiles=tuple(profiles), depends_on=tuple(depends_on), default=default
    )


relation_field = RelationField
projection_field = ProjectionField
