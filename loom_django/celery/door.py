"""The jobs door's side of the door contract (see :mod:`loom_django.doors`).

Importable without Celery installed: the hub reads ``REQUIRES`` before calling anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from loom_django.celery.checks import CHECKS

if TYPE_CHECKING:
    from loom_django.contributions import RuntimeProvider
    from loom_django.core.bootstrap import RuntimeSpec

__all__ = [
    "CHECKS",
    "DEPLOY_CHECKS",
    "EXTRA",
    "REQUIRES",
    "configure_runtime_spec",
    "extend_api",
    "ready",
]

REQUIRES: tuple[str, ...] = ("celery", "kombu", "django_celery_results")
EXTRA = "celery"


def _deploy_check(name: str) -> Callable[..., Any]:
    """A deploy check imported when it runs (this module must import without Celery)."""

    def check(app_configs: Any = None, **kwargs: Any) -> Any:
        import loom_django.celery.deploy_checks as deploy_checks

        return getattr(deploy_checks, name)(app_configs, **kwargs)

    check.__name__ = check.__qualname__ = name
    return check


DEPLOY_CHECKS: tuple[Callable[..., Any], ...] = (
    _deploy_check("check_status_route"),
    _deploy_check("check_result_content"),
)


def configure_runtime_spec(spec: RuntimeSpec) -> None:
    """Name every job and callback task and choose the JobService (``app.jobs.backend``)."""
    from loom_django.celery.integration import configure_runtime_spec as configure

    configure(spec)


def ready(provider: RuntimeProvider) -> None:
    """Tasks get the runtime from ``provider``; a worker whose runtime could not be built
    exits at startup instead of consuming."""
    from loom_django.celery.integration import guard_workers, use_runtime_provider

    use_runtime_provider(provider)
    guard_workers()


def extend_api(api: Any, runtime: Any) -> None:
    """``GET /jobs/{job_id}`` on the loom API (``app.jobs.status_route``)."""
    from loom_django.celery.routes import mount_job_status

    mount_job_status(api, runtime)
