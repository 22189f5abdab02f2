"""Column declarations: ColumnField, the Annotated Field, and the server-side default enums."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import msgspec

from loom_django.core.model.types import ColumnType

__all__ = [
    "ColumnField",
    "ColumnSpec",
    "Field",
    "OnDelete",
    "ServerDefault",
    "ServerOnUpdate",
    "column_field",
]


class OnDelete(StrEnum):
    """What happens to referencing rows when the referenced row is deleted."""

    CASCADE = "CASCADE"
    SET_NULL = "SET NULL"
    RESTRICT = "RESTRICT"
    NO_ACTION = "NO ACTION"


class ServerDefault(StrEnum):
    """Values the database generates on INSERT."""

    NOW = "now"
    UUID4 = "uuid4"


class ServerOnUpdate(StrEnum):
    """Values the repository refreshes on every UPDATE."""

    NOW = "now"


@dataclass(frozen=True, kw_only=True)
class Field:
    """Column options placed inside ``Annotated[T, ..., Field(...)]``.

    Same meaning as the keyword options of :func:`ColumnField`. ``nullable=None`` means
    "follow the annotation": nullable iff it admits ``None`` and the column is not a
    primary key.
    """

    primary_key: bool = False
    unique: bool = False
    index: bool = False
    nullable: bool | None = None
    autoincrement: bool = False
    server_default: ServerDefault | None = None
    server_onupdate: ServerOnUpdate | None = None
    foreign_key: str | None = None
    on_delete: OnDelete | None = None
    default: Any = msgspec.UNSET
    length: int | None = None
    db_type: ColumnType | None = None

    def __post_init__(self) -> None:
        if self.server_default is not None:
            object.__setattr__(self, "server_default", ServerDefault(self.server_default))
        if self.server_onupdate is not None:
            raw: str = self.server_onupdate
            object.__setattr__(self, "server_onupdate", ServerOnUpdate(raw.lower()))
        if self.on_delete is not None:
            object.__setattr__(self, "on_delete", OnDelete(self.on_delete))

    @property
    def has_default(self) -> bool:
        """True when a Python-side default was given."""
        return self.default is not msgspec.UNSET

    @property
    def server_generated(self) -> bool:
        """True when the database (or repository) fills the value: excluded from inputs."""
        return self.server_default is not None or self.server_onupdate is not None


@dataclass(frozen=True, kw_only=True)
class ColumnSpec(Field):
    """The full declaration made by :func:`ColumnField`: options plus an explicit type."""

    column_type: ColumnType | None = None

    @property
    def explicit_type(self) -> ColumnType | None:
        """``db_type`` when given, else ``column_type``."""
        return self.db_type or self.column_type


def ColumnField(
    column_type: ColumnType | None = None,
    *,
    primary_key: bool = False,
    unique: bool = False,
    index: bool = False,
    nullable: bool | None = None,
    autoincrement: bool = False,
    server_default: ServerDefault | None = None,
    server_onupdate: ServerOnUpdate | str | None = None,
    foreign_key: str | None = None,
    on_delete: OnDelete | None = None,
    default: Any = msgspec.UNSET,
    length: int | None = None,
    db_type: ColumnType | None = None,
) -> Any:
    """Declare a column on a model attribute (``sku: str = ColumnField(length=64)``).

    Returns a :class:`ColumnSpec` that the model metaclass replaces with the attribute's
    runtime default. Typed ``Any`` so the assignment type-checks against the annotation.

    Raises:
        ValueError: ``server_onupdate`` is a string other than ``"now"``.
    """
    return ColumnSpec(
        column_type=column_type,
        primary_key=primary_key,
        unique=unique,
        index=index,
        nullable=nullable,
        autoincrement=autoincrement,
        server_default=server_default,
        server_onupdate=server_onupdate,  # type: ignore[arg-type]  # normalised in __post_init__
        foreign_key=foreign_key,
        on_delete=on_delete,
        default=default,
        length=length,
        db_type=db_type,
    )


column_field = ColumnField
