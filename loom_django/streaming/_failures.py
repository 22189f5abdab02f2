"""How the engine names a step's failure: its kind (business, task), whether the flow's
retry policy retries it, and the exception that carries both to the error route."""

from __future__ import annotations

from typing import Any

from loom_django.core.errors import DomainError
from loom_django.streaming.errors import ErrorKind

__all__ = ["StepFailure", "classify", "retryable"]


class StepFailure(Exception):
    """A step gave up on a record: the error kind, the cause, the attempts made and the node."""

    def __init__(self, kind: ErrorKind, exc: BaseException, attempts: int, node: str) -> None:
        super().__init__(str(exc))
        self.kind = kind
        self.exc = exc
        self.attempts = attempts
        self.node = node


def classify(exc: BaseException) -> ErrorKind:
    """BUSINESS for ``DomainError`` and Django ``IntegrityError``; TASK otherwise."""
    if isinstance(exc, DomainError):
        return ErrorKind.BUSINESS
    from django.db import IntegrityError

    if isinstance(exc, IntegrityError):
        return ErrorKind.BUSINESS
    return ErrorKind.TASK


def retryable(policy: Any, kind: ErrorKind, exc: BaseException) -> bool:
    """Whether ``policy`` retries a failure of ``kind`` (business and wire errors never are)."""
    if kind in (ErrorKind.BUSINESS, ErrorKind.WIRE) or kind not in policy.retry_on:
        return False
    return policy.retry_if is None or bool(policy.retry_if(exc))
