"""The REST door's side of the door contract (see :mod:`loom_django.doors`).

Importable without django-ninja installed: the hub reads ``REQUIRES`` before calling
anything. The API itself is built lazily by ``loom_django.rest.ninja.get_api``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from loom_django.rest.checks import check_interfaces
from loom_django.rest.deploy_checks import DEPLOY_CHECKS as _DEPLOY_CHECKS
from loom_django.rest.serving_checks import check_asgi_pool

if TYPE_CHECKING:
    from loom_django.contributions import RuntimeProvider

__all__ = ["CHECKS", "DEPLOY_CHECKS", "EXTRA", "REQUIRES", "ready"]

REQUIRES: tuple[str, ...] = ("ninja",)
EXTRA = "rest"


def ready(provider: RuntimeProvider) -> None:
    """``get_api()``/``create_api()`` take the process runtime from ``provider``."""
    from loom_django.rest.ninja.api import use_runtime_provider

    use_runtime_provider(provider)


CHECKS: tuple[Callable[..., Any], ...] = (check_interfaces,)
DEPLOY_CHECKS: tuple[Callable[..., Any], ...] = (*_DEPLOY_CHECKS, check_asgi_pool)
