"""Helpers to test use cases: in-memory repositories, a test runtime and UseCaseTest."""

from __future__ import annotations

from loom_django.core.job.service import CapturedDispatch, captured_dispatches
from loom_django.testing.in_memory import InMemoryRepository
from loom_django.testing.runtime import build_test_runtime
from loom_django.testing.uow import InMemoryUnitOfWork, InMemoryUnitOfWorkFactory
from loom_django.testing.use_case_test import UseCaseTest, serialize_plan

__all__ = [
    "CapturedDispatch",
    "InMemoryRepository",
    "InMemoryUnitOfWork",
    "InMemoryUnitOfWorkFactory",
    "UseCaseTest",
    "build_test_runtime",
    "captured_dispatches",
    "serialize_plan",
]
