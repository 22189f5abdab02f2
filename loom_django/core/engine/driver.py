"""Runs an engine coroutine to completion on the calling thread without an event loop.

The engine's repositories complete without suspending, so a whole execution, including an
``async def execute``, finishes in one ``send``: no loop, no thread hop per query.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn, TypeVar

__all__ = [
    "EventLoopRequired",
    "drive",
    "drive_suspended",
    "ensure_no_running_loop",
    "mark_coroutine_function",
    "raise_loop_required",
]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class EventLoopRequired(RuntimeError):
    """Code inside a synchronously driven execution awaited real asynchronous I/O."""


_GUIDANCE = (
    "{name} awaited an object that needs a running event loop, but executions are run as "
    "one synchronous unit on the database connection that holds their transaction. Await "
    "only loom repositories and invokers inside execute(), use the synchronous Django ORM "
    "for custom queries (it is safe there), and wrap other asynchronous I/O with "
    "asgiref.sync.async_to_sync."
)


def drive(coro: Coroutine[Any, Any, T], name: str = "execution") -> T:
    """Run ``coro`` to completion on this thread; raise ``EventLoopRequired`` if it suspends."""
    try:
        yielded = coro.send(None)
    except StopIteration as stop:
        result: T = stop.value
        return result
    except RuntimeError as exc:
        raise_loop_required(exc, name)
    return drive_suspended(coro, yielded, name)


def drive_suspended(coro: Coroutine[Any, Any, T], yielded: Any, name: str) -> T:
    """Carry on with ``coro`` after a ``send`` returned ``yielded`` instead of finishing.

    A bare ``yield`` (``None``) is resumed; anything else waits for an event loop, so
    ``EventLoopRequired`` is thrown into the coroutine.
    """
    try:
        while True:
            if yielded is not None:
                coro.throw(EventLoopRequired(_GUIDANCE.format(name=name)))
            yielded = coro.send(None)
    except StopIteration as stop:
        result: T = stop.value
        return result
    except RuntimeError as exc:
        raise_loop_required(exc, name)


def raise_loop_required(exc: RuntimeError, name: str) -> NoReturn:
    """Re-raise ``exc``, as ``EventLoopRequired`` when it says no event loop is running."""
    if "no running event loop" in str(exc) and not isinstance(exc, EventLoopRequired):
        raise EventLoopRequired(_GUIDANCE.format(name=name)) from exc
    raise exc


def ensure_no_running_loop(what: object) -> None:
    """Refuse synchronous entry points inside a running event loop, with a clear message."""
    if asyncio._get_running_loop() is not None:
        label = what if isinstance(what, str) else f"{type(what).__qualname__}: execute_sync()"
        raise RuntimeError(
            f"{label} was called from a running event loop; use the awaitable form "
            "(await executor.execute(...) / await app.invoke(...)) in async code."
        )


def mark_coroutine_function(fn: F) -> F:
    """Mark ``fn``, a plain function returning a coroutine, as a coroutine function.

    ``asyncio.iscoroutinefunction``, ``inspect.iscoroutinefunction`` (3.12+) and asgiref's
    ``async_to_sync`` then treat it as the ``async def`` it stands for.
    """
    marker = getattr(inspect, "markcoroutinefunction", None)
    if marker is not None:
        fn = marker(fn)
    fn._is_coroutine = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]
    return fn
