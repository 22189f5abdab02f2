"""One run with its history, pipeline lock and heartbeat: what the ``loom_etl run`` command
and the Celery task share."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connections
from django.utils.connection import ConnectionDoesNotExist

from loom_django.etl.cancel import Cancellation
from loom_django.etl.history import Heartbeat, HistoryObserver, acquire_lock, release_lock
from loom_django.etl.runner import ETLRunner, RunResult

__all__ = ["Launch", "launch"]

_log = logging.getLogger("loom_django.etl.runner")


@dataclass(frozen=True)
class Launch:
    """How to run: ids, who triggered it, and whether history and the lock apply."""

    include: Sequence[str] = ()
    run_id: str | None = None
    trigger: str = "cli"
    history: bool = True
    lock: bool = True
    lock_key: str | None = None
    attempt: int = 1
    last_attempt: bool = True
    correlation_id: str | None = None


def _in_atomic(alias: str) -> bool:
    try:
        return bool(connections[alias].in_atomic_block)
    except ConnectionDoesNotExist:
        return False  # reported by the history observer's failing writes


def launch(
    runner: ETLRunner,
    pipeline: type[Any],
    name: str,
    params: Any,
    how: Launch = Launch(),
    *,
    cancel: Cancellation | None = None,
) -> RunResult:
    """Take the lock (``how.lock_key`` or ``name``), record history, keep both alive with a
    heartbeat, run, and release the lock whatever happens.

    ``history.enabled`` / ``lock.enabled`` of the runner's config switch either off for
    every run; ``how`` switches them off for this one.

    Raises:
        MissingDependency: Prometheus metrics are enabled without prometheus-client.
        LockHeldError: a live lock is held by another run.
        DatabaseError: the lock's database cannot be reached.
        Exception: whatever :meth:`ETLRunner.run` raises.
    """
    config = runner.config
    run_id = how.run_id or str(uuid.uuid4())
    db = config.history.database
    observers: list[Any] = []
    history_on = config.history.enabled and how.history
    if history_on:
        observers.append(
            HistoryObserver(
                pipeline,
                backend=runner.backend,
                include=how.include,
                trigger=how.trigger,
                database=db,
                attempt=how.attempt,
                last_attempt=how.last_attempt,
                correlation_id=how.correlation_id,
            )
        )
    prometheus = config.observability.prometheus
    if prometheus.enabled:
        from loom_django.etl.prometheus import PrometheusObserver

        observers.append(PrometheusObserver(pushgateway_url=prometheus.pushgateway_url))
    if history_on and _in_atomic(db):
        _log.warning(
            "ETL run %s of %s starts inside transaction.atomic() on %r: its history and lock "
            "rows roll back with that transaction",
            run_id,
            name,
            db,
        )
    lock_key = (how.lock_key or name) if config.lock.enabled and how.lock else None
    if lock_key is not None:
        acquire_lock(lock_key, run_id, database=db, stale_after=config.lock.stale_after_seconds)
    beat = Heartbeat(
        run_id if history_on else None,
        lock_key,
        database=db,
        every=config.history.heartbeat_seconds,
    )
    try:
        with beat:
            return runner.run(
                pipeline,
                params,
                include=how.include or None,
                run_id=run_id,
                observers=observers,
                correlation_id=how.correlation_id,
                attempt=how.attempt,
                last_attempt=how.last_attempt,
                cancel=cancel,
            )
    finally:
        if lock_key is not None:
            try:
                release_lock(lock_key, run_id, database=db)
            except DatabaseError:
                _log.warning("could not release ETL lock %r of run %s", lock_key, run_id)
