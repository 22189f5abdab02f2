"""The ETL door's side of the door contract (see :mod:`loom_django.doors`).

Importable without polars: heavy imports happen inside the hooks.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from loom_django.etl.checks import CHECKS

if TYPE_CHECKING:
    from loom_django.doors import RuntimeProvider

__all__ = ["CHECKS", "EXTRA", "REQUIRES", "discover", "ready"]

REQUIRES: tuple[str, ...] = ("polars",)
EXTRA = "etl"

_log = logging.getLogger("loom_django.etl")


def discover() -> list[type[Any]]:
    """Import every installed app's ``etl`` module (or the configured name) and the
    ``ETL_PIPELINES`` modules; return every concrete pipeline class they define."""
    from importlib import import_module

    from django.utils.module_loading import autodiscover_modules

    from loom_django.conf import conf
    from loom_django.etl.compiler import is_pipeline

    modules = []
    auto = conf.ETL_AUTODISCOVER
    if auto:
        autodiscover_modules(auto if isinstance(auto, str) else "etl")
    for path in conf.ETL_PIPELINES:
        modules.append(import_module(path))
    from loom_django.etl.declarative import ETLPipeline

    found: list[type[Any]] = []
    seen: set[type[Any]] = set()
    stack = list(ETLPipeline.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls not in seen and is_pipeline(cls) and not cls.__module__.startswith("loom_django."):
            seen.add(cls)
            found.append(cls)
    return sorted(found, key=lambda c: (c.__module__, c.__qualname__))


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
