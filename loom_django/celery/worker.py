"""The kernel's worker entry points: ``create_app`` / ``bootstrap_worker`` from YAML files.

A Django project needs neither (``celery -A <project> worker`` builds the same runtime
in ``AppConfig.ready()``); they keep the kernel's ``worker.yaml`` + ``worker_main.py``
pattern working::

    # worker_main.py
    from loom_django.celery import create_app
    celery_app = create_app("config/worker.yaml")
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celery import Celery

from loom_django.assembly import build_with_doors, discovered_spec
from loom_django.celery.config import celery_section
from loom_django.celery.names import TaskCatalog
from loom_django.celery.service import CeleryJobService
from loom_django.celery.signals import connect_worker_signals
from loom_django.celery.tasks import register_tasks
from loom_django.core.bootstrap import LoomRuntime
from loom_django.core.config import load_config, to_plain
from loom_django.core.config.observability import app_name
from loom_django.core.config.section import has_section
from loom_django.core.di import LoomContainer
from loom_django.core.discovery import DiscoveryResult, discover
from loom_django.core.engine.events import MetricsAdapter
from loom_django.core.errors import ConfigError
from loom_django.core.use_case.factory import UseCaseFactory

__all__ = ["WorkerBootstrapResult", "bootstrap_worker", "create_app"]

DIModule = Callable[[LoomContainer], None] | str


@dataclass(frozen=True)
class WorkerBootstrapResult:
    """What ``bootstrap_worker`` built: the container, the factory and the Celery app."""

    container: LoomContainer
    factory: UseCaseFactory
    celery_app: Celery
    runtime: LoomRuntime


def bootstrap_worker(
    *config_paths: str | Path,
    jobs: Sequence[type[Any]] = (),
    use_cases: Sequence[type[Any]] = (),
    interfaces: Sequence[type[Any]] = (),
    callbacks: Sequence[type[Any]] = (),
    modules: Sequence[DIModule] = (),
    metrics: MetricsAdapter | None = None,
) -> WorkerBootstrapResult:
    """Build a worker runtime and its Celery app from YAML (``celery`` section required).

    Explicit ``jobs``/``use_cases``/``callbacks`` are supplemented by ``app.discovery``
    (modes ``modules`` or ``manifest``); the route use cases of ``interfaces`` and the
    auto-CRUD use cases of every mapped model are compiled too. ``modules`` are DI
    modules (``register(container)`` callables or dotted paths), run after YAML
    ``app.modules``. Django must be configured (``DJANGO_SETTINGS_MODULE``).

    Raises:
        ConfigError: no files, or no ``celery`` section.
        RuntimeError: no jobs given and no discovery configured, or discovery found none.
        ValueError: ``interfaces`` discovery mode, or an invalid ``celery`` section.
        BootstrapError: a job, use case or callback does not compile or resolve.
    """
    cfg = load_config(*config_paths)
    found = celery_section(cfg)
    if found is None:
        raise ConfigError(
            "bootstrap_worker needs a 'celery' section (broker_url, result_backend, ...) "
            f"in {', '.join(str(p) for p in config_paths)}."
        )
    celery_cfg, explicit = found
    _ensure_django()
    discovered = _discover(cfg)
    if not jobs and discovered is None:
        raise RuntimeError("No jobs provided and no app.discovery configured for worker bootstrap.")
    result = discovered or DiscoveryResult()
    if not jobs and not result.jobs:
        raise RuntimeError(
            "No Job classes discovered. Check app.discovery (modules/manifest JOBS) or pass jobs=."
        )
    route_use_cases = [
        route.use_case
        for interface in interfaces
        for route in getattr(interface, "routes", ())
        if getattr(route, "use_case", None) is not None
    ]
    spec = discovered_spec(
        cfg,
        result,
        di_modules=_di_modules(cfg, modules),
        use_cases=[*use_cases, *route_use_cases],
        jobs=jobs,
        callbacks=callbacks,
        metrics=metrics,
    )
    catalog = TaskCatalog.build(spec.jobs, spec.callbacks)
    app = Celery(app_name(cfg), set_as_current=False)
    app.conf.update(celery_cfg.celery_settings())
    if "result_backend" not in explicit:
        app.conf.update(result_extended=True, task_track_started=True)

    def make_service(factory: UseCaseFactory, executor: Any) -> CeleryJobService:
        return CeleryJobService(app, metrics, factory, executor, catalog=catalog)

    spec.job_service = make_service
    runtime = build_with_doors(spec, skip=("celery",))
    register_tasks(app, catalog, lambda: runtime)
    connect_worker_signals()
    return WorkerBootstrapResult(runtime.container, runtime.factory, app, runtime)


def create_app(
    *config_paths: str | Path,
    jobs: Sequence[type[Any]] = (),
    callbacks: Sequence[type[Any]] = (),
    modules: Sequence[DIModule] = (),
    metrics: MetricsAdapter | None = None,
) -> Celery:
    """The Celery app of :func:`bootstrap_worker`, for ``celery -A worker_main:celery_app``."""
    return bootstrap_worker(
        *config_paths, jobs=jobs, callbacks=callbacks, modules=modules, metrics=metrics
    ).celery_app


def _ensure_django() -> None:
    from django.apps import apps
    from django.conf import settings

    if apps.ready:
        return
    if not settings.configured and not os.environ.get("DJANGO_SETTINGS_MODULE"):
        raise RuntimeError(
            "bootstrap_worker runs jobs on the Django ORM: set DJANGO_SETTINGS_MODULE "
            "to the project's settings (with loom_django and django_celery_results installed)."
        )
    import django

    django.setup()


def _select(cfg: Any, key: str) -> Any:
    from omegaconf import OmegaConf

    return OmegaConf.select(cfg, key, default=None)


def _discover(cfg: Any) -> DiscoveryResult | None:
    if not has_section(cfg, "app.discovery"):
        return None
    discovery = to_plain(_select(cfg, "app.discovery")) or {}
    mode = discovery.get("mode", "interfaces")
    if mode == "interfaces":
        raise ValueError(
            "Workers do not support the 'interfaces' discovery mode; use 'modules' or "
            "'manifest' in app.discovery."
        )
    if mode == "manifest":
        module = discovery.get("manifest", {}).get("module", "")
        if module:
            import importlib

            if hasattr(importlib.import_module(module), "MANIFEST"):
                raise ValueError(
                    f"Manifest module '{module}' exposes MANIFEST; list components in "
                    "MODELS, USE_CASES, INTERFACES, JOBS and CALLBACKS instead."
                )
    if mode == "apps":
        from django.apps import apps

        return discover(discovery, app_modules=[a.name for a in apps.get_app_configs()])
    return discover(discovery)


def _di_modules(cfg: Any, modules: Sequence[DIModule]) -> list[Callable[[LoomContainer], None]]:
    from loom_django.conf import import_di_module

    paths = to_plain(_select(cfg, "app.modules")) or []
    loaded: list[Callable[[LoomContainer], None]] = [import_di_module(p) for p in paths]
    for module in modules:
        loaded.append(import_di_module(module) if isinstance(module, str) else module)
    return loaded


def _unique(items: Iterable[type[Any]]) -> list[type[Any]]:
    return list(dict.fromkeys(items))
