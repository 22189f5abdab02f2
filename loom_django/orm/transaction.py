"""The Django unit of work: one ``transaction.atomic`` block per top-level execution."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, ExitStack
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, IntegrityError, connections, transaction

from loom_django.core.uow import UnitOfWorkBase
from loom_django.orm.errors import translate_integrity_error

__all__ = ["DjangoUnitOfWork", "DjangoUnitOfWorkFactory", "check_deferred_constraints"]


class _Rollback(Exception):
    """Passed to ``Atomic.__exit__`` to make it roll back."""


def check_deferred_constraints(
    using: str = DEFAULT_DB_ALIAS, tables: Iterable[str] | None = None
) -> None:
    """Check deferred foreign keys now instead of at the outer COMMIT.

    Needed when the unit of work is a savepoint inside a transaction it does not own
    (``TestCase``, ``ATOMIC_REQUESTS``): a violation must surface while the execution
    can still report it, not after the response was built. PostgreSQL checks every
    deferred constraint; SQLite checks ``tables`` (all tables when ``None``).

    Raises:
        django.db.IntegrityError: a deferred constraint is violated.
    """
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED")
    elif connection.vendor == "sqlite":
        pragmas = (
            ["PRAGMA foreign_key_check"]
            if tables is None
            else [f"PRAGMA foreign_key_check({connection.ops.quote_name(t)})" for t in tables]
        )
        with connection.cursor() as cursor:
            for pragma in pragmas:
                violation = cursor.execute(pragma).fetchone()
                if violation:
                    raise IntegrityError(
                        f"FOREIGN KEY constraint failed: row {violation[1]} of "
                        f"{violation[0]} references a missing row of {violation[2]}"
                    )


class DjangoUnitOfWork(UnitOfWorkBase):
    """A transaction on database ``using``: ``begin`` enters ``transaction.atomic``.

    Inside an enclosing atomic block (a Django ``TestCase``, ``ATOMIC_REQUESTS``) the
    block is a savepoint and deferred constraints are checked before it is released, so
    their violations still become ``Conflict``. A failing COMMIT is translated the same
    way; either way the block is closed and the connection stays usable.

    A repository writing on another alias joins the unit of work (:meth:`join`): that
    alias gets its own atomic block, committed just before ``using``'s and rolled back
    with it. It is not a two-phase commit: a failure between the two COMMITs leaves the
    joined alias committed. After-commit work (jobs) runs after the last COMMIT.
    """

    __slots__ = ("_atomic", "_joined", "_nested", "touched", "using")

    def __init__(self, using: str = DEFAULT_DB_ALIAS) -> None:
        self.using = using
        self.touched: set[str] | None = set()
        self._atomic: Any = None
        self._nested = False
        self._joined: list[tuple[str, Any]] = []

    def join(self, using: str) -> None:
        """Make writes on alias ``using`` part of this unit of work (idempotent)."""
        if using == self.using or self._atomic is None:
            return
        if any(alias == using for alias, _ in self._joined):
            return
        atomic = transaction.atomic(using=using)
        atomic.__enter__()
        self._joined.append((using, atomic))

    def _close_joined(self, *, commit: bool) -> None:
        """Leave the joined aliases' blocks, newest first; on a failed COMMIT roll the
        remaining ones back and re-raise."""
        joined, self._joined = self._joined, []
        pending = list(reversed(joined))
        while pending:
            _, atomic = pending.pop(0)
            if not commit:
                atomic.__exit__(_Rollback, _Rollback(), None)
                continue
            try:
                atomic.__exit__(None, None, None)
            except BaseException:
                for _, other in pending:
                    other.__exit__(_Rollback, _Rollback(), None)
                raise

    def touch(self, table: str | None) -> None:
        """Record that ``table`` was written (``None``: rows of any table may be affected).

        Only SQLite uses it, to check just those tables' foreign keys when nested.
        """
        if table is None:
            self.touched = None
        elif self.touched is not None:
            self.touched.add(table)

    def begin(self) -> None:
        """Enter ``transaction.atomic(using)``."""
        self._nested = connections[self.using].in_atomic_block
        self._atomic = transaction.atomic(using=self.using)
        self._atomic.__enter__()

    def commit(self) -> None:
        """Leave the atomic block successfully (COMMIT, or RELEASE SAVEPOINT when nested).

        Raises:
            Conflict: a constraint checked at commit time is violated.
        """
        if self._joined:
            try:
                self._close_joined(commit=True)
            except IntegrityError as exc:
                self.rollback()
                raise translate_integrity_error(exc) from exc
            except BaseException:
                self.rollback()
                raise
        atomic, self._atomic = self._atomic, None
        if atomic is None:
            return
        if self._nested and (self.touched != set() or connections[self.using].vendor != "sqlite"):
            try:
                check_deferred_constraints(self.using, self.touched)
            except IntegrityError as exc:
                atomic.__exit__(IntegrityError, exc, exc.__traceback__)
                _restore_deferred(self.using)
                raise translate_integrity_error(exc) from exc
        try:
            atomic.__exit__(None, None, None)
        except IntegrityError as exc:
            raise translate_integrity_error(exc) from exc

    def rollback(self) -> None:
        """Leave the atomic block (and any joined alias's) by rolling it back."""
        if self._joined:
            self._close_joined(commit=False)
        atomic, self._atomic = self._atomic, None
        if atomic is not None:
            error = _Rollback()
            atomic.__exit__(_Rollback, error, None)

    def close(self) -> None:
        """Roll back a block that was neither committed nor rolled back."""
        if self._atomic is not None:
            self.rollback()

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested ``transaction.atomic`` (on every alias joined so far): an exception
        leaving it undoes its writes only."""
        if not self._joined:
            return transaction.atomic(using=self.using)
        stack = ExitStack()
        stack.enter_context(transaction.atomic(using=self.using))
        for alias, _ in self._joined:
            stack.enter_context(transaction.atomic(using=alias))
        return stack  # type: ignore[return-value]

    def on_commit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` after the outermost commit (dropped when its savepoint rolls back)."""
        transaction.on_commit(fn, using=self.using)


def _restore_deferred(using: str) -> None:
    connection = connections[using]
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        except DatabaseError:
            pass


class DjangoUnitOfWorkFactory:
    """Creates a :class:`DjangoUnitOfWork` on database ``using`` for each execution."""

    __slots__ = ("using",)

    def __init__(self, using: str = DEFAULT_DB_ALIAS) -> None:
        self.using = using

    def create(self) -> DjangoUnitOfWork:
        """A new, not yet begun unit of work."""
        return DjangoUnitOfWork(self.using)

    def caller_in_transaction(self) -> bool:
        """Whether the caller holds an atomic block (then even one statement needs a
        savepoint, so its failure does not abort the caller's transaction)."""
        return bool(connections[self.using].in_atomic_block)
