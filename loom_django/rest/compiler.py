"""Interface compilation: validate every RestInterface once at startup into CompiledRoutes."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import enum
import logging
import re
import typing
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import UnionType
from typing import Any

from loom_django.core.engine.plan import ExecutionPlan, ParamBinding
from loom_django.core.errors import InterfaceCompilationError
from loom_django.core.model.introspection import model_profiles
from loom_django.core.repository.abc.query import PaginationMode, QuerySpec
from loom_django.core.use_case.constants import CrudOp
from loom_django.core.use_case.invoker import entity_key
from loom_django.rest.autocrud import interface_routes
from loom_django.rest.constants import NOT_SET
from loom_django.rest.encoding import result_encoder, snake_envelope_encoder
from loom_django.rest.model import (
    HandlerMode,
    Permission,
    RestApiDefaults,
    RestInterface,
    RestRoute,
    interface_model,
)
from loom_django.rest.naming import camel_to_snake, snake_to_camel

__all__ = [
    "CompiledRoute",
    "camel_aliases",
    "InterfaceCompilationError",
    "RouteCompilationWarning",
    "compile_interfaces",
    "path_parameters",
]

_log = logging.getLogger("loom_django.rest")
_PLACEHOLDER = re.compile(r"{([^{}/:]+)}")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_SCALARS: tuple[type[Any], ...] = (
    int,
    str,
    float,
    bool,
    uuid.UUID,
    decimal.Decimal,
    _dt.date,
    _dt.datetime,
    _dt.time,
)


class RouteCompilationWarning(UserWarning):
    """A route compiles but is probably not what was meant.

    Nothing emits it any more: an unbound path placeholder is an ``InterfaceCompilationError``.
    Kept so code that filters it keeps importing.
    """


@dataclass(frozen=True)
class CompiledRoute:
    """One route with every policy resolved; what the HTTP adapter builds a view from."""

    interface_name: str
    interface: type[Any]
    route: RestRoute
    method: str
    full_path: str
    effective_pagination_mode: PaginationMode
    effective_profile_default: str
    effective_allowed_profiles: tuple[str, ...]
    effective_expose_profile: bool
    effective_allow_pagination_override: bool
    read_only: bool
    interface_tags: tuple[str, ...]
    execute_param_types: dict[str, Any]
    plan: ExecutionPlan
    path_params: tuple[str, ...]
    query_param: str | None
    profile_param: bool
    query_params: tuple[ParamBinding, ...]
    status_code: int
    model: Any
    auth: Any
    permissions: tuple[Permission, ...]
    filterable: tuple[str, ...] | None
    sortable: tuple[str, ...] | None
    handler_mode: HandlerMode
    operation_id: str
    summary: str
    description: str
    encode: Callable[[Any], bytes] = field(default=result_encoder(None), repr=False)
    snake_envelope: bool = False

    @property
    def use_case(self) -> type[Any]:
        """The use-case class served by this route."""
        return self.route.use_case

    @property
    def is_list(self) -> bool:
        """Whether the use case takes a QuerySpec (list URL conventions apply)."""
        return self.query_param is not None


def path_parameters(path: str) -> tuple[str, ...]:
    """Names of the ``{name}`` placeholders of ``path``, in order."""
    return tuple(_PLACEHOLDER.findall(path))


def compile_interfaces(
    interfaces: Sequence[type[RestInterface[Any]]],
    *,
    runtime: Any,
    defaults: RestApiDefaults | None = None,
    handler_mode: HandlerMode = "sync",
    auto_delete_status: int = 200,
    list_envelope: str = "camel",
) -> tuple[CompiledRoute, ...]:
    """Compile ``interfaces`` in order; every startup error of spec/rest.md §1.4 is raised here.

    Raises:
        InterfaceCompilationError: the first invalid declaration, naming the interface.
    """
    defaults = defaults or RestApiDefaults()
    compiled: list[CompiledRoute] = []
    owners: dict[tuple[str, str], str] = {}
    operation_ids: set[str] = set()
    for interface in interfaces:
        for item in _compile_interface(
            interface, runtime, defaults, handler_mode, auto_delete_status, operation_ids
        ):
            if list_envelope == "snake" and item.is_list:
                item = dataclasses.replace(
                    item, snake_envelope=True, encode=snake_envelope_encoder(item.encode)
                )
            key = (item.method, item.full_path)
            other = owners.get(key)
            if other is not None:
                raise InterfaceCompilationError(
                    f"{item.interface_name}: route ({item.method}, '{item.full_path}') is also "
                    f"declared by {other}.  Each (method, path) pair must be unique in the API."
                )
            owners[key] = item.interface_name
            compiled.append(item)
    return tuple(compiled)


def _compile_interface(
    interface: type[RestInterface[Any]],
    runtime: Any,
    defaults: RestApiDefaults,
    handler_mode: HandlerMode,
    auto_delete_status: int,
    operation_ids: set[str],
) -> list[CompiledRoute]:
    name = interface.__qualname__
    prefix = interface.prefix
    if not isinstance(prefix, str) or not prefix.strip():
        raise InterfaceCompilationError(
            f"{name}: 'prefix' must be a non-empty string (e.g. '/users')."
        )
    routes = interface_routes(interface)
    if not routes:
        raise InterfaceCompilationError(
            f"{name}: 'routes' is empty.  Declare at least one RestRoute to expose."
        )
    prefix = prefix[:-1] if prefix.endswith("/") else prefix
    seen: set[tuple[str, str]] = set()
    result = []
    for route in routes:
        use_case_name = getattr(route.use_case, "__qualname__", repr(route.use_case))
        if not route.method or not route.method.strip():
            raise InterfaceCompilationError(
                f"{name}: RestRoute for '{use_case_name}' is missing 'method'."
            )
        method = route.method.strip().upper()
        if method not in _METHODS:
            raise InterfaceCompilationError(
                f"{name}: RestRoute for '{use_case_name}' has method {route.method!r}; "
                f"expected one of {', '.join(_METHODS)}."
            )
        if not route.path.startswith("/"):
            raise InterfaceCompilationError(
                f"{name}: route ({method}, '{route.path}') path must start with '/'."
            )
        if (method, route.path) in seen:
            raise InterfaceCompilationError(
                f"{name}: duplicate route ({method}, '{route.path}').  Each (method, path) "
                "pair must be unique within a RestInterface."
            )
        seen.add((method, route.path))
        plan = _plan_for(name, method, route, runtime)
        result.append(
            _compile_route(
                interface,
                name,
                prefix,
                method,
                route,
                plan,
                defaults,
                handler_mode,
                auto_delete_status,
                operation_ids,
            )
        )
    return result


def _plan_for(name: str, method: str, route: RestRoute, runtime: Any) -> ExecutionPlan:
    use_case = route.use_case
    compiler = runtime.compiler
    plan: ExecutionPlan | None = compiler.get_plan(use_case)
    if plan is not None:
        return plan
    qual = getattr(use_case, "__qualname__", repr(use_case))
    try:
        plan = compiler.compile(use_case)
        runtime.factory.register(use_case)
    except Exception as exc:
        raise InterfaceCompilationError(
            f"{name}: route ({method}, '{route.path}') references '{qual}' which has not been "
            f"compiled. Compiling it failed: {exc}"
        ) from exc
    return plan


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _first_nonempty(*values: Any) -> Any:
    return next((v for v in values if v), values[-1])


def _compile_route(
    interface: type[RestInterface[Any]],
    name: str,
    prefix: str,
    method: str,
    route: RestRoute,
    plan: ExecutionPlan,
    defaults: RestApiDefaults,
    handler_mode: HandlerMode,
    auto_delete_status: int,
    operation_ids: set[str],
) -> CompiledRoute:
    full_path = prefix + route.path
    where = f"{name}: route ({method}, '{route.path}')"
    allowed = tuple(
        _first_nonempty(
            route.allowed_profiles, interface.allowed_profiles, defaults.allowed_profiles
        )
    )
    expose = True if route.expose_profile else bool(interface.expose_profile)
    if expose and not allowed:
        raise InterfaceCompilationError(
            f"{where} has profile exposure enabled but no allowed profiles. "
            "Declare at least one allowed profile."
        )
    model = _route_model(route.use_case, interface)
    if model is not None and allowed:
        known = model_profiles(model)
        unknown = [p for p in allowed if p not in known]
        if unknown:
            raise InterfaceCompilationError(
                f"{where}: allowed profile(s) {', '.join(map(repr, unknown))} are not defined "
                f"by {model.__name__} (known: {', '.join(sorted(known))})."
            )
    bindings = {b.name: b for b in plan.param_bindings}
    path_params = path_parameters(full_path)
    for param in path_params:
        binding = bindings.get(param)
        if binding is None:
            raise InterfaceCompilationError(_unbound_placeholder(where, param, plan))
        if not _is_scalar(binding.annotation):
            raise InterfaceCompilationError(
                f"{where}: path parameter '{param}' is annotated {binding.annotation!r} in "
                f"{plan.name}.execute; path parameters must be scalar (int, str, UUID, ...)."
            )
    query_param = next((b.name for b in plan.param_bindings if _is_query_spec(b.annotation)), None)
    profile_param = "profile" in bindings
    query_params = tuple(
        b
        for b in plan.param_bindings
        if b.name not in path_params and b.name != query_param and b.name != "profile"
    )
    status = route.status_code
    if getattr(route.use_case, "__loom_crud_op__", None) == CrudOp.DELETE and status == 200:
        status = auto_delete_status
    summary, description = _docs(route)
    return CompiledRoute(
        interface_name=name,
        interface=interface,
        route=route,
        method=method,
        full_path=full_path,
        effective_pagination_mode=PaginationMode(
            _first(route.pagination_mode, interface.pagination_mode, defaults.pagination_mode)
        ),
        effective_profile_default=str(
            _first_nonempty(
                route.profile_default, interface.profile_default, defaults.profile_default
            )
        ),
        effective_allowed_profiles=allowed,
        effective_expose_profile=expose,
        effective_allow_pagination_override=bool(
            _first(
                route.allow_pagination_override,
                interface.allow_pagination_override,
                defaults.allow_pagination_override,
            )
        ),
        read_only=method == "GET",
        interface_tags=tuple(interface.tags),
        execute_param_types={b.name: b.annotation for b in plan.param_bindings},
        plan=plan,
        path_params=path_params,
        query_param=query_param,
        profile_param=profile_param,
        query_params=query_params,
        status_code=status,
        model=model,
        auth=route.auth if route.auth is not NOT_SET else interface.auth,
        permissions=_permissions(route, interface),
        filterable=_first(route.filterable, interface.filterable),
        sortable=_first(route.sortable, interface.sortable),
        handler_mode=route.handler_mode or interface.handler_mode or handler_mode,
        operation_id=_operation_id(route, operation_ids),
        summary=summary,
        description=description,
        encode=result_encoder(_result_annotation(route.use_case)),
    )


def _result_annotation(use_case: type[Any]) -> Any:
    try:
        return typing.get_type_hints(use_case.execute).get("return")
    except Exception:
        return None


def _unbound_placeholder(where: str, param: str, plan: ExecutionPlan) -> str:
    known = [b.name for b in plan.param_bindings]
    message = (
        f"{where}: path placeholder '{{{param}}}' matches no parameter of {plan.name}.execute "
        f"(parameters: {', '.join(known) or 'none'})."
    )
    snake = camel_to_snake(param)
    if snake != param and snake in known:
        return f"{message}  Placeholders use the parameter's snake_case name: '{{{snake}}}'."
    return f"{message}  Name the placeholder after an execute parameter, or drop it."


def _permissions(route: RestRoute, interface: type[RestInterface[Any]]) -> tuple[Permission, ...]:
    if route.permissions is not NOT_SET:
        return tuple(route.permissions)  # type: ignore[arg-type]
    if interface.permissions is not NOT_SET:
        return tuple(interface.permissions)  # type: ignore[arg-type]
    return ()


def _route_model(use_case: type[Any], interface: type[RestInterface[Any]]) -> Any:
    model = getattr(use_case, "__loom_model__", None)
    if isinstance(model, type):
        return model
    return interface_model(interface)


def _is_query_spec(annotation: Any) -> bool:
    if annotation is QuerySpec:
        return True
    if typing.get_origin(annotation) in (typing.Union, UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return len(args) == 1 and args[0] is QuerySpec
    return False


def _is_scalar(annotation: Any) -> bool:
    if annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return True
    if origin is typing.Annotated:
        return _is_scalar(typing.get_args(annotation)[0])
    if origin in (typing.Union, UnionType):
        return all(_is_scalar(a) for a in typing.get_args(annotation) if a is not type(None))
    return isinstance(annotation, type) and (
        issubclass(annotation, _SCALARS) or issubclass(annotation, enum.Enum)
    )


def _docs(route: RestRoute) -> tuple[str, str]:
    if route.summary or route.description:
        return route.summary, route.description
    doc = (getattr(route.use_case, "__doc__", None) or "").strip()
    lines = [line.strip() for line in doc.splitlines()]
    first = next((i for i, line in enumerate(lines) if line), None)
    if first is None:
        return "", ""
    return lines[first], "\n".join(lines[first + 1 :]).strip()


def _operation_id(route: RestRoute, taken: set[str]) -> str:
    use_case = route.use_case
    op = getattr(use_case, "__loom_crud_op__", None)
    model = getattr(use_case, "__loom_crud_model__", None)
    if op is not None and model is not None:
        base = f"{entity_key(model)}_{op.value}"
    else:
        raw = use_case.__name__
        base = camel_to_snake(
            raw[: -len("UseCase")] if raw.endswith("UseCase") and raw != "UseCase" else raw
        )
    candidate, index = base, 2
    while candidate in taken:
        candidate, index = f"{base}_{index}", index + 1
    taken.add(candidate)
    return candidate


def camel_aliases(names: Iterable[str]) -> dict[str, str]:
    """Map every accepted query key (snake and camel spelling) to the parameter name."""
    aliases: dict[str, str] = {}
    for name in names:
        aliases[name] = name
        aliases.setdefault(snake_to_camel(name), name)
    return aliases
