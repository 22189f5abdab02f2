"""The ETL door's side of the door contract (see :mod:`loom_django.doors`).

Importable without polars: heavy imports happen inside the hooks.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from loom_django.etl.checks import CHECKS

if TYPE_CHECKING:
    from loom_django.contributions import RuntimeProvider

__all__ = ["CHECKS", "EXTRA", "REQUIRES", "discover", "ready"]

REQUIRES: tuple[str, ...] = ("polars",)
EXTRA = "etl"

_log = logging.getLogger("loom_django.etl")


def _modules() -> list[Any]:
    from importlib import import_module
    from importlib.util import find_spec

    from django.apps import apps

    from loom_django.conf import conf

    modules = []
    auto = conf.ETL_AUTODISCOVER
    if auto:
        name = auto if isinstance(auto, str) else "etl"
        for app in apps.get_app_configs():
            path = f"{app.name}.{name}"
            if find_spec(app.name) is not None and find_spec(path) is not None:
                modules.append(import_module(path))
    modules.extend(import_module(path) for path in conf.ETL_PIPELINES)
    return modules


def discover() -> list[type[Any]]:
    """Import every installed app's ``etl`` module (or the configured module name) and the
    ``ETL_PIPELINES`` modules; return the concrete pipeline classes defined in them.

    Raises:
        ImportError: a module cannot be imported (a broken ``etl.py`` is never skipped).
    """
    from loom_django.etl.compiler import is_pipeline

    found: list[type[Any]] = []
    for module in _modules():
        for value in vars(module).values():
            if is_pipeline(value) and value.__module__ == module.__name__ and value not in found:
                found.append(value)
    return found


def ready(provider: RuntimeProvider) -> None:
    """Discover and compile the pipelines into the registry; record failures, never raise."""
    from loom_django.etl.compiler import ETLCompiler
    from loom_django.etl.config import load_config
    from loom_django.etl.errors import ETLCompilationError
    from loom_django.etl.registry import pipeline_name, registry

    registry.runtime = provider
    from django.apps import apps

    if apps.is_installed("django.contrib.admin"):
        from loom_django.etl.admin import register

        register()
    try:
        registry.config = load_config()
    except Exception as exc:  # msgspec / omegaconf errors: reported by loom_etl.E003
        registry.failures.append(f"invalid etl configuration: {exc}")
        return
    compiler = ETLCompiler(registry.config)
    registry.compiler = compiler
    try:
        pipelines = discover()
    except ImportError as exc:
        registry.failures.append(f"ETL discovery failed: {exc}")
        return
    for cls in pipelines:
        name = pipeline_name(cls)
        registry.add(cls, name)
        try:
            registry.plans[name] = compiler.compile(cls)
        except ETLCompilationError as exc:
            registry.errors[name] = exc
