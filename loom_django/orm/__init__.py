"""The ORM door: loom models as Django models, Django repositories, queries and transactions."""

from __future__ import annotations

from loom_django.core.repository.registration import repository_for
from loom_django.orm.dispatch import db_method, run_db
from loom_django.orm.integration import DjangoDefaultRepositoryBuilder, configure_runtime_spec
from loom_django.orm.lookups import register_lookups
from loom_django.orm.mapping import django_model_for, finalize_mapping, loom_model_for
from loom_django.orm.repository import RepositoryDjango
from loom_django.orm.transaction import DjangoUnitOfWork, DjangoUnitOfWorkFactory

__all__ = [
    "DjangoDefaultRepositoryBuilder",
    "DjangoUnitOfWork",
    "DjangoUnitOfWorkFactory",
    "RepositoryDjango",
    "configure_runtime_spec",
    "db_method",
    "django_model_for",
    "finalize_mapping",
    "loom_model_for",
    "register_lookups",
    "repository_for",
    "run_db",
]

register_lookups()
