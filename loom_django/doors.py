"""The doors the app knows, in start order, and the one contract each of them implements.

A door adapts the engine to one runtime (ORM, Celery, REST, ETL, streaming). Each door has a
``door`` module exposing the same small surface, and this module is the only place that
lists them; ``runtime`` and ``apps`` call every installed door through it and name none.

The contract of ``loom_django.<door>.door``:

``REQUIRES``
    Top-level packages the door needs (its pip extra); a door whose packages are absent is
    skipped silently, so ``import loom_django`` never needs an optional extra.
``EXTRA``
    The pip extra that installs ``REQUIRES``.
``configure_runtime_spec(spec)``
    Called while the runtime is built, before compilation: set repositories, units of
    work, job services, ... on the :class:`~loom_django.core.bootstrap.RuntimeSpec`.
``ready(provider)``
    Called once in ``AppConfig.ready()`` after the runtime was built (or failed to build).
    ``provider()`` returns the process runtime or raises its ``BootstrapError``; a door
    needing the runtime calls it instead of importing ``loom_django.runtime`` (type it
    with ``loom_django.contributions.RuntimeProvider``: a door never imports this hub). A door
    records its own startup failures for its checks instead of raising.
``CHECKS``
    Django system-check functions of the door (its ``checks.py``), registered
    unconditionally under the ``loom_django`` tag.
``DEPLOY_CHECKS``
    Checks that run only under ``manage.py check --deploy``.

Optional hooks:

``install()``
    Called when ``loom_django.apps`` is imported, before Django imports any ``models``
    module (the ORM door starts mapping loom models to Django models here).
``extend_api(api, runtime)``
    Add routes to every API the REST door builds (the jobs door adds the job status
    route); registered in :mod:`loom_django.contributions`, so neither door names the other.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import import_module
from importlib.util import find_spec
from types import ModuleType
from typing import TYPE_CHECKING, Any

from loom_django.contributions import RuntimeProvider

if TYPE_CHECKING:
    from loom_django.core.bootstrap import RuntimeSpec

__all__ = ["DOORS", "Door", "RuntimeProvider", "installed_doors"]


DOORS: tuple[str, ...] = (
    "loom_django.orm.door",
    "loom_django.celery.door",
    "loom_django.rest.door",
    "loom_django.etl.door",
    "loom_django.streaming.door",
)
"""Every door's ``door`` module, in the order they configure the runtime."""


@dataclass(frozen=True)
class Door:
    """One installed door: its contract module, read once."""

    name: str
    module: ModuleType

    def configure_runtime_spec(self, spec: RuntimeSpec) -> None:
        """Let the door fill ``spec`` before the runtime is built."""
        hook = getattr(self.module, "configure_runtime_spec", None)
        if hook is not None:
            hook(spec)

    def ready(self, provider: RuntimeProvider) -> None:
        """Tell the door the runtime exists (or failed); it may compile its own plans."""
        hook = getattr(self.module, "ready", None)
        if hook is not None:
            hook(provider)

    def install(self) -> None:
        """Let the door hook into Django before models are imported."""
        hook = getattr(self.module, "install", None)
        if hook is not None:
            hook()

    @property
    def extend_api(self) -> Callable[[Any, Any], object] | None:
        """The door's ``extend_api(api, runtime)`` hook, if it has one."""
        hook: Callable[[Any, Any], object] | None = getattr(self.module, "extend_api", None)
        return hook

    @property
    def checks(self) -> Sequence[Callable[..., Any]]:
        """The door's system checks."""
        return tuple(getattr(self.module, "CHECKS", ()))

    @property
    def deploy_checks(self) -> Sequence[Callable[..., Any]]:
        """The door's ``check --deploy`` checks."""
        return tuple(getattr(self.module, "DEPLOY_CHECKS", ()))


def _present(module: str) -> bool:
    if module in sys.modules:
        return sys.modules[module] is not None
    return find_spec(module) is not None


def _packages_present(packages: Sequence[str]) -> bool:
    return all(_present(package) for package in packages)


def installed_doors() -> tuple[Door, ...]:
    """The doors whose code exists and whose optional packages are installed, in order."""
    doors: list[Door] = []
    for path in DOORS:
        package = path.rpartition(".")[0]
        if not _present(package) or not _present(path):
            continue
        module = import_module(path)
        if not _packages_present(getattr(module, "REQUIRES", ())):
            continue
        doors.append(Door(name=package.rpartition(".")[2], module=module))
    return tuple(doors)
