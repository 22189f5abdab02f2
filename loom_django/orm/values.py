"""Preparing Python values for SQL parameters, with errors reported per field."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError, connections

from loom_django.core.errors import ValidationError
from loom_django.core.uow import get_active_uow
from loom_django.orm.errors import translate_data_error, translate_integrity_error
from loom_django.orm.meta import ModelMeta

__all__ = ["connection_for", "database_errors", "prep_lookup", "prep_save", "touch"]


def _invalid(name: str, exc: Exception) -> ValidationError:
    if isinstance(exc, DjangoValidationError):
        message = "; ".join(str(m) for m in exc.messages)
    else:
        message = str(exc)
    return ValidationError([(name, message)])


def prep_save(meta: ModelMeta, name: str, value: Any, connection: Any) -> Any:
    """``field.get_db_prep_save(value)`` after checking the declared maximum length.

    Raises:
        ValidationError: the value is too long or does not convert to the column type.
    """
    limit = meta.max_lengths.get(name)
    if limit is not None and isinstance(value, str) and len(value) > limit:
        raise ValidationError([(name, f"String should have at most {limit} characters")])
    try:
        return meta.field_by_name[name].get_db_prep_save(value, connection)
    except (TypeError, ValueError, DjangoValidationError) as exc:
        raise _invalid(name, exc) from exc


def prep_lookup(meta: ModelMeta, name: str, value: Any, connection: Any) -> Any:
    """``field.get_db_prep_value(value)`` for an equality lookup.

    Raises:
        ValidationError: the value does not convert to the column type.
    """
    try:
        return meta.field_by_name[name].get_db_prep_value(value, connection, prepared=False)
    except (TypeError, ValueError, DjangoValidationError) as exc:
        raise _invalid(name, exc) from exc


@contextmanager
def database_errors() -> Iterator[None]:
    """Turn ``IntegrityError`` into ``Conflict``/``SystemError`` and ``DataError`` into
    ``ValidationError`` (core spec §9)."""
    try:
        yield
    except IntegrityError as exc:
        raise translate_integrity_error(exc) from exc
    except DataError as exc:
        raise translate_data_error(exc) from exc


def touch(using: str, table: str | None) -> None:
    """Tell the active Django unit of work that ``table`` (None: any table) was written."""
    uow = get_active_uow()
    if uow is not None and getattr(uow, "using", None) == using:
        mark = getattr(uow, "touch", None)
        if mark is not None:
            mark(table)


def connection_for(using: str) -> Any:
    """The Django connection of alias ``using`` (this thread's)."""
    return connections[using]
