"""Runtime and compile-time events, and the port metrics backends implement."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

__all__ = ["EventKind", "MetricsAdapter", "RuntimeEvent", "emit"]

_log = logging.getLogger("loom_django.metrics")


class EventKind(StrEnum):
    """Discriminator of every event the compiler, executor and job runtime emit."""

    COMPILE_START = "compile_start"
    COMPILE_DONE = "compile_done"
    EXEC_START = "exec_start"
    STEP_DONE = "step_done"
    EXEC_DONE = "exec_done"
    EXEC_ERROR = "exec_error"
    JOB_DISPATCHED = "job_dispatched"
    JOB_STARTED = "job_started"
    JOB_SUCCEEDED = "job_succeeded"
    JOB_RETRYING = "job_retrying"
    JOB_EXHAUSTED = "job_exhausted"


@dataclass(frozen=True, slots=True)
class RuntimeEvent:
    """One immutable event; ``use_case_name`` is the class ``__qualname__``."""

    kind: EventKind
    use_case_name: str
    step_name: str | None = None
    duration_ms: float | None = None
    status: str | None = None
    error: BaseException | None = None
    trace_id: str | None = None


@runtime_checkable
class MetricsAdapter(Protocol):
    """Receives events synchronously; plug Prometheus, StatsD or test recorders here."""

    def on_event(self, event: RuntimeEvent) -> None:
        """Record one event."""
        ...


def emit(adapter: MetricsAdapter | None, event: RuntimeEvent) -> None:
    """Deliver ``event``; an adapter failure is logged and never breaks the caller."""
    if adapter is None:
        return
    try:
        adapter.on_event(event)
    except Exception:
        _log.exception("metrics adapter %r failed on %s", adapter, event.kind)
