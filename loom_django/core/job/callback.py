"""Job callbacks: classes with ``on_success`` and ``on_failure``, built through DI."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["RESERVED_CALLBACK_KEYS", "JobCallback", "NullJobCallback", "is_callback_class"]

RESERVED_CALLBACK_KEYS = frozenset({"job_id", "result", "exc_type", "exc_msg"})


@runtime_checkable
class JobCallback(Protocol):
    """Runs after a job's final attempt; each method may be sync or async."""

    def on_success(self, job_id: str, result: Any, **context: Any) -> Any:
        """Called once after the job succeeded; ``context`` is the dispatch payload."""
        ...

    def on_failure(self, job_id: str, exc_type: str, exc_msg: str, **context: Any) -> Any:
        """Called once after the job's final failed attempt."""
        ...


class NullJobCallback:
    """A callback that does nothing."""

    def on_success(self, job_id: str, result: Any, **context: Any) -> None:
        """Do nothing."""

    def on_failure(self, job_id: str, exc_type: str, exc_msg: str, **context: Any) -> None:
        """Do nothing."""


def is_callback_class(cls: Any) -> bool:
    """Whether ``cls`` defines both callback methods (what discovery recognises)."""
    return (
        isinstance(cls, type)
        and callable(getattr(cls, "on_success", None))
        and callable(getattr(cls, "on_failure", None))
        and cls is not NullJobCallback
    )
