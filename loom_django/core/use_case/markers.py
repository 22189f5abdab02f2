"""Markers placed as defaults in ``execute`` signatures: Input, LoadById, Load, Exists."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "Exists",
    "Input",
    "InputMarker",
    "Load",
    "LoadById",
    "LoadMarker",
    "LookupKind",
    "ExistsMarker",
    "OnMissing",
    "SourceKind",
]


class OnMissing(StrEnum):
    """What a Load/Exists step does when no row matches."""

    RAISE = "raise"
    RETURN_NONE = "return_none"
    RETURN_FALSE = "return_false"


class SourceKind(StrEnum):
    """Where a lookup value comes from: a primitive parameter or the command."""

    PARAM = "param"
    COMMAND = "command"


class LookupKind(StrEnum):
    """How an entity is looked up: by primary key or by an arbitrary field."""

    BY_ID = "by_id"
    BY_FIELD = "by_field"


@dataclass(frozen=True, slots=True)
class InputMarker:
    """Marks the parameter that receives the command built from the payload."""


def Input() -> Any:
    """Declare the command parameter of ``execute`` (exactly one per use case)."""
    return InputMarker()


@dataclass(frozen=True, slots=True)
class LoadMarker:
    """An entity to fetch before ``execute`` runs."""

    entity_type: type[Any]
    source_kind: SourceKind
    source_name: str
    lookup_kind: LookupKind
    against: str
    profile: str = "default"
    on_missing: OnMissing = OnMissing.RAISE


@dataclass(frozen=True, slots=True)
class ExistsMarker:
    """A boolean existence check evaluated before ``execute`` runs."""

    entity_type: type[Any]
    source_kind: SourceKind
    source_name: str
    against: str
    on_missing: OnMissing = OnMissing.RETURN_FALSE


def _one_source(
    kind: str, from_param: str | None, from_command: str | None
) -> tuple[SourceKind, str]:
    if (from_param is None) == (from_command is None):
        raise ValueError(f"{kind}() requires exactly one of from_param or from_command")
    if from_param is not None:
        return SourceKind.PARAM, from_param
    assert from_command is not None
    return SourceKind.COMMAND, from_command


def LoadById(
    entity_type: type[Any],
    *,
    by: str = "id",
    profile: str = "default",
    on_missing: OnMissing = OnMissing.RAISE,
) -> Any:
    """Fetch ``entity_type`` by primary key, taken from the primitive parameter ``by``."""
    return LoadMarker(
        entity_type, SourceKind.PARAM, by, LookupKind.BY_ID, "id", profile, OnMissing(on_missing)
    )


def Load(
    entity_type: type[Any],
    *,
    from_param: str | None = None,
    from_command: str | None = None,
    against: str,
    profile: str = "default",
    on_missing: OnMissing = OnMissing.RAISE,
) -> Any:
    """Fetch the first ``entity_type`` whose ``against`` equals a parameter or command field.

    Raises:
        ValueError: not exactly one of ``from_param`` / ``from_command`` was given.
    """
    kind, name = _one_source("Load", from_param, from_command)
    return LoadMarker(
        entity_type, kind, name, LookupKind.BY_FIELD, against, profile, OnMissing(on_missing)
    )


def Exists(
    entity_type: type[Any],
    *,
    from_param: str | None = None,
    from_command: str | None = None,
    against: str,
    on_missing: OnMissing = OnMissing.RETURN_FALSE,
) -> Any:
    """Inject whether a row of ``entity_type`` with ``against`` equal to the source exists.

    Raises:
        ValueError: not exactly one of ``from_param`` / ``from_command`` was given.
    """
    kind, name = _one_source("Exists", from_param, from_command)
    return ExistsMarker(entity_type, kind, name, against, OnMissing(on_missing))
