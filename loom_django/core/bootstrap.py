"""Assembles the runtime: container, repositories, compiler, executor, registry and invoker."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from loom_django.core.di import LoomContainer, Scope
from loom_django.core.discovery import DiscoveryResult
from loom_django.core.engine.compiler import UseCaseCompiler
from loom_django.core.engine.events import MetricsAdapter
from loom_django.core.engine.executor import Offloader, RuntimeExecutor
from loom_django.core.errors import BootstrapError, CompilationError, ResolutionError
from loom_django.core.job.callback import is_callback_class
from loom_django.core.job.service import InlineJobService, JobService
from loom_django.core.uow import UnitOfWorkFactory
from loom_django.core.use_case.crud import build_crud_use_cases
from loom_django.core.use_case.factory import UseCaseFactory
from loom_django.core.use_case.invoker import AppInvoker, ApplicationInvoker
from loom_django.core.use_case.registry import UseCaseRegistry

__all__ = ["LoomRuntime", "RuntimeSpec", "build_runtime"]

_log = logging.getLogger("loom_django.bootstrap")

RepositoryBuilder = Callable[[type[Any], LoomContainer], Any]
"""Builds the default repository of a model (Django: a RepositoryDjango)."""


@dataclass
class RuntimeSpec:
    """Everything ``build_runtime`` needs; doors fill it from their own settings."""

    models: Sequence[type[Any]] = ()
    use_cases: Sequence[type[Any]] = ()
    jobs: Sequence[type[Any]] = ()
    callbacks: Sequence[type[Any]] = ()
    di_modules: Sequence[Callable[[LoomContainer], None]] = ()
    default_repository: RepositoryBuilder | None = None
    uow_factory: UnitOfWorkFactory | None = None
    offload: Offloader | None = None
    metrics: MetricsAdapter | None = None
    debug_execution: bool = False
    job_service: Callable[[UseCaseFactory, RuntimeExecutor], JobService] | None = None
    config: Any = None
    extra_instances: dict[Any, Any] = field(default_factory=dict)
    discovery: DiscoveryResult = field(default_factory=DiscoveryResult)


@dataclass
class LoomRuntime:
    """The assembled engine of one process."""

    container: LoomContainer
    compiler: UseCaseCompiler
    factory: UseCaseFactory
    executor: RuntimeExecutor
    registry: UseCaseRegistry
    app: AppInvoker
    models: tuple[type[Any], ...]
    use_cases: tuple[type[Any], ...]
    jobs: tuple[type[Any], ...]
    callbacks: tuple[type[Any], ...]
    crud: dict[type[Any], dict[str, type[Any]]]
    discovery: DiscoveryResult = field(default_factory=DiscoveryResult)
    """What discovery found (interfaces, stream flows, ... that doors serve)."""

    def __post_init__(self) -> None:
        self._entries = self.app.sync_entries()

    @property
    def job_service(self) -> JobService:
        """The JobService bound in the container."""
        service: JobService = self.container.resolve(JobService)
        return service

    def invoke_sync(
        self,
        use_case: type[Any] | str,
        *,
        params: dict[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Any:
        """Run a use case (class or key) from synchronous code, in its own transaction.

        Raises:
            RuntimeError: called inside a running event loop.
        """
        # AppInvoker.invoke_sync, inlined: this is the entry of every synchronous door.
        # Keys are never entries, so a key takes the slow path and is resolved there.
        try:
            entry = self._entries[use_case]  # type: ignore[index]
        except KeyError:
            if isinstance(use_case, str):
                use_case = self.registry.resolve(use_case)
                keyed = self._entries.get(use_case)
                if keyed is not None:
                    return keyed(params, payload, False)
            return self.app.invoke_sync(use_case, params=params, payload=payload)
        return entry(params, payload, False)


def build_runtime(spec: RuntimeSpec) -> LoomRuntime:
    """Wire the container, bind repositories, register and compile every class.

    Raises:
        BootstrapError: a use case, job or callback cannot be compiled or built; the
            message starts with ``Bootstrap failed:`` and the cause is chained.
    """
    try:
        return _build(spec)
    except (CompilationError, ResolutionError, TypeError, ValueError, RuntimeError) as exc:
        raise BootstrapError(f"Bootstrap failed: {exc}") from exc


def _build(spec: RuntimeSpec) -> LoomRuntime:
    container = LoomContainer()
    for key, instance in spec.extra_instances.items():
        container.register_instance(key, instance)
    for module in spec.di_modules:
        module(container)
    if spec.config is not None:
        config_key: Any = type(spec.config)
        container.register_instance_if_absent(config_key, spec.config)

    compiler = UseCaseCompiler(metrics=spec.metrics)
    executor = RuntimeExecutor(
        compiler,
        uow_factory=spec.uow_factory,
        debug_execution=spec.debug_execution,
        metrics=spec.metrics,
        repo_resolver=container.resolve_repo,
        offload=spec.offload,
        repo_cache=container.built_repositories(),
    )
    factory = UseCaseFactory(container)
    models = _unique(spec.models)
    for model in models:
        _bind_repository(container, model, spec.default_repository)

    crud: dict[type[Any], dict[str, type[Any]]] = {}
    crud_classes: list[type[Any]] = []
    for model in models:
        crud[model] = build_crud_use_cases(model)
        crud_classes.extend(crud[model].values())
    use_cases = _unique([*spec.use_cases, *crud_classes])
    registry = UseCaseRegistry.build(use_cases)
    app = AppInvoker(factory, executor, registry)

    container.register_instance_if_absent(LoomContainer, container)
    container.register_instance_if_absent(UseCaseCompiler, compiler)
    container.register_instance_if_absent(RuntimeExecutor, executor)
    container.register_instance_if_absent(UseCaseFactory, factory)
    container.register_instance_if_absent(UseCaseRegistry, registry)
    container.register_instance_if_absent(ApplicationInvoker, app)
    container.register_instance_if_absent(AppInvoker, app)
    if not container.is_registered(JobService):
        make_service = spec.job_service or (lambda f, e: InlineJobService(f, e, spec.metrics))
        container.register(JobService, lambda: make_service(factory, executor), Scope.APPLICATION)

    jobs = _unique(spec.jobs)
    callbacks = _unique([c for c in spec.callbacks if is_callback_class(c)])
    for cls in (*use_cases, *jobs):
        compiler.compile(cls)
    for cls in (*use_cases, *jobs, *callbacks):
        factory.register(cls)
    container.validate()
    _log.debug(
        "[BOOT] %d models, %d use cases, %d jobs, %d callbacks",
        len(models),
        len(use_cases),
        len(jobs),
        len(callbacks),
    )
    return LoomRuntime(
        container,
        compiler,
        factory,
        executor,
        registry,
        app,
        models,
        use_cases,
        jobs,
        callbacks,
        crud,
        spec.discovery,
    )


def _bind_repository(
    container: LoomContainer, model: type[Any], default: RepositoryBuilder | None
) -> None:
    from loom_django.core.repository.registration import (
        RepositoryBuildContext,
        RepositoryToken,
        repository_keys,
    )

    token = RepositoryToken(model)
    if container.is_registered(token):
        container.register_repo(model, token)
        return
    registration = model.__dict__.get("__loom_repository__")
    if registration is not None:
        repo_cls = registration.repository_class
        builder = registration.builder
        if builder is not None:
            provider: Callable[[], Any] = lambda: builder(RepositoryBuildContext(model, container))  # noqa: E731
        elif _accepts_model(repo_cls):
            provider = lambda: repo_cls(model=model)  # noqa: E731
        else:
            provider = repo_cls
        container.register(token, provider, Scope.APPLICATION)
        for key in repository_keys(repo_cls, model, registration.contract):
            container.register_if_absent(key, lambda: container.resolve(token), Scope.REQUEST)
    elif default is not None:
        container.register(token, lambda: default(model, container), Scope.APPLICATION)
        for key in repository_keys(None, model, None):
            container.register_if_absent(key, lambda: container.resolve(token), Scope.REQUEST)
    else:
        return
    container.register_repo(model, token)


def _accepts_model(repo_cls: type[Any]) -> bool:
    return bool(getattr(repo_cls, "__loom_accepts_model__", False))


def _unique(items: Iterable[type[Any]]) -> tuple[type[Any], ...]:
    seen: dict[type[Any], None] = {}
    for item in items:
        seen.setdefault(item, None)
    return tuple(seen)
