"""Helpers for testing pipelines: an observer that records lifecycle events."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loom_django.etl.runner import Event

__all__ = ["StubRunObserver"]


class StubRunObserver:
    """Records every lifecycle event of the runs it observes (thread-safe).

    An ERROR event is followed by the scope's END with status ``failed``, so
    ``event_names`` shows ``step_error`` before ``step_end``.
    """

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def on_event(self, event: Event) -> None:
        """Record ``event``."""
        with self._lock:
            self.events.append(event)

    @property
    def event_names(self) -> list[str]:
        """``<scope>_<kind>`` of each event, in order (``pipeline_start``, ``step_end``…)."""
        return [f"{e.scope}_{e.kind}" for e in self.events]

    def _statuses(self, scope: str) -> list[str]:
        return [e.status or "" for e in self.events if e.scope == scope and e.kind == "end"]

    @property
    def step_statuses(self) -> list[str]:
        """The final status of each step, in completion order."""
        return self._statuses("step")

    @property
    def pipeline_statuses(self) -> list[str]:
        """The final status of each pipeline run."""
        return self._statuses("pipeline")
