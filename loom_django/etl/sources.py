"""Source builders: where a step's frames come from. Immutable; every method returns a copy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Generic, TypeVar

from loom_django.etl.expr import AndPred, Predicate
from loom_django.etl.schema import Format, ReadOptions

__all__ = [
    "FromFile",
    "FromModel",
    "FromQuery",
    "FromTable",
    "FromTemp",
    "JsonColumn",
    "SourceSet",
    "SourceSpec",
    "Sources",
]

ParamsT = TypeVar("ParamsT")


def _columns(names: tuple[str, ...]) -> tuple[str, ...]:
    if not names:
        raise ValueError(".columns() needs at least one column name")
    return names


@dataclass(frozen=True)
class JsonColumn:
    """A ``parse_json`` declaration: ``column`` (JSON text) decoded to ``contract``."""

    column: str
    contract: Any = field(compare=False)
    description: Any
    lenient: bool = True


def _json_column(column: str, contract: Any, lenient: bool) -> JsonColumn:
    from loom_django.etl._json import describe

    return JsonColumn(column, contract, describe(contract, f"parse_json({column!r})"), lenient)


@dataclass(frozen=True)
class FromTable:
    """A table: a Django model class, a loom model class or a logical name routed by config.

    ``.where()`` predicates are pushed into the SQL ``WHERE``; ``.columns()`` is the
    ``SELECT`` list; ``.using(alias)`` picks the Django database.
    """

    ref: Any
    predicate: Predicate | None = None
    projected: tuple[str, ...] | None = None
    database: str | None = None
    json_columns: tuple[JsonColumn, ...] = ()

    def parse_json(self, column: str, contract: Any, *, lenient: bool = True) -> FromTable:
        """Decode the JSON text ``column`` into a struct (annotated class) or list
        (``list[X]``); with ``lenient`` a malformed value becomes null, else the read fails.

        Raises:
            TypeError: ``contract`` has no annotations or an unsupported one.
        """
        return replace(
            self, json_columns=(*self.json_columns, _json_column(column, contract, lenient))
        )

    def where(self, *predicates: Predicate) -> FromTable:
        """AND ``predicates`` with any already declared."""
        combined = self.predicate
        for pred in predicates:
            combined = pred if combined is None else AndPred(combined, pred)
        return replace(self, predicate=combined)

    def columns(self, *names: str) -> FromTable:
        """Read only these columns (non-empty, else ``ValueError``)."""
        return replace(self, projected=_columns(names))

    def using(self, alias: str) -> FromTable:
        """Read from this Django database alias."""
        return replace(self, database=alias)


def FromModel(model: type[Any]) -> FromTable:
    """``FromTable`` restricted to model classes."""
    if not isinstance(model, type):
        raise TypeError("FromModel() takes a model class; use FromTable() for names")
    return FromTable(model)


@dataclass(frozen=True)
class FromFile:
    """A file (``{field}`` placeholders are filled from params), or a configured alias."""

    path: str
    format: Format
    projected: tuple[str, ...] | None = None
    options: ReadOptions | None = None
    is_alias: bool = False
    json_columns: tuple[JsonColumn, ...] = ()

    def __init__(
        self,
        path: str,
        *,
        format: Format,
        projected: tuple[str, ...] | None = None,
        options: ReadOptions | None = None,
        is_alias: bool = False,
        json_columns: tuple[JsonColumn, ...] = (),
    ) -> None:
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "format", Format(format))
        object.__setattr__(self, "projected", projected)
        object.__setattr__(self, "options", options)
        object.__setattr__(self, "is_alias", is_alias)
        object.__setattr__(self, "json_columns", json_columns)

    def parse_json(self, column: str, contract: Any, *, lenient: bool = True) -> FromFile:
        """Decode the JSON text ``column`` into a struct (annotated class) or list
        (``list[X]``); with ``lenient`` a malformed value becomes null, else the read fails.

        Raises:
            TypeError: ``contract`` has no annotations or an unsupported one.
        """
        return replace(
            self, json_columns=(*self.json_columns, _json_column(column, contract, lenient))
        )

    @classmethod
    def alias(cls, name: str, *, format: Format) -> FromFile:
        """A file whose location is ``storage.files[name]`` in the ETL config."""
        return cls(name, format=format, is_alias=True)

    def columns(self, *names: str) -> FromFile:
        """Read only these columns (non-empty, else ``ValueError``)."""
        return replace(self, projected=_columns(names))

    def with_options(self, options: ReadOptions) -> FromFile:
        """Reader options; their class must match the format (checked at compile time)."""
        return replace(self, options=options)


@dataclass(frozen=True)
class FromTemp:
    """An intermediate written earlier in the run by ``IntoTemp(name)``."""

    name: str


@dataclass(frozen=True)
class FromQuery:
    """A Django ``QuerySet.values(...)`` built from params: for joins the DSL cannot express."""

    build: Callable[[Any], Any]


SourceSpec = FromTable | FromFile | FromTemp | FromQuery
SOURCE_TYPES: tuple[type[Any], ...] = (FromTable, FromFile, FromTemp, FromQuery)


@dataclass(frozen=True)
class Sources:
    """Grouped sources: keyword names are the aliases, in declaration order."""

    items: tuple[tuple[str, SourceSpec], ...] = field(default=())

    def __init__(self, **aliases: SourceSpec) -> None:
        object.__setattr__(self, "items", tuple(aliases.items()))

    @property
    def aliases(self) -> tuple[str, ...]:
        """The alias names, in order."""
        return tuple(name for name, _ in self.items)

    def __iter__(self) -> Iterator[tuple[str, SourceSpec]]:
        return iter(self.items)


class SourceSet(Generic[ParamsT]):
    """A reusable set of inline sources; ``extended(**more)`` adds to it (no subclassing)."""

    _items: ClassVar[tuple[tuple[str, SourceSpec], ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in cls.__mro__[1:]:
            if base is not SourceSet and issubclass(base, SourceSet) and base._items:
                raise TypeError(
                    f"{cls.__qualname__}: a concrete SourceSet ({base.__qualname__}) cannot be "
                    "subclassed; use .extended(...)"
                )
        cls._items = tuple(
            (name, value) for name, value in vars(cls).items() if isinstance(value, SOURCE_TYPES)
        )

    @classmethod
    def extended(cls, **more: SourceSpec) -> Sources:
        """These sources plus ``more``; an alias in both raises ``ValueError`` naming it."""
        clash = sorted(set(more) & {name for name, _ in cls._items})
        if clash:
            raise ValueError(f"{cls.__qualname__}.extended(): aliases already defined: {clash}")
        return Sources(**dict(cls._items), **more)

    @classmethod
    def as_sources(cls) -> Sources:
        """The set as a :class:`Sources`."""
        return Sources(**dict(cls._items))
