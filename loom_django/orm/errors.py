"""Translate database errors into loom errors with stable, field-naming messages.

The driver exception behind Django's wrapper (``__cause__``) decides: PostgreSQL by
SQLSTATE and diagnostics, SQLite by message text, MySQL/MariaDB by errno.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from django.db import models

from loom_django.core.errors import (
    Conflict,
    LoomError,
    SystemError,
    UniqueConflict,
    ValidationError,
)

__all__ = ["translate_data_error", "translate_delete_error", "translate_integrity_error"]

_UNIQUE, _FOREIGN, _NOT_NULL, _CHECK = "unique", "foreign", "not_null", "check"
_PG_STATES = {"23505": _UNIQUE, "23503": _FOREIGN, "23502": _NOT_NULL, "23514": _CHECK}
_MYSQL_ERRNOS = {1062: _UNIQUE, 1451: _FOREIGN, 1452: _FOREIGN, 1048: _NOT_NULL, 3819: _CHECK}
_SQLITE_PATTERNS = (
    (re.compile(r"UNIQUE constraint failed: (.+)"), _UNIQUE),
    (re.compile(r"FOREIGN KEY constraint failed"), _FOREIGN),
    (re.compile(r"NOT NULL constraint failed: (.+)"), _NOT_NULL),
    (re.compile(r"CHECK constraint failed: (.+)"), _CHECK),
)
_log = logging.getLogger("loom_django.orm")
_PG_KEY = re.compile(r"Key \((.+?)\)=")
_MYSQL_QUOTED = re.compile(r"'([^']+)'")


def _columns(text: str) -> str:
    """``"products.sku, products.name"`` → ``"sku, name"``."""
    return ", ".join(part.strip().rpartition(".")[2] for part in text.split(","))


def _unique_table(exc: BaseException) -> str | None:
    """The table a unique violation happened on, when the driver says."""
    cause = exc.__cause__ or exc
    table = getattr(getattr(cause, "diag", None), "table_name", None)
    if table:
        return str(table)
    match = _SQLITE_PATTERNS[0][0].search(str(cause))
    if match:
        first = match.group(1).split(",")[0].strip()
        if "." in first:
            return first.rpartition(".")[0]
    return None


def _classify(exc: BaseException) -> tuple[str | None, str, str | None]:
    """``(kind, subject, detail)`` of an integrity error; ``kind`` is None when unknown."""
    cause = exc.__cause__ or exc
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate:
        diag = getattr(cause, "diag", None)
        detail = getattr(diag, "message_detail", None)
        constraint = getattr(diag, "constraint_name", None)
        column = getattr(diag, "column_name", None)
        kind = _PG_STATES.get(str(sqlstate))
        if kind == _UNIQUE:
            match = _PG_KEY.search(detail or "")
            return kind, match.group(1) if match else (constraint or ""), None
        if kind == _NOT_NULL:
            return kind, column or "", None
        if kind == _CHECK:
            return kind, constraint or "", None
        if kind == _FOREIGN:
            return kind, constraint or "", detail
        return None, f"SQLSTATE {sqlstate}", None
    args = getattr(cause, "args", ())
    if args and isinstance(args[0], int):
        kind = _MYSQL_ERRNOS.get(args[0])
        message = str(args[1]) if len(args) > 1 else ""
        quoted = _MYSQL_QUOTED.findall(message)
        subject = quoted[-1] if quoted else ""
        return kind, subject, None
    message = str(cause)
    for pattern, kind in _SQLITE_PATTERNS:
        match = pattern.search(message)
        if match:
            subject = match.group(1) if match.groups() else ""
            return kind, _columns(subject) if kind in (_UNIQUE, _NOT_NULL) else subject, None
    return None, "", None


def translate_integrity_error(exc: BaseException) -> LoomError:
    """The loom error for a database ``IntegrityError`` (core spec §9).

    Clients get a stable message naming the column; the database's own text (which may
    quote values, constraint and table names) goes to the ``loom_django.orm`` log.

    * unique → ``Conflict`` (409) naming the columns;
    * foreign key → ``Conflict`` (409) naming the column when the database says it;
    * not null → ``ValidationError`` (422) on the column: the input lacked a value;
    * check → ``Conflict`` (409) naming the constraint;
    * anything else → ``SystemError`` (500).
    """
    kind, subject, detail = _classify(exc)
    if kind is not None:
        _log.info("integrity error (%s): %s", kind, _database_text(exc))
    if kind == _UNIQUE:
        suffix = f" ({subject})" if subject else ""
        columns = tuple(part.strip() for part in subject.split(",") if part.strip())
        return UniqueConflict(
            f"A record with these values already exists{suffix}.",
            table=_unique_table(exc),
            columns=columns,
        )
    if kind == _FOREIGN:
        match = _PG_KEY.search(detail or "")
        column = match.group(1) if match else ""
        suffix = f" ({column})" if column else ""
        return Conflict(f"A referenced entity does not exist{suffix}.")
    if kind == _NOT_NULL:
        return ValidationError([(subject or "$", "may not be null")])
    if kind == _CHECK:
        return Conflict(f"Value violates check constraint '{subject}'.")
    _log.warning("unclassified integrity error: %s", _database_text(exc))
    return SystemError("Database integrity violation" + (f" ({subject})" if subject else ""))


_DATA_MESSAGES = {
    "22001": "Value is too long for this column.",
    "22003": "Value is out of range for this column.",
    "22021": "Value contains characters the database cannot store.",
    "22P05": "Value contains characters the database cannot store.",
    "22007": "Value is not a valid date or time.",
    "22008": "Value is not a valid date or time.",
    "22P02": "Value does not have the column's type.",
}
_DATA_MESSAGE = "Value is not valid for this column."


def _database_text(exc: BaseException) -> str:
    cause = exc.__cause__ or exc
    return str(cause).strip() or type(cause).__name__


def translate_data_error(exc: BaseException, field: str = "$") -> ValidationError:
    """A ``ValidationError`` for a database ``DataError`` (value too long, out of range).

    The message is stable (chosen by SQLSTATE where the driver gives one); the
    database's text is logged, never returned.
    """
    cause = exc.__cause__ or exc
    column = getattr(getattr(cause, "diag", None), "column_name", None) or field
    sqlstate = str(getattr(cause, "sqlstate", "") or "")
    _log.info("data error on %s: %s", column, _database_text(exc))
    return ValidationError([(column, _DATA_MESSAGES.get(sqlstate, _DATA_MESSAGE))])


def _model_names(objects: Iterable[Any]) -> str:
    names = sorted({type(obj).__name__ for obj in objects})
    return ", ".join(names)


def translate_delete_error(
    exc: models.ProtectedError | models.RestrictedError, entity: str, obj_id: Any
) -> Conflict:
    """A ``Conflict`` naming the models whose rows block the deletion."""
    blocking: Iterable[Any] = (
        getattr(exc, "protected_objects", None) or getattr(exc, "restricted_objects", None) or ()
    )
    names = _model_names(blocking)
    return Conflict(
        f"Cannot delete {entity} with id={obj_id!r}: it is still referenced by {names}."
    )
