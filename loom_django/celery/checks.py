"""The jobs door's system checks (``loom_django.E2xx``); registered always, each decides
whether it applies and only reads settings."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error

__all__ = ["CHECKS", "E201", "check_result_backend"]

E201 = "loom_django.E201"
"""``CELERY_RESULT_BACKEND`` is ``django-db`` but ``django_celery_results`` is not installed."""


def check_result_backend(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``loom_django.E201``: results go to ``django-db`` but django_celery_results is missing."""
    from django.apps import apps
    from django.conf import settings

    backend = getattr(settings, "CELERY_RESULT_BACKEND", None)
    if backend == "django-db" and not apps.is_installed("django_celery_results"):
        return [
            Error(
                "CELERY_RESULT_BACKEND is 'django-db' but django_celery_results is not installed.",
                hint='Add "django_celery_results" to INSTALLED_APPS and run migrate.',
                id=E201,
            )
        ]
    return []


CHECKS = (check_result_backend,)
