"""The SCD type 2 transform behind ``IntoHistory``, in Polars.

``historify(existing, incoming, spec, effective)`` takes every stored version of the
entities in scope and the step's frame, and returns the new content of that scope. The
writer then replaces the scope with it in one transaction, so the transform is pure.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl

from loom_django.etl.errors import (
    HistorifyDateCollisionError,
    HistorifyKeyConflictError,
    HistorifyTemporalConflictError,
    SchemaError,
)
from loom_django.etl.targets import IntoHistory

__all__ = ["historify", "tracked_columns"]


def _tick(spec: IntoHistory) -> timedelta:
    """The gap between a closed version's ``valid_to`` and its successor's ``valid_from``."""
    return timedelta(days=1) if spec.date_type == "date" else timedelta(microseconds=1)


def tracked_columns(spec: IntoHistory, frame_columns: list[str]) -> list[str]:
    """The declared ``track`` columns, or every frame column that is not a key, a boundary,
    an ``overwrite`` column or (log mode) the event date."""
    if spec.track is not None:
        missing = [c for c in spec.track if c not in frame_columns]
        if missing:
            raise SchemaError(f"IntoHistory: tracked columns {missing} are missing from the frame")
        return list(spec.track)
    fixed = {*spec.keys, *spec.bounds, *spec.overwrite}
    if spec.mode == "log":
        fixed.add(spec.effective_date)
    return [c for c in frame_columns if c not in fixed]


def _changed(tracked: list[str], suffix: str = "") -> pl.Expr:
    if not tracked:
        return pl.lit(False)
    return pl.any_horizontal([~pl.col(t).eq_missing(pl.col(f"{t}{suffix}")) for t in tracked])


def historify(
    existing: pl.DataFrame, incoming: pl.DataFrame, spec: IntoHistory, effective: Any
) -> pl.DataFrame:
    """The new versions of the scope (columns and order of ``existing``).

    Raises:
        HistorifyKeyConflictError: a snapshot repeats an entity.
        HistorifyDateCollisionError: two log events of one entity share a date.
        HistorifyTemporalConflictError: a snapshot older than open versions, without
            ``allow_temporal_rerun``.
        SchemaError: a key or tracked column is missing from the frame.
    """
    missing = [k for k in spec.keys if k not in incoming.columns]
    if missing:
        raise SchemaError(f"IntoHistory: key columns {missing} are missing from the frame")
    tracked = tracked_columns(spec, incoming.columns)
    if spec.mode == "log":
        result = _from_log(existing, incoming, spec, tracked)
    else:
        result = _from_snapshot(existing, incoming, spec, tracked, effective)
    return result.select(existing.columns)


def _from_snapshot(
    existing: pl.DataFrame,
    incoming: pl.DataFrame,
    spec: IntoHistory,
    tracked: list[str],
    effective: Any,
) -> pl.DataFrame:
    keys = list(spec.keys)
    dupes = incoming.filter(pl.struct(keys).is_duplicated())
    if dupes.height:
        sample = dupes.select([*keys, *tracked]).unique(maintain_order=True).head(5).rows()
        raise HistorifyKeyConflictError(
            f"IntoHistory snapshot holds {dupes.height} rows sharing keys {keys}: {sample}"
        )
    vf, vt, da = spec.bounds
    later = existing.filter(pl.col(vt).is_null() & (pl.col(vf) > effective))
    if later.height:
        if not spec.allow_temporal_rerun:
            raise HistorifyTemporalConflictError(
                f"IntoHistory snapshot of {effective} is older than {later.height} open "
                f"version(s) (latest {later[vf].max()!r}); set allow_temporal_rerun=True to "
                "re-weave the history"
            )
        events = incoming.with_columns(pl.lit(effective).alias(_EVENT))
        return _rebuild(existing, events, spec, tracked, _EVENT)
    before = effective - _tick(spec)
    dtype = existing.schema[vf]
    soft = da in existing.columns
    # A rerun of the same effective date first undoes what the previous run of it did.
    rolled_back = pl.col(vt).is_not_null() & (pl.col(vt) == before)
    reopen = [pl.when(rolled_back).then(None).otherwise(pl.col(vt)).alias(vt)]
    if soft:
        reopen.append(pl.when(rolled_back).then(None).otherwise(pl.col(da)).alias(da))
    current = existing.filter(pl.col(vf) != effective).with_columns(reopen)

    closed = current.filter(pl.col(vt).is_not_null())
    open_ = current.filter(pl.col(vt).is_null())
    payload = incoming.drop([c for c in spec.bounds if c in incoming.columns])
    both = open_.join(payload, on=keys, how="inner", suffix="__new")
    changed_keys = both.filter(_changed(tracked, "__new")).select(keys)
    overwrite = [c for c in spec.overwrite if c in payload.columns]
    kept = (
        both.filter(~_changed(tracked, "__new"))
        .with_columns([pl.col(f"{c}__new").alias(c) for c in overwrite])
        .select(open_.columns)
    )
    close = pl.lit(before).cast(dtype).alias(vt)
    closing = open_.join(changed_keys, on=keys, how="semi").with_columns(close)
    absent = open_.join(payload, on=keys, how="anti")
    if spec.delete_policy == "close":
        absent = absent.with_columns(close)
    elif spec.delete_policy == "soft_delete":
        stamps = [close]
        if soft:
            stamps.append(pl.lit(effective).cast(existing.schema[da]).alias(da))
        absent = absent.with_columns(stamps)
    new = pl.concat(
        [
            payload.join(changed_keys, on=keys, how="semi"),
            payload.join(open_, on=keys, how="anti"),
        ]
    ).with_columns(
        pl.lit(effective).cast(dtype).alias(vf), pl.lit(None).cast(existing.schema[vt]).alias(vt)
    )
    return pl.concat(
        [closed, kept, closing, absent, new],
        how="diagonal_relaxed",
    )


_EVENT = "__loom_effective"


def _from_log(
    existing: pl.DataFrame, incoming: pl.DataFrame, spec: IntoHistory, tracked: list[str]
) -> pl.DataFrame:
    keys = list(spec.keys)
    event = str(spec.effective_date)
    if event not in incoming.columns:
        raise SchemaError(f"IntoHistory log mode: the frame has no {event!r} column")
    dupes = incoming.filter(pl.struct([*keys, event]).is_duplicated())
    if dupes.height:
        sample = dupes.select([*keys, event]).unique(maintain_order=True).head(5).rows()
        raise HistorifyDateCollisionError(
            f"IntoHistory log holds several events of one entity on one date: {sample}"
        )
    return _rebuild(existing, incoming.rename({event: _EVENT}), spec, tracked, _EVENT)


def _rebuild(
    existing: pl.DataFrame,
    events: pl.DataFrame,
    spec: IntoHistory,
    tracked: list[str],
    event: str,
) -> pl.DataFrame:
    """Rebuild the timelines of the entities in ``events`` from their stored versions and
    the new events (a new event wins over a stored version starting the same date)."""
    keys = list(spec.keys)
    vf, vt, da = spec.bounds
    dtype = existing.schema[vf]
    touched = events.select(keys).unique()
    untouched = existing.join(touched, on=keys, how="anti")
    incoming = (
        events.drop([c for c in spec.bounds if c in events.columns])
        .rename({event: vf})
        .with_columns(pl.col(vf).cast(dtype))
    )
    stored = (
        existing.join(touched, on=keys, how="semi")
        .drop([vt, da], strict=False)
        .join(incoming.select([*keys, vf]), on=[*keys, vf], how="anti")
    )
    timeline = pl.concat([stored, incoming], how="diagonal_relaxed").sort([*keys, vf])
    first = pl.int_range(pl.len()).over(keys) == 0
    changes = [~pl.col(t).eq_missing(pl.col(t).shift(1).over(keys)) for t in tracked]
    versions = timeline.filter(first | pl.any_horizontal(changes) if changes else first)
    following = pl.col(vf).shift(-1).over(keys)
    versions = versions.with_columns(
        (following - pl.lit(_tick(spec))).cast(existing.schema[vt]).alias(vt)
    )
    return pl.concat([untouched, versions], how="diagonal_relaxed")
