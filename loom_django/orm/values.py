"""Preparing Python values for SQL parameters, with errors reported per field."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import DecimalValidator
from django.db import DataError, IntegrityError, connections, models

from loom_django.core.errors import ValidationError
from loom_django.core.uow import get_active_uow
from loom_django.orm.errors import translate_data_error, translate_integrity_error
from loom_django.orm.meta import ModelMeta

__all__ = ["connection_for", "database_errors", "enlist", "prep_lookup", "prep_save", "touch"]


_NUL_MESSAGE = "String may not contain NUL (\\x00) characters."


def _invalid(name: str, exc: Exception) -> ValidationError:
    if isinstance(exc, DjangoValidationError):
        message = "; ".join(str(m) for m in exc.messages)
    elif isinstance(exc, ArithmeticError):
        message = "Value is out of range for this column."
    else:
        message = str(exc)
    return ValidationError([(name, message)])


def _check_range(field: Any, value: Any, connection: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        return
    low, high = connection.ops.integer_field_range(field.get_internal_type())
    if (low is not None and value < low) or (high is not None and value > high):
        raise DjangoValidationError(f"Ensure this value is between {low} and {high}.")


def _check_decimal(field: Any, value: Any, connection: Any) -> None:
    if isinstance(value, Decimal):
        DecimalValidator(field.max_digits, field.decimal_places)(value)


def _value_checks(meta: ModelMeta) -> dict[str, Any]:
    """Checks that make out-of-range values a ValidationError on every database."""
    found: dict[str, Any] | None = meta.__dict__.get("_value_checks")
    if found is None:
        found = {}
        for name, field in meta.field_by_name.items():
            if isinstance(field, models.DecimalField):
                found[name] = _check_decimal
            elif isinstance(field, models.IntegerField) and not field.is_relation:
                found[name] = _check_range
        meta.__dict__["_value_checks"] = found
    return found


def prep_save(meta: ModelMeta, name: str, value: Any, connection: Any) -> Any:
    """``field.get_db_prep_save(value)`` after checking length, range and digits.

    Raises:
        ValidationError: the value is too long, out of range, or does not convert to the
            column type.
    """
    if isinstance(value, str):
        limit = meta.max_lengths.get(name)
        if limit is not None and len(value) > limit:
            raise ValidationError([(name, f"String should have at most {limit} characters")])
        if "\x00" in value:
            raise ValidationError([(name, _NUL_MESSAGE)])
    field = meta.field_by_name[name]
    try:
        check = _value_checks(meta).get(name)
        if check is not None:
            check(field, value, connection)
        return field.get_db_prep_save(value, connection)
    except (TypeError, ValueError, ArithmeticError, DjangoValidationError) as exc:
        raise _invalid(name, exc) from exc


def prep_lookup(meta: ModelMeta, name: str, value: Any, connection: Any) -> Any:
    """``field.get_db_prep_value(value)`` for an equality lookup.

    Raises:
        ValidationError: the value does not convert to the column type.
    """
    if isinstance(value, str) and "\x00" in value:
        raise ValidationError([(name, _NUL_MESSAGE)])
    try:
        return meta.field_by_name[name].get_db_prep_value(value, connection, prepared=False)
    except (TypeError, ValueError, ArithmeticError, DjangoValidationError) as exc:
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


def enlist(using: str) -> None:
    """Before a write on ``using``: let the active unit of work join that alias, so the
    write commits and rolls back with the execution."""
    uow = get_active_uow()
    if uow is not None:
        join = getattr(uow, "join", None)
        if join is not None:
            join(using)


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
