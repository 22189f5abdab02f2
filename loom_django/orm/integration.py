"""Plugs the ORM door into the runtime: default repositories, units of work, on-commit hook."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from loom_django.core.bootstrap import RuntimeSpec
from loom_django.core.uow import set_ambient_on_commit
from loom_django.orm.databases import ambient_alias, configured_alias, db_for_write
from loom_django.orm.lookups import register_lookups
from loom_django.orm.mapping import django_model_for, finalize_mapping, is_mapped
from loom_django.orm.repository import RepositoryDjango
from loom_django.orm.transaction import DjangoUnitOfWorkFactory

__all__ = [
    "DjangoDefaultRepositoryBuilder",
    "configure_runtime_spec",
    "finalize_recording_failures",
]

_log = logging.getLogger("loom_django.orm")


class DjangoDefaultRepositoryBuilder:
    """Builds a :class:`RepositoryDjango` for models without a registered repository.

    ``using=None`` (the default) asks Django's database routers which alias writes the
    model, falling back to ``settings.LOOM["DATABASE"]``; an explicit alias wins.
    """

    def __init__(self, using: str | None = None) -> None:
        self.using = using

    def build(self, model: type[Any]) -> RepositoryDjango[Any, Any]:
        """The default repository of ``model``."""
        using = self.using
        if using is None:
            django_model = django_model_for(model) if is_mapped(model) else None
            using = db_for_write(django_model) if django_model is not None else configured_alias()
        return RepositoryDjango(model=model, using=using)

    def __call__(self, model: type[Any], container: Any) -> RepositoryDjango[Any, Any]:
        return self.build(model)


def _servable(model: type[Any]) -> bool:
    """Models without a Django model (defined after startup) cannot be served."""
    if "__tablename__" not in getattr(model, "__dict__", {}):
        return True
    if is_mapped(model):
        return True
    _log.debug("skipping %s: it has no Django model", model.__qualname__)
    return False


def configure_runtime_spec(spec: RuntimeSpec) -> None:
    """Give the runtime Django repositories, Django transactions and ``on_commit``.

    Called once from ``AppConfig.ready()`` before the runtime is built; maps any loom
    model still waiting for its references first.
    """
    finalize_recording_failures()
    register_lookups()
    spec.models = [model for model in spec.models if _servable(model)]
    spec.default_repository = DjangoDefaultRepositoryBuilder()
    spec.uow_factory = DjangoUnitOfWorkFactory(configured_alias())
    set_ambient_on_commit(_on_commit)


def finalize_recording_failures() -> None:
    """Map every waiting model; those that cannot be mapped are left to check ``E200``."""
    while True:
        try:
            finalize_mapping()
        except ImproperlyConfigured as exc:
            _log.error("%s", exc)
            continue
        return


def _on_commit(fn: Callable[[], None]) -> None:
    """``transaction.on_commit`` on the database whose transaction is open (the configured
    alias first), without connecting when none is (then ``fn`` runs now, as Django
    would run it)."""
    alias = ambient_alias()
    if alias is None:
        fn()
    else:
        connections[alias].on_commit(fn)
