"""Building a runtime from a loom config: the steps the web process and the kernel-style
worker (``loom_django.celery.worker``) share, so neither re-implements the other."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from loom_django.core.bootstrap import LoomRuntime, RuntimeSpec, build_runtime
from loom_django.core.config import ConfigContext, to_plain
from loom_django.core.discovery import DiscoveryResult
from loom_django.core.engine.events import MetricsAdapter
from loom_django.doors import installed_doors
from loom_django.extras import require

__all__ = ["apply_job_overrides", "build_with_doors", "discovered_spec", "metrics_adapter"]


def apply_job_overrides(jobs: Iterable[type[Any]], cfg: Any) -> None:
    """Apply each job's ``jobs.<JobName>`` section (retries, timeout, queue, ...)."""
    from omegaconf import OmegaConf

    from loom_django.core.job.job import JobConfig, apply_job_config

    for job in jobs:
        overrides = to_plain(OmegaConf.select(cfg, f"jobs.{job.__name__}", default=None))
        if overrides:
            apply_job_config(job, JobConfig(**overrides))


def metrics_adapter(cfg: Any) -> MetricsAdapter | None:
    """The Prometheus adapter when ``metrics.enabled``; ``None`` otherwise.

    Raises:
        MissingDependency: metrics are enabled but ``prometheus_client`` is not installed.
    """
    from loom_django.core.config import metrics_settings

    if not metrics_settings(cfg).enabled:
        return None
    require("prometheus_client", extra="prometheus")
    from loom_django.prometheus import PrometheusMetricsAdapter

    return PrometheusMetricsAdapter()


def discovered_spec(
    cfg: Any,
    discovery: DiscoveryResult,
    *,
    di_modules: Sequence[Callable[[Any], None]],
    use_cases: Sequence[type[Any]] = (),
    jobs: Sequence[type[Any]] = (),
    callbacks: Sequence[type[Any]] = (),
    metrics: MetricsAdapter | None = None,
    config: ConfigContext | None = None,
) -> RuntimeSpec:
    """The spec of every mapped model plus what discovery found (explicit classes first);
    job overrides of ``cfg`` are applied."""
    from loom_django.core.model.hooks import mapped_models

    all_jobs = _unique([*jobs, *discovery.jobs])
    apply_job_overrides(all_jobs, cfg)
    return RuntimeSpec(
        models=[*mapped_models(), *discovery.models],
        use_cases=_unique([*use_cases, *discovery.use_cases]),
        jobs=all_jobs,
        callbacks=_unique([*callbacks, *discovery.callbacks]),
        di_modules=di_modules,
        config=config if config is not None else ConfigContext(cfg),
        metrics=metrics,
        discovery=discovery,
    )


def build_with_doors(spec: RuntimeSpec, *, skip: Iterable[str] = ()) -> LoomRuntime:
    """Let every installed door (but those in ``skip``) fill ``spec``, then build it.

    Raises:
        BootstrapError: a door or the build failed (the cause is chained).
    """
    skipped = set(skip)
    for door in installed_doors():
        if door.name not in skipped:
            door.configure_runtime_spec(spec)
    return build_runtime(spec)


def _unique(items: Iterable[type[Any]]) -> list[type[Any]]:
    return list(dict.fromkeys(items))
