"""Worker signal handlers: database connections around tasks and across forks, startup checks.

Django closes stale connections only around HTTP requests; a worker must do it around
every task, must not share a connection between forked children, and must refuse to
start when the loom runtime could not be built.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import signals

from loom_django.celery.tracelog import install_trace_log_records

__all__ = ["connect_worker_signals"]

_log = logging.getLogger("loom_django.jobs")
_startup_checks: list[Callable[[], Any]] = []
_inherited: list[Any] = []


def _is_eager(sender: Any) -> bool:
    request = getattr(sender, "request", None)
    return bool(getattr(request, "is_eager", False))


def close_stale_connections(sender: Any = None, **kwargs: Any) -> None:
    """Close this thread's unusable or expired connections (``CONN_MAX_AGE``) around a task."""
    if _is_eager(sender):
        return
    from django.db import close_old_connections

    close_old_connections()


def close_connections_before_fork(**kwargs: Any) -> None:
    """In the worker's main process: fail fast on a broken runtime, then drop connections."""
    for check in _startup_checks:
        try:
            check()
        except Exception as exc:
            _log.critical("loom runtime failed to start; the worker stops: %s", exc)
            raise SystemExit(1) from exc
    from django.db import connections

    connections.close_all()


def forget_inherited_connections(**kwargs: Any) -> None:
    """In a forked child: drop the parent's connections without any network I/O.

    The driver objects are kept alive (never finalised) so nothing is ever written on
    the socket the parent still uses; Django opens fresh connections on demand.
    """
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        if conn.connection is not None:
            _inherited.append(conn.connection)
            conn.connection = None
            conn.close()


def connect_worker_signals(startup_check: Callable[[], Any] | None = None) -> None:
    """Connect the handlers once per process (idempotent); ``startup_check`` runs at worker init.

    ``startup_check`` raises when the runtime is broken; the worker then exits.
    """
    install_trace_log_records()
    if startup_check is not None and startup_check not in _startup_checks:
        _startup_checks.append(startup_check)
    signals.task_prerun.connect(
        close_stale_connections, weak=False, dispatch_uid="loom_django.close_stale.pre"
    )
    signals.task_postrun.connect(
        close_stale_connections, weak=False, dispatch_uid="loom_django.close_stale.post"
    )
    signals.worker_init.connect(
        close_connections_before_fork, weak=False, dispatch_uid="loom_django.worker_init"
    )
    signals.worker_process_init.connect(
        forget_inherited_connections, weak=False, dispatch_uid="loom_django.process_init"
    )
