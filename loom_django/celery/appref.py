"""Which Celery app loom sends jobs with: bound, the running task's, the project's, or its own.

Resolution order: the app of the loom task running in this context (so a job's child
jobs leave through the app that runs it); an app bound with :func:`bind_celery_app`;
the project's app (the current app, or the only one created in this process); else an
app loom creates from Django's ``CELERY_*`` settings — identical on the wire.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from celery import Celery, _state

__all__ = ["bind_celery_app", "get_celery_app", "running_task_app", "settings_app"]

_log = logging.getLogger("loom_django.jobs")
_lock = threading.Lock()
_bound: Celery | None = None
_resolved: Celery | None = None
_own: Celery | None = None
_TASK_APP: ContextVar[Celery | None] = ContextVar("loom_task_app", default=None)


def bind_celery_app(app: Celery | None) -> None:
    """Send every later dispatch of this process through ``app`` (``None`` undoes it)."""
    global _bound, _resolved
    with _lock:
        _bound = app
        _resolved = None


def get_celery_app() -> Celery:
    """The Celery app dispatches go through (see the module docstring for the order)."""
    global _resolved
    app = _TASK_APP.get() or _bound or _resolved
    if app is not None:
        return app
    with _lock:
        if _resolved is None:
            _resolved = _project_app() or settings_app()
        return _resolved


@contextmanager
def running_task_app(app: Celery) -> Iterator[None]:
    """Within the block, dispatches use ``app`` (the app running the current task)."""
    token = _TASK_APP.set(app)
    try:
        yield
    finally:
        _TASK_APP.reset(token)


def settings_app() -> Celery:
    """loom's own app, configured from Django's ``CELERY_*`` settings (created once)."""
    global _own
    if _own is None:
        app = Celery("loom", set_as_current=False, fixups=[])
        app.config_from_object("django.conf:settings", namespace="CELERY")
        app._loom_own = True
        _own = app
    return _own


def _is_candidate(app: Any) -> bool:
    return app is not _state.default_app and not getattr(app, "_loom_own", False)


def _project_app() -> Celery | None:
    current = _state._tls.current_app
    if current is not None and _is_candidate(current):
        found: Celery = current
        return found
    candidates = [app for app in list(_state._get_active_apps()) if _is_candidate(app)]
    if len(candidates) == 1:
        only: Celery = candidates[0]
        return only
    if candidates:
        _log.debug(
            "%d Celery apps exist and none is current; dispatching through loom's own app",
            len(candidates),
        )
    return None
