"""``IntoModel``: a terminal node writing payloads as rows of a Django model (spec §2.5, §7.4).

One ``transaction.atomic`` per micro-batch on the worker's connection: ``bulk_create`` (or
``bulk_create(update_conflicts=True)`` for ``mode="upsert"``). A batch failing with an
``IntegrityError`` is written again row by row, each in a savepoint, so a row violating a
constraint becomes a BUSINESS error while the rest is written. Offsets complete only after
the transaction commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["IntoModel", "ModelSinkOp", "compile_model_sink", "write_rows"]

P = TypeVar("P")

_MODES = {"create": "create", "insert": "create", "upsert": "upsert"}


class IntoModel(Generic[P]):
    """Write each payload as a row of ``model``, a Django model (for a loom model, pass
    ``django_model_for(Model)``).

    Fields map by attribute name: every model field the payload class declares is written.

    Args:
        model: the Django model class.
        name: the node name in errors and metrics (default ``IntoModel(<Model>)``).
        mode: ``"create"`` (alias ``"insert"``) or ``"upsert"`` (insert, or update the row
            with the same ``unique_fields``).
        unique_fields: the conflict target of an upsert (required for it).
        update_fields: the columns an upsert updates (default: every mapped non-unique one).
        batch_size: rows per INSERT statement.
        using: the database alias.

    Raises:
        ValueError: an unknown mode, an upsert without ``unique_fields``, ``batch_size < 1``.
    """

    router_branch_safe = True

    def __init__(
        self,
        model: type[Any],
        *,
        name: str = "",
        mode: str = "create",
        unique_fields: Sequence[str] = (),
        update_fields: Sequence[str] = (),
        batch_size: int = 500,
        using: str = "default",
    ) -> None:
        if mode not in _MODES:
            raise ValueError(f"IntoModel.mode must be create, insert or upsert (got {mode!r})")
        if _MODES[mode] == "upsert" and not unique_fields:
            raise ValueError("IntoModel(mode='upsert') needs unique_fields")
        if batch_size < 1:
            raise ValueError(f"IntoModel.batch_size must be >= 1 (got {batch_size})")
        self.model = model
        self.mode = _MODES[mode]
        self.unique_fields = tuple(unique_fields)
        self.update_fields = tuple(update_fields)
        self.batch_size = batch_size
        self.using = using
        self.name = name or f"IntoModel({getattr(model, '__name__', model)})"
        self.payload: type[Any] | None = None


@dataclass(frozen=True, slots=True)
class ModelSinkOp:
    """A compiled ``IntoModel``: the Django model, the mapped fields, the upsert target."""

    path: tuple[int, ...]
    name: str
    model: Any
    fields: tuple[str, ...]
    mode: str
    unique_fields: tuple[str, ...]
    update_fields: tuple[str, ...]
    batch_size: int
    using: str


def _is_django_model(model: Any) -> bool:
    from django.db import models

    return isinstance(model, type) and issubclass(model, models.Model)


def _required(field: Any) -> bool:
    from django.db.models import NOT_PROVIDED

    return not (
        field.null
        or field.has_default()
        or getattr(field, "db_default", NOT_PROVIDED) is not NOT_PROVIDED
        or getattr(field, "auto_now", False)
        or getattr(field, "auto_now_add", False)
        or (field.primary_key and field.get_internal_type().endswith("AutoField"))
    )


def compile_model_sink(
    node: IntoModel[Any], path: tuple[int, ...], payload: Any
) -> tuple[ModelSinkOp | None, list[str]]:
    """Validate ``node`` against the upstream payload class; the op, or the problems."""
    model = node.model
    if not _is_django_model(model):
        return None, [
            f"{model!r} is not a Django model (for a loom model pass "
            "loom_django.orm.django_model_for(Model))"
        ]
    concrete = {f.attname: f for f in model._meta.concrete_fields}
    concrete.update({f.name: f for f in model._meta.concrete_fields})
    errors: list[str] = []
    declared = getattr(payload, "__struct_fields__", None)
    if isinstance(payload, type) and declared is None:
        declared = tuple(getattr(payload, "__annotations__", {}))
    if declared is not None:
        fields = tuple(name for name in declared if name in concrete)
        for field in model._meta.concrete_fields:
            if _required(field) and field.name not in fields and field.attname not in fields:
                errors.append(
                    f"{model.__name__}.{field.name} is required but {payload.__qualname__} "
                    "has no such field"
                )
    else:  # unknown upstream type: map whatever attributes each payload has
        fields = tuple(f.attname for f in model._meta.concrete_fields if not f.primary_key)
    for name in (*node.unique_fields, *node.update_fields):
        if name not in concrete:
            errors.append(f"{model.__name__} has no field {name!r}")
    update = node.update_fields or tuple(f for f in fields if f not in node.unique_fields)
    op = ModelSinkOp(
        path=path,
        name=node.name,
        model=model,
        fields=fields,
        mode=node.mode,
        unique_fields=node.unique_fields,
        update_fields=update,
        batch_size=node.batch_size,
        using=node.using,
    )
    return (None if errors else op), errors


def write_rows(op: ModelSinkOp, payloads: list[Any]) -> list[tuple[int, BaseException]]:
    """Write ``payloads`` in one transaction; returns ``(index, error)`` of rejected rows.

    Rows that cannot be built, and (after an ``IntegrityError`` of the batch) rows whose own
    insert violates a constraint, are rejected; every other row is committed.

    Raises:
        django.db.DatabaseError: the database failed for another reason (nothing written).
    """
    from django.db import IntegrityError, transaction

    rejected: list[tuple[int, BaseException]] = []
    rows: list[tuple[int, Any]] = []
    for index, payload in enumerate(payloads):
        try:
            rows.append((index, _row(op, payload)))
        except (TypeError, ValueError, AttributeError) as exc:
            rejected.append((index, exc))
    if not rows:
        return rejected
    try:
        with transaction.atomic(using=op.using):
            _bulk(op, [obj for _, obj in rows])
        return rejected
    except IntegrityError:
        pass
    with transaction.atomic(using=op.using):  # isolate the offending rows
        for index, obj in rows:
            try:
                with transaction.atomic(using=op.using):
                    _bulk(op, [obj])
            except IntegrityError as exc:
                rejected.append((index, exc))
    rejected.sort(key=lambda pair: pair[0])
    return rejected


def _row(op: ModelSinkOp, payload: Any) -> Any:
    values = {name: getattr(payload, name) for name in op.fields if hasattr(payload, name)}
    return op.model(**values)


def _bulk(op: ModelSinkOp, objs: list[Any]) -> None:
    manager = op.model._default_manager.using(op.using)
    if op.mode == "upsert":
        manager.bulk_create(
            objs,
            batch_size=op.batch_size,
            update_conflicts=True,
            unique_fields=list(op.unique_fields),
            update_fields=list(op.update_fields),
        )
    else:
        manager.bulk_create(objs, batch_size=op.batch_size)
