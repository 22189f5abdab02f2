"""An in-memory unit of work: rolls registered in-memory repositories back on failure."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from loom_django.core.uow import DeferredCallbacks, UnitOfWorkBase

__all__ = ["InMemoryUnitOfWork", "InMemoryUnitOfWorkFactory"]


class InMemoryUnitOfWork(UnitOfWorkBase):
    """Snapshots every repository at ``begin`` (and per savepoint) and restores on rollback."""

    def __init__(self, repositories: Iterable[Any], log: list[str] | None = None) -> None:
        self._repositories = list(repositories)
        self._snapshots: list[Any] = []
        self._callbacks = DeferredCallbacks()
        self.log = log if log is not None else []

    def begin(self) -> None:
        """Take the snapshot a rollback returns to."""
        self._snapshots = [repo.snapshot() for repo in self._repositories]
        self.log.append("begin")

    def commit(self) -> None:
        """Keep the changes and run the after-commit callbacks."""
        self.log.append("commit")
        self._callbacks.run()

    def rollback(self) -> None:
        """Restore every repository and drop the after-commit callbacks."""
        for repo, state in zip(self._repositories, self._snapshots, strict=True):
            repo.restore(state)
        self._callbacks.discard()
        self.log.append("rollback")

    def close(self) -> None:
        """Forget the snapshots."""
        self._snapshots = []
        self.log.append("close")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Undo only the writes made inside the block when it raises."""
        states = [repo.snapshot() for repo in self._repositories]
        self.log.append("savepoint")
        with self._callbacks.savepoint():
            try:
                yield
            except BaseException:
                for repo, state in zip(self._repositories, states, strict=True):
                    repo.restore(state)
                self.log.append("savepoint rollback")
                raise

    def on_commit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` after the commit; dropped on rollback."""
        self._callbacks.add(fn)


class InMemoryUnitOfWorkFactory:
    """Creates in-memory units of work over a fixed set of repositories."""

    def __init__(self, repositories: Iterable[Any] = ()) -> None:
        self.repositories: list[Any] = list(repositories)
        self.log: list[str] = []

    def add(self, repository: Any) -> None:
        """Include ``repository`` in future transactions."""
        self.repositories.append(repository)

    def create(self) -> InMemoryUnitOfWork:
        """A new unit of work over the current repositories."""
        return InMemoryUnitOfWork(self.repositories, self.log)
