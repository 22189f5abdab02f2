"""loom_django: typed, compiled use cases for Django, served over HTTP, jobs, ETL and streams.

The names below are re-exported lazily so ``import loom_django`` stays cheap and never
imports Django models or optional integrations.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "UseCase": "loom_django.core.use_case.use_case",
    "Input": "loom_django.core.use_case.markers",
    "LoadById": "loom_django.core.use_case.markers",
    "Load": "loom_django.core.use_case.markers",
    "Exists": "loom_django.core.use_case.markers",
    "OnMissing": "loom_django.core.use_case.markers",
    "Compute": "loom_django.core.use_case.compute",
    "Rule": "loom_django.core.use_case.rule",
    "F": "loom_django.core.use_case.field_ref",
    "ApplicationInvoker": "loom_django.core.use_case.invoker",
    "Command": "loom_django.core.command",
    "Patch": "loom_django.core.command",
    "BaseModel": "loom_django.core.model",
    "TimestampedModel": "loom_django.core.model",
    "ColumnField": "loom_django.core.model",
    "OnDelete": "loom_django.core.model",
    "Job": "loom_django.core.job.job",
    "JobService": "loom_django.core.job.service",
    "RestInterface": "loom_django.rest.model",
    "RestRoute": "loom_django.rest.model",
    "PaginationMode": "loom_django.core.repository.abc.query",
    "get_runtime": "loom_django.runtime",
    "invoke_sync": "loom_django.runtime",
}

__all__ = [
    "ApplicationInvoker",
    "BaseModel",
    "ColumnField",
    "Command",
    "Compute",
    "Exists",
    "F",
    "Input",
    "Job",
    "JobService",
    "Load",
    "LoadById",
    "OnDelete",
    "OnMissing",
    "PaginationMode",
    "Patch",
    "RestInterface",
    "RestRoute",
    "Rule",
    "TimestampedModel",
    "UseCase",
    "__version__",
    "get_runtime",
    "invoke_sync",
]

if TYPE_CHECKING:
    from loom_django.core.command import Command, Patch
    from loom_django.core.job.job import Job
    from loom_django.core.job.service import JobService
    from loom_django.core.model import BaseModel, ColumnField, OnDelete, TimestampedModel
    from loom_django.core.repository.abc.query import PaginationMode
    from loom_django.core.use_case.compute import Compute
    from loom_django.core.use_case.field_ref import F
    from loom_django.core.use_case.invoker import ApplicationInvoker
    from loom_django.core.use_case.markers import Exists, Input, Load, LoadById, OnMissing
    from loom_django.core.use_case.rule import Rule
    from loom_django.core.use_case.use_case import UseCase
    from loom_django.rest.model import RestInterface, RestRoute
    from loom_django.runtime import get_runtime, invoke_sync


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'loom_django' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
