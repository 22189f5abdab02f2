"""Auto-CRUD routes: the five generated use cases of a model exposed as REST operations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loom_django.core.errors import InterfaceCompilationError
from loom_django.core.repository.abc.capabilities import (
    Creatable,
    Deletable,
    Listable,
    Readable,
    Updatable,
)
from loom_django.core.repository.registration import (
    get_repository_registration,
    repository_capabilities,
)
from loom_django.core.use_case.constants import CrudOp
from loom_django.core.use_case.crud import build_crud_use_cases
from loom_django.rest.model import RestInterface, RestRoute, interface_model

__all__ = ["AUTO_OPERATIONS", "build_auto_routes", "interface_routes", "supported_operations"]

AUTO_OPERATIONS: tuple[tuple[CrudOp, str, str, int], ...] = (
    (CrudOp.CREATE, "POST", "/", 201),
    (CrudOp.GET, "GET", "/{id}", 200),
    (CrudOp.LIST, "GET", "/", 200),
    (CrudOp.UPDATE, "PATCH", "/{id}", 200),
    (CrudOp.DELETE, "DELETE", "/{id}", 200),
)
"""``(operation, method, path, status)`` of every auto route, in the default order."""

_CAPABILITY_OF = {
    CrudOp.CREATE: Creatable,
    CrudOp.GET: Readable,
    CrudOp.LIST: Listable,
    CrudOp.UPDATE: Updatable,
    CrudOp.DELETE: Deletable,
}


def supported_operations(model: type[Any]) -> tuple[str, ...]:
    """Operations the repository registered for ``model`` supports (all five without one)."""
    registration = get_repository_registration(model)
    if registration is None:
        return tuple(op.value for op, *_ in AUTO_OPERATIONS)
    capabilities = set(repository_capabilities(registration.repository_class, model))
    return tuple(op.value for op, *_ in AUTO_OPERATIONS if _CAPABILITY_OF[op] in capabilities)


def build_auto_routes(
    model: type[Any], include: Sequence[str] = (), *, owner: str | None = None
) -> tuple[RestRoute, ...]:
    """RestRoutes of the auto-CRUD use cases of ``model`` (shared classes, cached per model).

    ``include`` selects and orders operations among ``create``, ``get``, ``list``,
    ``update`` and ``delete``; empty means every operation the registered repository
    supports, in that order.

    Raises:
        InterfaceCompilationError: ``include`` names an unknown operation.
    """
    known = {op.value for op, *_ in AUTO_OPERATIONS}
    unknown = [name for name in include if name not in known]
    if unknown:
        where = f"{owner}: " if owner else ""
        raise InterfaceCompilationError(
            f"{where}unknown auto-CRUD operation(s) in 'include': {', '.join(map(repr, unknown))}."
            f" Expected a subset of {', '.join(sorted(known))}."
        )
    use_cases = build_crud_use_cases(model)
    by_op = {op.value: (method, path, status) for op, method, path, status in AUTO_OPERATIONS}
    selected = tuple(dict.fromkeys(include)) if include else supported_operations(model)
    routes = []
    for name in selected:
        method, path, status = by_op[name]
        routes.append(
            RestRoute(use_case=use_cases[name], method=method, path=path, status_code=status)
        )
    return tuple(routes)


def interface_routes(interface: type[RestInterface[Any]]) -> tuple[RestRoute, ...]:
    """The routes an interface serves: its declared ``routes``, then (with ``auto``) the
    auto-CRUD routes whose ``(method, path)`` is not declared.

    Raises:
        InterfaceCompilationError: ``include`` names an unknown operation.
    """
    routes = tuple(interface.routes or ())
    model = interface_model(interface)
    if not interface.auto or model is None:
        return routes
    declared = {(r.method.upper(), r.path) for r in routes}
    generated = build_auto_routes(model, tuple(interface.include), owner=interface.__qualname__)
    return routes + tuple(r for r in generated if (r.method.upper(), r.path) not in declared)
