"""The REST door's side of the door contract (see :mod:`loom_django.doors`).

Importable without django-ninja installed: the hub reads ``REQUIRES`` before anything
else. The API itself is built lazily by ``loom_django.rest.ninja.get_api``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loom_django.rest.deploy_checks import DEPLOY_CHECKS as _DEPLOY_CHECKS

__all__ = ["DEPLOY_CHECKS", "EXTRA", "REQUIRES"]

REQUIRES: tuple[str, ...] = ("ninja",)
EXTRA = "rest"
DEPLOY_CHECKS: tuple[Callable[..., Any], ...] = _DEPLOY_CHECKS
