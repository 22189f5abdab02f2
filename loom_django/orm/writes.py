"""Repository writes: one INSERT … RETURNING, one UPDATE … RETURNING, deletes via the collector."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from loom_django.core.repository.write_set import write_values
from loom_django.orm.errors import translate_delete_error
from loom_django.orm.meta import ModelMeta
from loom_django.orm.reads import get_by_id
from loom_django.orm.statements import statements_for
from loom_django.orm.values import (
    connection_for,
    database_errors,
    enlist,
    prep_lookup,
    prep_save,
    touch,
)

__all__ = ["create", "delete", "update"]

_AUTO, _DB_DEFAULT, _DEFAULT, _NONE = "auto", "db", "default", "none"


def _insert_plan(meta: ModelMeta) -> list[tuple[str, models.Field[Any, Any], str]]:
    """How each column is filled when the input omits it (cached on the meta)."""
    plan: list[tuple[str, models.Field[Any, Any], str]] | None = meta.__dict__.get("_insert_plan")
    if plan is None:
        plan = []
        for name, field in meta.field_by_name.items():
            if field is meta.pk_field and isinstance(field, models.AutoField):
                mode = _AUTO
            elif field.db_default is not models.NOT_PROVIDED:
                mode = _DB_DEFAULT
            elif field.has_default():
                mode = _DEFAULT
            else:
                mode = _NONE
            plan.append((name, field, mode))
        meta.__dict__["_insert_plan"] = plan
    return plan


def create(meta: ModelMeta, using: str, data: Any) -> Any:
    """Insert ``data`` and return the stored entity, database-generated values included."""
    values = write_values(meta.loom, data, for_create=True)
    enlist(using)
    st = statements_for(meta, using)
    if not (meta.generated and meta.local and st.returning):
        return _create_with_save(meta, using, values, st.returning)
    connection = connection_for(using)
    names: list[str] = []
    params: list[Any] = []
    for name, field, mode in _insert_plan(meta):
        if name in values:
            value = values[name]
        elif mode == _DEFAULT:
            value = field.get_default()
        else:
            continue
        names.append(name)
        params.append(prep_save(meta, name, value, connection))
    with database_errors(), connection.cursor() as cursor:
        cursor.execute(st.insert_sql(tuple(names)), params)
        row = cursor.fetchone()
    touch(using, meta.table)
    return meta.make(st.convert(row))


def _create_with_save(meta: ModelMeta, using: str, values: dict[str, Any], returning: bool) -> Any:
    """``Model(**values).save(force_insert=True)``: existing Django models keep their
    ``save()`` behaviour (defaults, ``auto_now_add``, signals)."""
    connection = connection_for(using)
    for name, value in values.items():
        prep_save(meta, name, value, connection)
    instance = meta.django(**{meta.lookup[name]: value for name, value in values.items()})
    with database_errors():
        instance.save(force_insert=True, using=using)
    touch(using, meta.table)
    if not returning:
        return get_by_id(meta, using, instance.pk, "default")
    row = [field.to_python(getattr(instance, field.attname)) for field in meta.fields]
    return meta.make(row)


def update(meta: ModelMeta, using: str, obj_id: Any, data: Any) -> Any:
    """Write the write set of ``data`` plus on-update columns in one statement.

    Returns the updated entity, or None when no row has primary key ``obj_id``.
    """
    values = write_values(meta.loom, data)
    enlist(using)
    touched = meta.on_update
    if not values and not touched:
        return get_by_id(meta, using, obj_id, "default")
    connection = connection_for(using)
    pk = prep_lookup(meta, meta.pk, obj_id, connection)
    params = [prep_save(meta, name, value, connection) for name, value in values.items()]
    if not meta.local:
        return _update_with_orm(meta, using, obj_id, values)
    st = statements_for(meta, using)
    if touched and st.now_sql is None:
        now = timezone.now()
        params += [prep_save(meta, name, now, connection) for name in touched]
    params.append(pk)
    with database_errors(), connection.cursor() as cursor:
        cursor.execute(st.update_sql(tuple(values), touched), params)
        row = cursor.fetchone() if st.returning else None
        matched = cursor.rowcount
    touch(using, meta.table)
    if st.returning:
        return None if row is None else meta.make(st.convert(row))
    return get_by_id(meta, using, obj_id, "default") if matched else None


def _update_with_orm(meta: ModelMeta, using: str, obj_id: Any, values: dict[str, Any]) -> Any:
    """``QuerySet.update`` then a SELECT, for models spread over several tables."""
    changes: dict[str, Any] = {meta.lookup[name]: value for name, value in values.items()}
    changes.update({meta.lookup[name]: Now() for name in meta.on_update})
    with database_errors():
        matched = meta.queryset(using).filter(pk=obj_id).update(**changes)
    touch(using, None)
    return get_by_id(meta, using, obj_id, "default") if matched else None


def delete(meta: ModelMeta, using: str, obj_id: Any) -> bool:
    """Delete through Django's collector (``on_delete`` honoured); True if the row existed.

    Raises:
        Conflict: a PROTECT/RESTRICT reference blocks the deletion.
    """
    prep_lookup(meta, meta.pk, obj_id, connection_for(using))
    enlist(using)
    with database_errors():
        try:
            _, per_model = meta.queryset(using).filter(pk=obj_id).delete()
        except (models.ProtectedError, models.RestrictedError) as exc:
            # Both subclass IntegrityError, so they must be caught before database_errors().
            raise translate_delete_error(exc, meta.entity, obj_id) from exc
    touch(using, None)
    return per_model.get(meta.django._meta.label, 0) > 0
