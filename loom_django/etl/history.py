"""The history observer (run, process and step rows) and the per-pipeline run lock.

History rows are written as events arrive, outside any step transaction, on the
``history.database`` alias; a failing history write is logged and never fails the run.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from django.db import IntegrityError, connections, transaction

from loom_django.etl.errors import LockHeldError
from loom_django.etl.models import EtlLock, EtlPipelineRun, EtlProcessRun, EtlStepRun
from loom_django.etl.runner import Event

__all__ = ["Heartbeat", "HistoryObserver", "acquire_lock", "prune", "reap_stale", "release_lock"]

_log = logging.getLogger("loom_django.etl.history")

_TRACEBACK_LIMIT = 64 * 1024
_BOUNDARY_BEAT = 1.0  # seconds between step-boundary refreshes of heartbeat_at


def _now() -> datetime:
    return datetime.now(UTC)


class HistoryObserver:
    """Writes ``EtlPipelineRun``/``EtlProcessRun``/``EtlStepRun`` rows from lifecycle events."""

    def __init__(
        self,
        pipeline_class: type[Any],
        *,
        backend: str,
        include: Sequence[str] | None = None,
        trigger: str = "cli",
        database: str = "default",
        attempt: int = 1,
        last_attempt: bool = True,
        correlation_id: str | None = None,
    ) -> None:
        self.attempt, self.last_attempt = attempt, last_attempt
        self.correlation_id = correlation_id
        self.pipeline_class = pipeline_class
        self.backend = backend
        self.include = list(include) if include else None
        self.trigger = trigger
        self.db = database
        self._failed: tuple[str, str] | None = None
        self._process: str | None = None
        self._beat_at = float("-inf")

    def on_event(self, event: Event) -> None:
        """Insert on start, update on end/error."""
        handler = getattr(self, f"_{event.scope}_{event.kind}", None)
        if handler is not None:
            handler(event)

    def _pipeline_start(self, event: Event) -> None:
        from loom_django import __version__ as version

        now = _now()
        cls = self.pipeline_class
        EtlPipelineRun.objects.using(self.db).create(
            run_id=uuid.UUID(event.run_id),
            pipeline=event.name,
            pipeline_class=f"{cls.__module__}.{cls.__qualname__}",
            params=event.params or {},
            backend=self.backend,
            status="running",
            include=self.include,
            trigger=self.trigger,
            attempt=self.attempt,
            last_attempt=self.last_attempt,
            correlation_id=self.correlation_id,
            started_at=now,
            heartbeat_at=now,
            host=socket.gethostname(),
            pid=os.getpid(),
            loom_django_version=str(version),
        )
        self._beat_at = time.monotonic()

    def _pipeline_end(self, event: Event) -> None:
        now = _now()
        failed_step, failed_id = self._failed or ("", None)
        EtlPipelineRun.objects.using(self.db).filter(run_id=event.run_id).update(
            status=event.status or "failed",
            finished_at=now,
            heartbeat_at=now,
            duration_ms=event.duration_ms,
            rows_written=event.rows_written or 0,
            rows_rejected=event.rows_rejected or 0,
            error_type=event.error_type or "",
            error_message=event.error or "",
            traceback=(event.traceback or "")[:_TRACEBACK_LIMIT],
            failed_step=failed_step,
            failed_step_run_id=failed_id,
        )

    def _process_start(self, event: Event) -> None:
        self._process = event.id
        EtlProcessRun.objects.using(self.db).create(
            process_run_id=event.id,
            run_id=event.run_id,
            process=event.name,
            status="running",
            started_at=_now(),
        )

    def _process_end(self, event: Event) -> None:
        failed_step, failed_id = self._failed or ("", None)
        EtlProcessRun.objects.using(self.db).filter(process_run_id=event.id).update(
            status=event.status or "failed",
            finished_at=_now(),
            duration_ms=event.duration_ms,
            error_type=event.error_type or "",
            error_message=event.error or "",
            failed_step=failed_step if event.status != "success" else "",
            failed_step_run_id=failed_id if event.status != "success" else None,
        )

    def _step_start(self, event: Event) -> None:
        now = _now()
        EtlStepRun.objects.using(self.db).create(
            step_run_id=event.id,
            run_id=event.run_id,
            process_run_id=event.parent,
            step=event.name,
            status="running",
            started_at=now,
            target=event.target or "",
            write_mode=event.write_mode or "",
        )
        self._heartbeat(event.run_id, now)

    def _step_end(self, event: Event) -> None:
        now = _now()
        if event.status != "success" and self._failed is None:
            self._failed = (event.name, event.id)
        EtlStepRun.objects.using(self.db).filter(step_run_id=event.id).update(
            status=event.status or "failed",
            finished_at=now,
            duration_ms=event.duration_ms,
            rows_written=event.rows_written or 0,
            rows_rejected=event.rows_rejected or 0,
            metrics=event.metrics or {},
            error_type=event.error_type or "",
            error_message=event.error or "",
        )
        self._heartbeat(event.run_id, now)

    def _heartbeat(self, run_id: str, now: datetime) -> None:
        """Refresh the run's ``heartbeat_at`` at a step boundary, unless this observer wrote it
        less than ``_BOUNDARY_BEAT`` s ago (quick steps then cost no extra commit)."""
        tick = time.monotonic()
        if tick - self._beat_at < _BOUNDARY_BEAT:
            return
        self._beat_at = tick
        EtlPipelineRun.objects.using(self.db).filter(run_id=run_id).update(heartbeat_at=now)


class _Beater:
    """One daemon thread for every live :class:`Heartbeat` of the process, started once, so a
    run pays no thread start; it closes its connections whenever no run is registered."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: dict[Heartbeat, float] = {}
        self._thread: threading.Thread | None = None

    def register(self, beat: Heartbeat) -> None:
        with self._cond:
            self._due[beat] = time.monotonic() + beat.every
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="loom-etl-heartbeat", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def unregister(self, beat: Heartbeat) -> None:
        with self._cond:
            self._due.pop(beat, None)
            self._cond.notify()

    def _next(self) -> list[Heartbeat]:
        """Wait until some heartbeat is due (or none is registered: then return none)."""
        with self._cond:
            while True:
                if not self._due:
                    return []
                now = time.monotonic()
                due = [b for b, at in self._due.items() if at <= now]
                if due:
                    for b in due:
                        self._due[b] = now + b.every
                    return due
                self._cond.wait(min(self._due.values()) - now)

    def _loop(self) -> None:
        opened = False
        while True:
            due = self._next()
            if not due:
                if opened:
                    connections.close_all()
                    opened = False
                with self._cond:
                    if not self._due:
                        self._cond.wait()
                continue
            opened = True
            for beat in due:
                try:
                    beat.beat()
                except Exception:
                    _log.warning("ETL heartbeat failed", exc_info=True)


