"""``manage.py check --deploy`` checks of the jobs door (``loom_django.W51x``).

| id | problem |
| --- | --- |
| ``W510`` | the job status route is mounted without authentication |
| ``W511`` | results are read with pickle: a stored result or error runs code when read |

Tracebacks are never part of a status response (``JobService.status`` leaves them out);
they stay in the result backend for operators.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.checks import CheckMessage, Warning

__all__ = ["DEPLOY_CHECKS", "W510", "W511", "check_result_content", "check_status_route"]

W510 = "loom_django.W510"
W511 = "loom_django.W511"


def _loom_config() -> Any:
    from loom_django.conf import conf

    return conf.loom_config()


def check_status_route(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W510: ``GET /jobs/{id}`` answers anyone holding a job id."""
    from loom_django.celery.config import jobs_settings

    settings = jobs_settings(_loom_config())
    route = settings.status_route
    if settings.backend == "inline" or not route.enabled or route.auth is not None:
        return []
    return [
        Warning(
            f"The job status route ({route.path}/{{job_id}}) has no auth of its own: anyone "
            "holding a job id reads its result and error message (unless the API's own "
            "auth covers it).",
            hint=(
                "Set app.jobs.status_route.auth to an auth class path, or "
                "app.jobs.status_route.enabled: false when clients need no job status."
            ),
            id=W510,
        )
    ]


def check_result_content(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W511: pickle among the result content types (unpickling runs code)."""
    from loom_django.celery.appref import get_celery_app

    try:
        conf = get_celery_app().conf
    except Exception:  # no Celery app: nothing reads results
        return []
    accepted = {str(c) for c in (conf.result_accept_content or conf.accept_content or ())}
    used = {str(conf.result_serializer or ""), *accepted}
    if not any("pickle" in c or "python-serialize" in c for c in used):
        return []
    return [
        Warning(
            "Celery results are serialized or accepted as pickle: whoever can write the "
            "result backend can run code in every process that reads a job status.",
            hint="Use result_serializer = 'json' and accept_content = ['json'].",
            id=W511,
        )
    ]


DEPLOY_CHECKS: tuple[Callable[..., list[CheckMessage]], ...] = (
    check_status_route,
    check_result_content,
)
"""Registered by ``loom_django.apps`` with ``deploy=True``."""
