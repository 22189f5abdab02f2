"""The jobs door's side of the door contract (see :mod:`loom_django.doors`).

Importable without Celery installed: the hub reads ``REQUIRES`` before calling anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loom_django.core.bootstrap import RuntimeSpec
    from loom_django.doors import RuntimeProvider

__all__ = ["EXTRA", "REQUIRES", "configure_runtime_spec", "ready"]

REQUIRES: tuple[str, ...] = ("celery", "kombu", "django_celery_results")
EXTRA = "celery"


def configure_runtime_spec(spec: RuntimeSpec) -> None:
    """Name every job and callback task and choose the JobService (``app.jobs.backend``)."""
    from loom_django.celery.integration import configure_runtime_spec as configure

    configure(spec)


def ready(provider: RuntimeProvider) -> None:
    """A worker whose runtime could not be built exits at startup instead of consuming."""
    from loom_django.celery.integration import guard_workers

    guard_workers()
