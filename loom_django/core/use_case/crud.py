"""Generated auto-CRUD use cases and their input commands, one set per model (cached)."""

from __future__ import annotations

import threading
import types
from collections.abc import Callable
from typing import Any

import msgspec

from loom_django.core.command import Command
from loom_django.core.errors import NotFound
from loom_django.core.use_case.constants import CrudOp
from loom_django.core.use_case.invoker import entity_key
from loom_django.core.use_case.keys import set_use_case_key
from loom_django.core.use_case.markers import Input
from loom_django.core.use_case.use_case import UseCase

__all__ = ["build_crud_use_cases", "create_input_for", "update_input_for", "writable_columns"]

_lock = threading.Lock()
_SINGLE_STATEMENT_OPS = frozenset({CrudOp.CREATE, CrudOp.UPDATE})
_cache: dict[type[Any], dict[str, type[Any]]] = {}
_inputs: dict[tuple[type[Any], str], type[Command]] = {}


def writable_columns(model: type[Any]) -> list[Any]:
    """Columns a client may write: not the primary key, autoincrement or server-generated."""
    from loom_django.core.model import get_column_fields

    return [
        info
        for info in get_column_fields(model).values()
        if not (info.primary_key or info.field.autoincrement or info.field.server_default)
    ]


def create_input_for(model: type[Any]) -> type[Command]:
    """``<Model>CreateInput``: required unless the model gives a default; nullable → None."""
    key = (model, "create")
    cached = _inputs.get(key)
    if cached is not None:
        return cached
    fields: list[tuple[str, Any, Any] | tuple[str, Any]] = []
    optional: list[tuple[str, Any, Any]] = []
    for info in writable_columns(model):
        annotation = info.python_type | None if info.nullable else info.python_type
        default = info.field.default
        if default is not msgspec.UNSET:
            optional.append((info.name, annotation, _struct_default(default)))
        elif info.nullable:
            optional.append((info.name, annotation, None))
        else:
            fields.append((info.name, annotation))
    command: type[Command] = msgspec.defstruct(  # type: ignore[assignment]
        f"{model.__name__}CreateInput",
        [*fields, *optional],
        bases=(Command,),
        module=model.__module__,
        frozen=True,
        kw_only=True,
        rename="camel",
    )
    _inputs[key] = command
    return command


def update_input_for(model: type[Any]) -> type[Command]:
    """``<Model>UpdateInput``: every writable column optional with default ``UNSET``."""
    key = (model, "update")
    cached = _inputs.get(key)
    if cached is not None:
        return cached
    fields = []
    for info in writable_columns(model):
        annotation = info.python_type | None if info.nullable else info.python_type
        fields.append((info.name, annotation | msgspec.UnsetType, msgspec.UNSET))
    command: type[Command] = msgspec.defstruct(  # type: ignore[assignment]
        f"{model.__name__}UpdateInput",
        fields,
        bases=(Command,),
        module=model.__module__,
        frozen=True,
        kw_only=True,
        rename="camel",
    )
    _inputs[key] = command
    return command


def _filler(values: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def fill(namespace: dict[str, Any]) -> None:
        namespace.update(values)

    return fill


def _struct_default(value: Any) -> Any:
    if isinstance(value, list | dict | set):
        return msgspec.field(default_factory=lambda: type(value)(value))
    return value


def build_crud_use_cases(model: type[Any]) -> dict[str, type[Any]]:
    """The five generated use cases of ``model`` keyed by CrudOp value (same classes each call)."""
    with _lock:
        cached = _cache.get(model)
        if cached is None:
            cached = _cache[model] = _generate(model)
        return cached


def _generate(model: type[Any]) -> dict[str, type[Any]]:
    from loom_django.core.model import get_column_fields, get_id_attribute
    from loom_django.core.repository.abc.query import CursorResult, PageResult, QuerySpec

    name = model.__name__
    id_name = get_id_attribute(model)
    id_type = get_column_fields(model)[id_name].python_type
    create_input = create_input_for(model)
    update_input = update_input_for(model)
    prefix = entity_key(model)

    async def create(self: Any, cmd: Any = Input()) -> Any:
        return await self.main_repo.create(cmd)

    async def get(self: Any, id: Any, profile: str = "default") -> Any:
        found = await self.main_repo.get_by_id(id, profile=profile)
        if found is None:
            raise NotFound(name, id=id)
        return found

    async def list_(self: Any, query: Any = QuerySpec(), profile: str = "default") -> Any:
        return await self.main_repo.list_with_query(query, profile=profile)

    async def update(self: Any, id: Any, cmd: Any = Input()) -> Any:
        updated = await self.main_repo.update(id, cmd)
        if updated is None:
            raise NotFound(name, id=id)
        return updated

    async def delete(self: Any, id: Any) -> bool:
        if not await self.main_repo.delete(id):
            raise NotFound(name, id=id)
        return True

    create.__annotations__ = {"cmd": create_input, "return": model}
    get.__annotations__ = {"id": id_type, "profile": str, "return": model}
    list_.__annotations__ = {
        "query": QuerySpec,
        "profile": str,
        "return": PageResult[model] | CursorResult[model],  # type: ignore[valid-type]
    }
    update.__annotations__ = {"id": id_type, "cmd": update_input, "return": model}
    delete.__annotations__ = {"id": id_type, "return": bool}

    # With the default repository, create and update are one INSERT/UPDATE … RETURNING,
    # atomic on their own: a top-level call needs no BEGIN/COMMIT round trips.
    single_statement = model.__dict__.get("__loom_repository__") is None
    specs = (
        (CrudOp.CREATE, "AutoCreate", create, f"Create a new {name}.", False),
        (CrudOp.GET, "AutoGet", get, f"Get a {name} by id.", True),
        (
            CrudOp.LIST,
            "AutoList",
            list_,
            f"List {name} with filtering, sorting and pagination.",
            True,
        ),
        (CrudOp.UPDATE, "AutoUpdate", update, f"Partially update an existing {name}.", False),
        (CrudOp.DELETE, "AutoDelete", delete, f"Delete a {name} by id.", False),
    )
    generated: dict[str, type[Any]] = {}
    for op, class_prefix, execute, doc, read_only in specs:
        execute.__name__ = "execute"
        execute.__qualname__ = f"{class_prefix}{name}.execute"
        namespace = {
            "__doc__": doc,
            "__module__": model.__module__,
            "execute": execute,
            "read_only": read_only,
            "transactional": not (single_statement and op in _SINGLE_STATEMENT_OPS),
            "__loom_crud_op__": op,
            "__loom_crud_model__": model,
        }
        base: Any = UseCase[model, Any]  # type: ignore[valid-type]
        cls = types.new_class(f"{class_prefix}{name}", (base,), exec_body=_filler(namespace))
        set_use_case_key(cls, f"{prefix}:{op.value}")
        generated[op.value] = cls
    return generated
