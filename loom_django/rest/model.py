"""Declaring HTTP interfaces: RestInterface (one URL prefix) and RestRoute (one operation)."""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, TypeVar

from loom_django.core.repository.abc.query import PaginationMode
from loom_django.rest.constants import NOT_SET, NotSetType

__all__ = [
    "HandlerMode",
    "PaginationMode",
    "Permission",
    "RestApiDefaults",
    "RestInterface",
    "RestRoute",
    "interface_model",
]

ModelT = TypeVar("ModelT")

HandlerMode = Literal["sync", "async"]
"""How a route's view runs: a sync view (``execute_sync``) or an async one (``await execute``)."""

Permission = str | Callable[[Any], bool]
"""A Django permission name (``"store.add_product"``) or a callable ``(request) -> bool``."""


@dataclass(frozen=True)
class RestRoute:
    """One HTTP operation of an interface, served by one use case.

    Route values win over interface values, which win over the API defaults.
    ``path`` is relative to the interface prefix and must start with ``/``; ``{name}``
    placeholders are path parameters bound to ``execute`` parameters of the same name.
    """

    use_case: type[Any]
    method: str = ""
    path: str = "/"
    summary: str = ""
    description: str = ""
    status_code: int = 200
    pagination_mode: PaginationMode | None = None
    allow_pagination_override: bool | None = None
    profile_default: str = ""
    allowed_profiles: tuple[str, ...] = ()
    expose_profile: bool = False
    auth: Any = NOT_SET
    permissions: tuple[Permission, ...] | NotSetType = NOT_SET
    filterable: tuple[str, ...] | None = None
    sortable: tuple[str, ...] | None = None
    handler_mode: HandlerMode | None = None


@dataclass(frozen=True)
class RestApiDefaults:
    """API-wide defaults of the route policies (``app.rest.defaults`` in YAML)."""

    pagination_mode: PaginationMode = PaginationMode.OFFSET
    allow_pagination_override: bool = True
    profile_default: str = "default"
    allowed_profiles: tuple[str, ...] = field(default_factory=tuple)


class RestInterface(Generic[ModelT]):
    """A URL prefix and its routes; a plain class, never instantiated.

    ``class ProductInterface(RestInterface[Product]): prefix = "/products"; auto = True``
    exposes the five auto-CRUD operations. ``routes`` holds the declared routes; the REST
    compiler serves them first and, with ``auto``, appends the generated routes whose
    ``(method, path)`` is not declared (see :func:`loom_django.rest.autocrud.interface_routes`).
    """

    prefix: ClassVar[str] = ""
    tags: ClassVar[tuple[str, ...]] = ()
    auto: ClassVar[bool] = False
    include: ClassVar[tuple[str, ...]] = ()
    routes: ClassVar[tuple[RestRoute, ...]] = ()
    pagination_mode: ClassVar[PaginationMode | None] = None
    allow_pagination_override: ClassVar[bool | None] = None
    profile_default: ClassVar[str] = ""
    allowed_profiles: ClassVar[tuple[str, ...]] = ()
    expose_profile: ClassVar[bool] = False
    auth: ClassVar[Any] = NOT_SET
    permissions: ClassVar[tuple[Permission, ...] | NotSetType] = NOT_SET
    filterable: ClassVar[tuple[str, ...] | None] = None
    sortable: ClassVar[tuple[str, ...] | None] = None
    handler_mode: ClassVar[HandlerMode | None] = None
    __loom_model__: ClassVar[Any] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        model = _generic_model(cls)
        if model is not None:
            cls.__loom_model__ = model
        cls.routes = tuple(cls.__dict__.get("routes", cls.routes) or ())


def _generic_model(cls: type[Any]) -> Any:
    for base in cls.__dict__.get("__orig_bases__", ()):
        origin = typing.get_origin(base)
        if isinstance(origin, type) and issubclass(origin, RestInterface):
            args = typing.get_args(base)
            if args and isinstance(args[0], type):
                return args[0]
    return None


def interface_model(interface: type[RestInterface[Any]]) -> Any:
    """The main model of an interface (``RestInterface[Model]``), or ``None``."""
    return getattr(interface, "__loom_model__", None)
