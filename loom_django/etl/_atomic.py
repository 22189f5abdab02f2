"""Single-transaction pipelines (``ETLPipeline.atomic``): which alias, and whether allowed."""

from __future__ import annotations

from typing import Any

from loom_django.etl.config import EtlConfig
from loom_django.etl.errors import ETLCompilationError
from loom_django.etl.errors import ETLErrorCode as C
from loom_django.etl.plan import (
    ParallelProcessGroup,
    ParallelStepGroup,
    PipelinePlan,
    iter_all_steps,
)

__all__ = ["atomic_database"]


def _same_database(a: str, b: str) -> bool:
    """Two aliases share a database: equal, or (SQLite) one file, whose second connection
    would block on the first one's open write transaction."""
    if a == b:
        return True
    from django.db import connections

    x, y = connections[a].settings_dict, connections[b].settings_dict
    sqlite = "django.db.backends.sqlite3"
    memory = (":memory:", "")
    return bool(
        x["ENGINE"] == y["ENGINE"] == sqlite
        and x["NAME"] == y["NAME"]
        and str(x["NAME"]) not in memory
    )


def atomic_database(plan: PipelinePlan, config: EtlConfig) -> str:
    """The alias whose one transaction wraps the run of an ``atomic`` pipeline.

    Raises:
        ETLCompilationError: ``ATOMIC_UNSUPPORTED`` for a parallel group or table targets on
            several aliases; ``ATOMIC_HISTORY_CONFLICT`` when run history shares the database
            (its rows must survive the rollback).
    """
    name = plan.pipeline_type.__qualname__
    parallel = any(isinstance(n, ParallelProcessGroup) for n in plan.nodes) or any(
        isinstance(n, ParallelStepGroup) for p in plan.nodes for n in getattr(p, "nodes", ())
    )
    if parallel:
        raise ETLCompilationError(
            C.ATOMIC_UNSUPPORTED, name, "an atomic pipeline cannot have parallel groups"
        )
    aliases: set[Any] = {
        s.target_binding.route.database
        for s in iter_all_steps(plan)
        if s.target_binding.route is not None
    }
    if len(aliases) > 1:
        raise ETLCompilationError(
            C.ATOMIC_UNSUPPORTED,
            name,
            f"an atomic pipeline writes to one database; its targets use {sorted(aliases)}",
        )
    alias = aliases.pop() if aliases else "default"
    if config.history.enabled and _same_database(config.history.database, alias):
        raise ETLCompilationError(
            C.ATOMIC_HISTORY_CONFLICT,
            name,
            f"run history is written to {config.history.database!r}, the database the atomic "
            "pipeline rolls back; set etl.history.database to another alias or disable history",
        )
    return alias