_BEATER = _Beater()


class Heartbeat:
    """Refreshes ``heartbeat_at`` of the running history row and of the held lock every
    ``every`` seconds from a background thread, so long steps are not reaped as stale.

    Use as a context manager around the run; failures are logged, never raised.
    """

    def __init__(
        self, run_id: str | None, lock_key: str | None, *, database: str, every: float
    ) -> None:
        self.run_id, self.lock_key, self.db, self.every = run_id, lock_key, database, every

    def beat(self) -> None:
        """Refresh both timestamps once."""
        now = _now()
        if self.run_id is not None:
            runs = EtlPipelineRun.objects.using(self.db).filter(run_id=self.run_id)
            runs.filter(status="running").update(heartbeat_at=now)
        if self.lock_key is not None:
            EtlLock.objects.using(self.db).filter(key=self.lock_key).update(heartbeat_at=now)

    def __enter__(self) -> Heartbeat:
        if self.run_id is not None or self.lock_key is not None:
            _BEATER.register(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _BEATER.unregister(self)


def acquire_lock(key: str, run_id: str, *, database: str, stale_after: int) -> None:
    """Take the lock ``key`` for ``run_id``; a lock older than ``stale_after`` s is taken over.

    Raises:
        LockHeldError: a live lock is held by another run.
    """
    now = _now()
    values = {
        "run_id": run_id,
        "acquired_at": now,
        "heartbeat_at": now,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    try:
        with transaction.atomic(using=database):
            EtlLock.objects.using(database).create(key=key, **values)
        return None
    except IntegrityError:
        pass
    stale = now - timedelta(seconds=stale_after)
    taken = EtlLock.objects.using(database).filter(key=key, heartbeat_at__lt=stale).update(**values)
    if taken:
        return None
    holder = EtlLock.objects.using(database).filter(key=key).first()
    if holder is None:
        return acquire_lock(key, run_id, database=database, stale_after=stale_after)
    raise LockHeldError(
        f"pipeline lock {key!r} is held by run {holder.run_id} "
        f"since {holder.acquired_at:%Y-%m-%dT%H:%M:%SZ}"
    )


def release_lock(key: str, run_id: str, *, database: str) -> None:
    """Release ``key`` if ``run_id`` holds it."""
    EtlLock.objects.using(database).filter(key=key, run_id=run_id).delete()


def prune(older_than_days: int, *, database: str) -> int:
    """Delete runs (with their process and step rows) started more than N days ago."""
    cutoff = _now() - timedelta(days=older_than_days)
    runs = EtlPipelineRun.objects.using(database).filter(started_at__lt=cutoff)
    count = runs.count()
    runs.delete()
    return count


def reap_stale(stale_after: int, *, database: str) -> int:
    """Mark ``running`` rows whose heartbeat is older than ``stale_after`` s as abandoned."""
    cutoff = _now() - timedelta(seconds=stale_after)
    return (
        EtlPipelineRun.objects.using(database)
        .filter(status="running", heartbeat_at__lt=cutoff)
        .update(status="abandoned", finished_at=_now())
    )


def format_traceback(exc: BaseException) -> str:
    """The traceback text stored on a failed run."""
    return "".join(traceback.format_exception(exc))
