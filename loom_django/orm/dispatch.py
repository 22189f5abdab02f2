"""Run synchronous ORM work from ``async def`` repository methods without needless thread hops.

Inside an execution the engine drives the use case coroutine on the thread that holds the
transaction, with no event loop: the ORM call runs right there. Called from real async
code (a running loop in this thread), the same work is sent to Django's thread-sensitive
executor once per call, as the async ORM would.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async

__all__ = ["db_method", "run_db"]

P = ParamSpec("P")
T = TypeVar("T")


async def run_db(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Await synchronous database work ``fn(*args, **kwargs)``.

    Runs inline when no event loop is running in this thread (engine executions,
    synchronous callers driving the coroutine), otherwise through
    ``sync_to_async(thread_sensitive=True)``.
    """
    if asyncio._get_running_loop() is None:
        return fn(*args, **kwargs)
    return await sync_to_async(fn, thread_sensitive=True)(*args, **kwargs)


def db_method(fn: Callable[P, T]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Decorate a synchronous ORM method so it is awaited like the repository's own methods.

    Example::

        class ProductRepository(RepositoryDjango[Product, int]):
            @db_method
            def get_by_slug(self, slug: str) -> Product | None:
                row = self.queryset().filter(slug=slug).values_list(*self.attnames).first()
                return None if row is None else self.to_output(row)
    """

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        if asyncio._get_running_loop() is None:
            return fn(*args, **kwargs)
        runner: Callable[P, Awaitable[T]] = sync_to_async(fn, thread_sensitive=True)
        return await runner(*args, **kwargs)

    return wrapper
