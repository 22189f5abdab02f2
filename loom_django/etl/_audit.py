"""Audit columns (``storage.audit``): which values a step's table write carries, and adding
them to the frame for the fields the target model declares (see ``EtlAuditFields``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from loom_django.etl.config import EtlConfig
from loom_django.etl.plan import TableRoute

if TYPE_CHECKING:
    import polars as pl

__all__ = ["add_audit", "audit_values"]

_log = logging.getLogger("loom_django.etl.runner")
_warned: set[str] = set()
_warned_lock = threading.Lock()


def audit_values(
    config: EtlConfig, run: Any, step: str, process_run_id: str | None
) -> dict[str, Any] | None:
    """The audit columns of one step's write, or ``None`` when auditing is off.

    Raises:
        AttributeError: a custom column's ``from_param`` is not a params field.
    """
    audit = config.storage.audit
    if not audit.enabled:
        return None
    p = audit.prefix
    values: dict[str, Any] = {
        f"{p}run_id": run.run_id,
        f"{p}step": step,
        f"{p}attempt": run.attempt,
    }
    if process_run_id is not None:
        values[f"{p}process_run_id"] = process_run_id
    for column in audit.custom:
        if column.from_param is not None:
            values[column.name] = str(getattr(run.params, column.from_param))
        else:
            values[column.name] = column.value
    return values


def add_audit(
    frame: pl.DataFrame, route: TableRoute, values: Mapping[str, Any] | None
) -> pl.DataFrame:
    """``frame`` with the audit columns the model has fields for (``attempt`` as Int32);
    a model lacking some of them is warned about once."""
    import polars as pl

    if not values:
        return frame
    fields = {c.name for c in route.columns}
    missing = sorted(set(values) - fields)
    if missing:
        with _warned_lock:
            first = route.name not in _warned
            _warned.add(route.name)
        if first:
            _log.warning(
                "%s has no fields for audit columns %s; they are not written (declare them, "
                "e.g. with loom_django.etl.models.EtlAuditFields)",
                route.name,
                missing,
            )
    columns = [
        pl.lit(value, dtype=pl.Int32 if isinstance(value, int) else pl.String).alias(name)
        for name, value in values.items()
        if name in fields
    ]
    return frame.with_columns(columns) if columns else frame
