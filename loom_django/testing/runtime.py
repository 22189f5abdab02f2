"""A complete runtime on in-memory repositories, for testing use cases without a database."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from loom_django.core.bootstrap import LoomRuntime, RuntimeSpec, build_runtime
from loom_django.core.di import LoomContainer
from loom_django.core.engine.events import MetricsAdapter
from loom_django.testing.in_memory import InMemoryRepository
from loom_django.testing.uow import InMemoryUnitOfWorkFactory

__all__ = ["build_test_runtime"]


def build_test_runtime(
    *,
    models: Sequence[type[Any]] = (),
    use_cases: Sequence[type[Any]] = (),
    jobs: Sequence[type[Any]] = (),
    callbacks: Sequence[type[Any]] = (),
    di_modules: Sequence[Callable[[LoomContainer], None]] = (),
    metrics: MetricsAdapter | None = None,
    transactional: bool = True,
) -> LoomRuntime:
    """Build the real engine with an ``InMemoryRepository`` per model.

    With ``transactional`` (the default) executions run in an in-memory unit of work, so a
    failing use case leaves the repositories as they were and dispatches wait for commit.
    """
    uow_factory = InMemoryUnitOfWorkFactory() if transactional else None

    def default_repository(model: type[Any], container: LoomContainer) -> Any:
        repo = InMemoryRepository(model)
        if uow_factory is not None:
            uow_factory.add(repo)
        return repo

    spec = RuntimeSpec(
        models=models,
        use_cases=use_cases,
        jobs=jobs,
        callbacks=callbacks,
        di_modules=di_modules,
        default_repository=default_repository,
        uow_factory=uow_factory,
        metrics=metrics,
    )
    runtime = build_runtime(spec)
    for model in runtime.models:
        runtime.container.resolve_repo(model)
    return runtime
