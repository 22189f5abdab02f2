"""JobHandle and JobGroup: what a dispatch returns, and how to wait for results."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["JobGroup", "JobHandle"]


@dataclass(frozen=True)
class JobHandle:
    """Identifies one dispatched job; its id is known before the job is sent."""

    job_id: str
    queue: str
    dispatched_at: datetime
    _waiter: Callable[[float | None], Any] | None = field(default=None, compare=False, repr=False)
    _async_waiter: Callable[[float | None], Any] | None = field(
        default=None, compare=False, repr=False
    )

    def wait(self, timeout: float | None = None) -> Any:
        """Block until the job finished and return its result.

        Raises:
            JobTimeoutError: no result within ``timeout`` seconds.
            JobFailedError: the job failed.
        """
        if self._waiter is None:
            raise RuntimeError(f"Job '{self.job_id}' has no result backend to wait on")
        return self._waiter(timeout)

    async def wait_async(self, timeout: float | None = None) -> Any:
        """Awaitable ``wait`` that never blocks the event loop."""
        if self._async_waiter is not None:
            return await self._async_waiter(timeout)
        import asyncio

        return await asyncio.to_thread(self.wait, timeout)


@dataclass(frozen=True)
class JobGroup:
    """Handles of jobs dispatched together, in dispatch order."""

    handles: tuple[JobHandle, ...]

    def wait_all(self, timeout: float | None = None) -> list[Any]:
        """Results in dispatch order (``timeout`` applies to each handle)."""
        return [handle.wait(timeout) for handle in self.handles]

    def then(self, *args: Any, **kwargs: Any) -> Sequence[Any]:
        """Group chaining is not supported."""
        raise NotImplementedError("JobGroup.then() is not supported; use callbacks or a workflow")
