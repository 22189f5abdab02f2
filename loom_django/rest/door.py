"""The REST door's side of the door contract (see :mod:`loom_django.doors`).

Importable without django-ninja installed: the hub reads ``REQUIRES`` before calling anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loom_django.rest.checks import check_interfaces

if TYPE_CHECKING:
    from loom_django.contributions import RuntimeProvider

__all__ = ["CHECKS", "EXTRA", "REQUIRES", "ready"]

REQUIRES: tuple[str, ...] = ("ninja",)
EXTRA = "rest"


def ready(provider: RuntimeProvider) -> None:
    """``get_api()``/``create_api()`` take the process runtime from ``provider``."""
    from loom_django.rest.ninja.api import use_runtime_provider

    use_runtime_provider(provider)


CHECKS = (check_interfaces,)
