"""Units of work: the transaction an execution owns, and work deferred until it commits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Protocol, runtime_checkable

__all__ = [
    "DeferredCallbacks",
    "UnitOfWork",
    "UnitOfWorkBase",
    "UnitOfWorkFactory",
    "activate_uow",
    "deactivate_uow",
    "get_active_uow",
    "run_after_commit",
    "set_ambient_on_commit",
]


@runtime_checkable
class UnitOfWork(Protocol):
    """One database transaction owned by a top-level execution."""

    def begin(self) -> None:
        """Open the transaction."""
        ...

    def commit(self) -> None:
        """Commit; work registered with ``on_commit`` runs afterwards."""
        ...

    def rollback(self) -> None:
        """Roll back; work registered with ``on_commit`` is discarded."""
        ...

    def close(self) -> None:
        """Release the connection or session (always called last)."""
        ...

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested scope: an exception leaving it undoes only the writes made inside."""
        ...

    def on_commit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` after the outermost commit; drop it if its scope rolls back."""
        ...


class UnitOfWorkFactory(Protocol):
    """Creates the unit of work of each top-level, non-read-only execution."""

    def create(self) -> UnitOfWork:
        """A new, not yet begun unit of work."""
        ...


class UnitOfWorkBase:
    """Mixin giving a unit of work the sync and async context-manager protocols."""

    def begin(self) -> None:
        """Open the transaction."""
        raise NotImplementedError

    def commit(self) -> None:
        """Commit the transaction."""
        raise NotImplementedError

    def rollback(self) -> None:
        """Roll back the transaction."""
        raise NotImplementedError

    def close(self) -> None:
        """Release resources; the default has none."""

    def __enter__(self) -> UnitOfWorkBase:
        self.begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self.commit()
            else:
                self.rollback()
        finally:
            self.close()

    async def __aenter__(self) -> UnitOfWorkBase:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class DeferredCallbacks:
    """After-commit callbacks with savepoint awareness, for units of work without a driver."""

    def __init__(self) -> None:
        self._levels: list[list[Callable[[], None]]] = [[]]

    def add(self, fn: Callable[[], None]) -> None:
        """Defer ``fn`` in the innermost open scope."""
        self._levels[-1].append(fn)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Open a nested scope whose callbacks are dropped if it exits with an exception."""
        self._levels.append([])
        try:
            yield
        except BaseException:
            self._levels.pop()
            raise
        inner = self._levels.pop()
        self._levels[-1].extend(inner)

    def run(self) -> None:
        """Run every deferred callback in registration order, then forget them."""
        pending, self._levels = self._levels[0], [[]]
        for fn in pending:
            fn()

    def discard(self) -> None:
        """Forget every deferred callback."""
        self._levels = [[]]


_ACTIVE_UOW: ContextVar[UnitOfWork | None] = ContextVar("loom_active_uow", default=None)
_ambient_on_commit: Callable[[Callable[[], None]], None] | None = None


get_active_uow: Callable[[], UnitOfWork | None] = _ACTIVE_UOW.get
"""The unit of work owned by the execution running in this context, if any (a C call:
the executor asks on every writing execution)."""


def activate_uow(uow: UnitOfWork | None) -> Token[UnitOfWork | None]:
    """Make ``uow`` the active unit of work; keep the token for ``deactivate_uow``."""
    return _ACTIVE_UOW.set(uow)


def deactivate_uow(token: Token[UnitOfWork | None]) -> None:
    """Restore the unit of work that was active before ``activate_uow``."""
    _ACTIVE_UOW.reset(token)


def set_ambient_on_commit(hook: Callable[[Callable[[], None]], None] | None) -> None:
    """Install the framework's own after-commit hook (Django: ``transaction.on_commit``).

    It is used when no execution owns a unit of work, so work deferred inside a
    transaction the user opened still waits for that transaction's commit.
    """
    global _ambient_on_commit
    _ambient_on_commit = hook


def run_after_commit(fn: Callable[[], None]) -> None:
    """Run ``fn`` after the current transaction commits, or now when none is open."""
    uow = _ACTIVE_UOW.get()
    if uow is not None:
        uow.on_commit(fn)
    elif _ambient_on_commit is not None:
        _ambient_on_commit(fn)
    else:
        fn()
