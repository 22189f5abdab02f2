"""Errors of the Celery door: failed sends and clashing task names."""

from __future__ import annotations

__all__ = ["DispatchError", "DuplicateTaskNameError"]


class DispatchError(Exception):
    """A job could not be handed to the broker after its transaction committed.

    Recorded as the job's ``FAILURE`` in the result backend; the request that
    dispatched the job is not failed by it (its data is already committed).
    """


class DuplicateTaskNameError(ValueError):
    """Two jobs or callbacks resolve to the same Celery task name (a startup error)."""
