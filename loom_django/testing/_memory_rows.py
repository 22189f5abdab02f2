"""Row-level helpers of the in-memory repository: generated values and key ordering."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from loom_django.core.errors import ValidationError
from loom_django.core.model.field import ServerDefault
from loom_django.core.model.introspection import ColumnFieldInfo

__all__ = ["fill_generated", "later_than", "sortable"]


def fill_generated(
    columns: Mapping[str, ColumnFieldInfo], values: dict[str, Any], now: dt.datetime
) -> None:
    """Complete insert ``values`` the way the database would.

    Server timestamps left ``None`` become ``now``, UUID4 defaults a new UUID, missing
    nullable columns without a default ``None``.

    Raises:
        ValidationError: ``<col>: may not be null`` for a missing NOT NULL column
            without a default (the database's not-null violation, as the ORM maps it).
    """
    for name, info in columns.items():
        spec = info.field
        if spec.server_default is ServerDefault.NOW or spec.server_onupdate is not None:
            if values.get(name) is None:
                values[name] = now
        elif name in values:
            continue
        elif spec.server_default is ServerDefault.UUID4:
            values[name] = uuid.uuid4()
        elif info.required and info.nullable:
            values[name] = None
        elif info.required:
            raise ValidationError([(name, "may not be null")])


def later_than(previous: Any) -> dt.datetime:
    """The current UTC time, strictly after ``previous`` when that is a later aware datetime."""
    now = dt.datetime.now(dt.UTC)
    if isinstance(previous, dt.datetime) and previous.tzinfo is not None and now <= previous:
        return previous + dt.timedelta(microseconds=1)
    return now


def sortable(key: Any) -> tuple[str, Any]:
    """Sort key for primary keys (groups by type so mixed keys never compare)."""
    return (type(key).__name__, key)
