"""Target builders: where a step's frame goes. Immutable; every mode method returns a copy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Literal

from loom_django.etl.expr import AndPred, ColRef, EqPred, ParamExpr, Predicate
from loom_django.etl.schema import Format, SchemaMode, WriteOptions

__all__ = [
    "CheckpointScope",
    "IntoClient",
    "IntoFile",
    "IntoModel",
    "IntoTable",
    "IntoTemp",
    "IntoUseCase",
    "TargetSpec",
    "WriteMode",
]


class WriteMode(StrEnum):
    """How an ``IntoTable`` target changes the table."""

    APPEND = "append"
    REPLACE = "replace"
    REPLACE_PARTITIONS = "replace_partitions"
    REPLACE_WHERE = "replace_where"
    UPSERT = "upsert"


class CheckpointScope(StrEnum):
    """Lifetime of an intermediate: one run, or every attempt of one correlation id."""

    RUN = "run"
    CORRELATION = "correlation"


@dataclass(frozen=True)
class IntoTable:
    """A table target. Without a mode method it replaces the table (with a warning)."""

    ref: Any
    mode: WriteMode = WriteMode.REPLACE
    explicit: bool = False
    schema: SchemaMode = SchemaMode.STRICT
    partition_cols: tuple[str, ...] = ()
    predicate: Predicate | None = None
    keys: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    streaming: bool = False
    database: str | None = None

    def _mode(self, mode: WriteMode, schema: SchemaMode, **changes: Any) -> IntoTable:
        return replace(self, mode=mode, explicit=True, schema=SchemaMode(schema), **changes)

    def append(
        self, *, schema: SchemaMode = SchemaMode.STRICT, streaming: bool = False
    ) -> IntoTable:
        """Insert every row (not idempotent on rerun)."""
        return self._mode(WriteMode.APPEND, schema, streaming=streaming)

    def replace(
        self, *, schema: SchemaMode = SchemaMode.STRICT, streaming: bool = False
    ) -> IntoTable:
        """The table becomes exactly the frame."""
        return self._mode(WriteMode.REPLACE, schema, streaming=streaming)

    def replace_partitions(
        self, *cols: str, schema: SchemaMode = SchemaMode.STRICT, streaming: bool = False
    ) -> IntoTable:
        """Replace the rows of every distinct ``cols`` tuple present in the frame."""
        if not cols:
            raise ValueError("replace_partitions() needs at least one partition column")
        return self._mode(
            WriteMode.REPLACE_PARTITIONS, schema, partition_cols=cols, streaming=streaming
        )

    def replace_partition(
        self, *, schema: SchemaMode = SchemaMode.STRICT, **equalities: Any
    ) -> IntoTable:
        """Sugar for ``replace_where`` with an AND of ``column == value`` equalities."""
        if not equalities:
            raise ValueError("replace_partition() needs at least one column=value pair")
        pred: Predicate | None = None
        for name, value in equalities.items():
            eq = EqPred(ColRef(name), value)
            pred = eq if pred is None else AndPred(pred, eq)
        assert pred is not None
        return self.replace_where(pred, schema=schema)

    def replace_where(
        self,
        predicate: Predicate,
        *,
        schema: SchemaMode = SchemaMode.STRICT,
        streaming: bool = False,
    ) -> IntoTable:
        """Replace exactly the rows matching ``predicate``; every frame row must match it."""
        return self._mode(WriteMode.REPLACE_WHERE, schema, predicate=predicate, streaming=streaming)

    def upsert(
        self,
        *,
        keys: tuple[str, ...] | list[str],
        partition_cols: tuple[str, ...] | list[str] = (),
        exclude: tuple[str, ...] | list[str] = (),
        include: tuple[str, ...] | list[str] = (),
        schema: SchemaMode = SchemaMode.STRICT,
    ) -> IntoTable:
        """Update rows whose ``keys`` match, insert the others."""
        return self._mode(
            WriteMode.UPSERT,
            schema,
            keys=tuple(keys),
            partition_cols=tuple(partition_cols),
            exclude=tuple(exclude),
            include=tuple(include),
        )

    def using(self, alias: str) -> IntoTable:
        """Write to this Django database alias."""
        return replace(self, database=alias)


def IntoModel(model: type[Any]) -> IntoTable:
    """``IntoTable`` restricted to model classes."""
    if not isinstance(model, type):
        raise TypeError("IntoModel() takes a model class; use IntoTable() for names")
    return IntoTable(model)


@dataclass(frozen=True)
class IntoFile:
    """A file, fully overwritten atomically; ``{field}`` placeholders come from params."""

    path: str
    format: Format
    options: WriteOptions | None = None
    is_alias: bool = False

    def __init__(
        self,
        path: str,
        *,
        format: Format,
        options: WriteOptions | None = None,
        is_alias: bool = False,
    ) -> None:
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "format", Format(format))
        object.__setattr__(self, "options", options)
        object.__setattr__(self, "is_alias", is_alias)

    @classmethod
    def alias(cls, name: str, *, format: Format) -> IntoFile:
        """A file whose location is ``storage.files[name]`` in the ETL config."""
        return cls(name, format=format, is_alias=True)

    def with_options(self, options: WriteOptions) -> IntoFile:
        """Writer options; their class must match the format (checked at compile time)."""
        return replace(self, options=options)


@dataclass(frozen=True)
class IntoTemp:
    """An intermediate for later steps of the run (``FromTemp(name)``)."""

    name: str
    scope: CheckpointScope = CheckpointScope.RUN
    append: bool = False


@dataclass(frozen=True)
class IntoClient:
    """Sentinel target of ``ClientStep``: nothing is written by a writer."""


@dataclass(frozen=True)
class IntoUseCase:
    """Each row of the frame runs through a compiled use case (validate or execute)."""

    use_case: type[Any]
    payload: Mapping[str, str] | None = None
    params: Mapping[str, str | ParamExpr] | None = None
    mode: Literal["execute", "validate"] = "execute"
    on_error: Literal["fail", "reject"] = "fail"
    rejects: IntoFile | IntoTable | IntoTemp | None = None
    max_rejects: int | float | None = None
    batch_size: int = 1000
    transaction: Literal["step", "batch"] = "step"

    def __post_init__(self) -> None:
        if self.mode not in ("execute", "validate"):
            raise ValueError(f"IntoUseCase mode must be 'execute' or 'validate', not {self.mode!r}")
        if self.on_error not in ("fail", "reject"):
            raise ValueError(
                f"IntoUseCase on_error must be 'fail' or 'reject', not {self.on_error!r}"
            )
        if self.transaction not in ("step", "batch"):
            raise ValueError("IntoUseCase transaction must be 'step' or 'batch'")
        if self.batch_size < 1:
            raise ValueError("IntoUseCase batch_size must be >= 1")


TargetSpec = IntoTable | IntoFile | IntoTemp | IntoClient | IntoUseCase
TARGET_TYPES: tuple[type[Any], ...] = (IntoTable, IntoFile, IntoTemp, IntoClient, IntoUseCase)
