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
    "IntoHistory",
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


@dataclass(frozen=True, init=False)
class IntoHistory:
    """A slowly changing dimension (SCD type 2): one row per version of each entity.

    ``mode="snapshot"``: the frame is the full current state on ``effective_date`` (a
    ``params`` expression or a date). ``mode="log"``: the frame is a change log and
    ``effective_date`` names its date column. ``track`` columns open a new version when they
    change (``None``: every column that is not a key, boundary or ``overwrite`` column);
    ``overwrite`` columns are updated in place on the open version.

    Raises:
        ValueError: empty ``keys``; ``keys`` ∩ ``track``; ``overwrite`` overlapping keys,
            track or a boundary column; boundary columns not distinct; a bad ``mode``,
            ``delete_policy`` or ``date_type``; an ``effective_date`` of the wrong kind for
            the mode (log mode: equal to ``valid_from``/``valid_to``).
    """

    ref: Any
    keys: tuple[str, ...]
    effective_date: Any
    mode: Literal["snapshot", "log"]
    track: tuple[str, ...] | None
    overwrite: tuple[str, ...]
    delete_policy: Literal["ignore", "close", "soft_delete"]
    partition_scope: tuple[str, ...]
    valid_from: str
    valid_to: str
    deleted_at: str
    date_type: Literal["date", "timestamp"]
    schema: SchemaMode
    allow_temporal_rerun: bool
    database: str | None

    def __init__(
        self,
        ref: Any,
        *,
        keys: tuple[str, ...] | list[str],
        effective_date: Any,
        mode: Literal["snapshot", "log"] = "snapshot",
        track: tuple[str, ...] | list[str] | None = None,
        overwrite: tuple[str, ...] | list[str] | None = None,
        delete_policy: Literal["ignore", "close", "soft_delete"] = "close",
        partition_scope: tuple[str, ...] | list[str] | None = None,
        valid_from: str = "valid_from",
        valid_to: str = "valid_to",
        deleted_at: str = "deleted_at",
        date_type: Literal["date", "timestamp"] = "date",
        schema: SchemaMode = SchemaMode.STRICT,
        allow_temporal_rerun: bool = False,
        database: str | None = None,
    ) -> None:
        values = {
            "ref": ref,
            "keys": tuple(keys),
            "effective_date": effective_date,
            "mode": mode,
            "track": None if track is None else tuple(track),
            "overwrite": tuple(overwrite or ()),
            "delete_policy": delete_policy,
            "partition_scope": tuple(partition_scope or ()),
            "valid_from": valid_from,
            "valid_to": valid_to,
            "deleted_at": deleted_at,
            "date_type": date_type,
            "schema": SchemaMode(schema),
            "allow_temporal_rerun": allow_temporal_rerun,
            "database": database,
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)
        self._validate()

    def _validate(self) -> None:
        if not self.keys:
            raise ValueError("IntoHistory needs at least one key column")
        if self.mode not in ("snapshot", "log"):
            raise ValueError(f"IntoHistory mode must be 'snapshot' or 'log', not {self.mode!r}")
        if self.delete_policy not in ("ignore", "close", "soft_delete"):
            raise ValueError("IntoHistory delete_policy must be 'ignore', 'close' or 'soft_delete'")
        if self.date_type not in ("date", "timestamp"):
            raise ValueError("IntoHistory date_type must be 'date' or 'timestamp'")
        bounds = (self.valid_from, self.valid_to, self.deleted_at)
        if len(set(bounds)) != 3:
            raise ValueError(f"IntoHistory valid_from/valid_to/deleted_at must differ: {bounds}")
        both = sorted(set(self.keys) & set(self.track or ()))
        if both:
            raise ValueError(f"IntoHistory columns {both} are both keys and tracked")
        clash = sorted(set(self.overwrite) & {*self.keys, *(self.track or ()), *bounds})
        if clash:
            raise ValueError(f"IntoHistory overwrite columns {clash} are keys, tracked or bounds")
        if self.mode == "log":
            if not isinstance(self.effective_date, str):
                raise ValueError("IntoHistory log mode: effective_date names the event column")
            if self.effective_date in (self.valid_from, self.valid_to):
                raise ValueError(
                    f"IntoHistory log mode: effective_date {self.effective_date!r} must differ "
                    "from valid_from and valid_to"
                )
        elif isinstance(self.effective_date, str):
            raise ValueError(
                "IntoHistory snapshot mode: effective_date is a params expression or a date"
            )

    @property
    def bounds(self) -> tuple[str, str, str]:
        """The names of the ``valid_from``, ``valid_to`` and ``deleted_at`` columns."""
        return (self.valid_from, self.valid_to, self.deleted_at)

    def using(self, alias: str) -> IntoHistory:
        """Write to this Django database alias."""
        copy = object.__new__(IntoHistory)
        copy.__dict__.update(self.__dict__, database=alias)
        return copy


TargetSpec = IntoTable | IntoFile | IntoTemp | IntoClient | IntoUseCase | IntoHistory
TARGET_TYPES: tuple[type[Any], ...] = (
    IntoTable,
    IntoFile,
    IntoTemp,
    IntoClient,
    IntoUseCase,
    IntoHistory,
)
