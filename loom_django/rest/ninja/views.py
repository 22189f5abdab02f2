"""Per-route handlers: path/query/body binding, one executor call, msgspec-encoded response.

Everything a request needs is computed here once at startup; a handler only reads the
request, calls the engine and encodes the result.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from django.http import HttpRequest, HttpResponse, QueryDict

from loom_django.core.command import get_calculated_fields, get_internal_fields
from loom_django.core.errors import BadRequest, InterfaceCompilationError, ValidationError
from loom_django.core.repository.abc.query import CursorResult, PageResult
from loom_django.core.repository.cursor import cursor_scope
from loom_django.rest.compiler import CompiledRoute, camel_aliases
from loom_django.rest.config import RestConfig
from loom_django.rest.errors import (
    INTERNAL_ERROR,
    INTERNAL_MESSAGE,
    RequestTooLarge,
    UnsupportedMediaType,
    error_body,
    error_detail,
    log_unexpected,
    map_exception,
)
from loom_django.rest.naming import snake_to_camel
from loom_django.rest.query import FieldCatalog, ListQueryParser, ProfilePolicy

__all__ = [
    "AsyncHandler",
    "RouteHandlers",
    "SyncHandler",
    "build_handlers",
    "error_response",
    "hidden_columns",
    "is_json_media_type",
]

SyncHandler = Callable[[HttpRequest, dict[str, Any]], HttpResponse]
AsyncHandler = Callable[[HttpRequest, dict[str, Any]], Awaitable[HttpResponse]]

_JSON = "application/json"
_EMPTY_QUERY = QueryDict()
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def error_response(exc: BaseException, request: HttpRequest | None = None) -> HttpResponse:
    """The loom JSON error response for ``exc`` (unexpected ones are logged, answer 500)."""
    mapped = map_exception(exc)
    if mapped is None:
        log_unexpected(exc, request)
        status, detail = 500, error_detail(INTERNAL_ERROR, INTERNAL_MESSAGE)
    else:
        status, detail = mapped
    return HttpResponse(error_body(status, detail), status=status, content_type=_JSON)


class RouteHandlers:
    """The sync and async handler of one compiled route."""

    __slots__ = ("async_handler", "route", "sync_handler")

    def __init__(
        self, route: CompiledRoute, sync_handler: SyncHandler, async_handler: AsyncHandler
    ):
        self.route = route
        self.sync_handler = sync_handler
        self.async_handler = async_handler


def build_handlers(route: CompiledRoute, runtime: Any, config: RestConfig) -> RouteHandlers:
    """Pre-compute binders for ``route`` and return its sync and async handlers."""
    prepare = _preparer(route, config)
    build = runtime.factory.build
    executor = runtime.executor
    use_case = route.use_case
    read_only = route.read_only
    status = route.status_code
    no_body = status == 204 or status == 304
    encode = route.encode  # camelCase for plain msgspec.Struct results too

    def respond(result: Any) -> HttpResponse:
        if no_body:
            return HttpResponse(status=status)
        return HttpResponse(encode(result), status=status, content_type=_JSON)

    scope = f"{route.method} {route.full_path}" if route.is_list else None

    def sync_handler(request: HttpRequest, path: dict[str, Any]) -> HttpResponse:
        try:
            params, payload = prepare(request, path)
            if scope is None:
                result = executor.execute_sync(
                    build(use_case), params=params, payload=payload, read_only=read_only
                )
            else:
                with cursor_scope(scope):
                    result = executor.execute_sync(
                        build(use_case), params=params, payload=payload, read_only=read_only
                    )
            return respond(result)
        except Exception as exc:
            return error_response(exc, request)

    async def async_handler(request: HttpRequest, path: dict[str, Any]) -> HttpResponse:
        try:
            params, payload = prepare(request, path)
            if scope is None:
                result = await executor.execute(
                    build(use_case), params=params, payload=payload, read_only=read_only
                )
            else:
                with cursor_scope(scope):
                    result = await executor.execute(
                        build(use_case), params=params, payload=payload, read_only=read_only
                    )
            return respond(result)
        except Exception as exc:
            return error_response(exc, request)

    sync_handler.__qualname__ = sync_handler.__name__ = f"{route.operation_id}_view"
    async_handler.__qualname__ = async_handler.__name__ = f"{route.operation_id}_async_view"
    return RouteHandlers(route, sync_handler, async_handler)


def _preparer(
    route: CompiledRoute, config: RestConfig
) -> Callable[[HttpRequest, dict[str, Any]], tuple[dict[str, Any], dict[str, Any] | None]]:
    bindings = {b.name for b in route.plan.param_bindings}
    path_names = tuple(name for name in route.path_params if name in bindings)
    policy = ProfilePolicy(
        default=route.effective_profile_default,
        allowed=route.effective_allowed_profiles,
        exposed=route.effective_expose_profile and route.profile_param,
    )
    profile_param = route.profile_param
    aliases = tuple(camel_aliases(b.name for b in route.query_params).items())
    query_name = route.query_param
    parser = None
    if query_name is not None:
        catalog = FieldCatalog.for_model(route.model)
        parser = ListQueryParser(
            catalog=catalog,
            pagination_mode=route.effective_pagination_mode,
            allow_override=route.effective_allow_pagination_override,
            default_limit=config.default_limit,
            max_limit=config.max_limit,
            filterable=route.filterable,
            sortable=route.sortable,
            consumed=[key for key, _ in aliases],
            hidden=hidden_columns(route, catalog),
        )
    read_body = _body_reader(route, config)

    def prepare(
        request: HttpRequest, path: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        params = {name: path[name] for name in path_names}
        query = request.GET if request.META.get("QUERY_STRING") else _EMPTY_QUERY
        profile = policy.resolve(query.get("profile"))
        if profile_param:
            params["profile"] = profile
        if parser is not None:
            params[query_name] = parser.parse(query)  # type: ignore[index]
        if aliases and query:
            for key, name in aliases:
                if name not in params:
                    value = query.get(key)
                    if value is not None:
                        params[name] = value
        return params, read_body(request) if read_body is not None else None

    return prepare


def hidden_columns(route: CompiledRoute, catalog: FieldCatalog | None) -> frozenset[str]:
    """Model columns a list route's items do not show (its return type's item fields).

    Sorting on them would put their values in cursors clients can read, and filtering
    on them would let clients probe them, so the query parser refuses both unless
    ``filterable`` names the column.

    Raises:
        InterfaceCompilationError: the use case's return annotation cannot be resolved.
    """
    if catalog is None:
        return frozenset()
    try:
        returned = typing.get_type_hints(route.use_case.execute).get("return")
    except Exception as exc:
        raise InterfaceCompilationError(
            f"{route.interface_name}: route ({route.method}, '{route.route.path}'): the return "
            f"annotation of {route.plan.name}.execute cannot be resolved: {exc}"
        ) from exc
    shown: set[str] = set()
    for item in _page_items(returned):
        if not (isinstance(item, type) and issubclass(item, msgspec.Struct)):
            return frozenset()  # items of unknown shape: the use case decides what it shows
        shown.update(field.name for field in msgspec.structs.fields(item))
    if not shown:
        return frozenset()
    return frozenset(name for name in catalog.columns if name not in shown)


def _page_items(returned: Any) -> list[Any]:
    """The item types of ``PageResult[X] | CursorResult[Y]`` (empty when not a page)."""
    origin = typing.get_origin(returned)
    if origin is typing.Union or origin is types.UnionType:
        return [item for arg in typing.get_args(returned) for item in _page_items(arg)]
    if origin in (PageResult, CursorResult):
        args = typing.get_args(returned)
        return [args[0]] if args else []
    return []


def _hidden_keys(command_type: type[Any]) -> tuple[str, ...]:
    """Body keys a client may not set (internal and computed fields, both spellings).

    Read at startup; a command whose markers cannot be read stops startup instead of
    letting clients set its internal fields.
    """
    hidden: list[str] = []
    for name in (*get_internal_fields(command_type), *get_calculated_fields(command_type)):
        hidden += [name, snake_to_camel(name)]
    return tuple(dict.fromkeys(hidden))


def is_json_media_type(content_type: str) -> bool:
    """``application/json`` or any ``application/<x>+json`` (parameters ignored)."""
    media = content_type.partition(";")[0].strip().lower()
    return media == _JSON or (media.startswith("application/") and media.endswith("+json"))


def _body_reader(
    route: CompiledRoute, config: RestConfig
) -> Callable[[HttpRequest], dict[str, Any]] | None:
    binding = route.plan.input_binding
    if binding is None:
        return None
    try:
        hidden_keys = _hidden_keys(binding.command_type)
    except Exception as exc:
        raise InterfaceCompilationError(
            f"{route.interface_name}: route ({route.method}, '{route.route.path}'): the "
            f"Internal/Computed fields of {binding.command_type.__qualname__} cannot be read, "
            f"so clients could set them: {exc}"
        ) from exc
    limit = config.max_body_size

    def read(request: HttpRequest) -> dict[str, Any]:
        if limit is not None:
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                declared = 0
            if declared > limit:
                raise RequestTooLarge(limit)
        body = request.body
        if limit is not None and len(body) > limit:
            raise RequestTooLarge(limit)
        if not body or not body.strip():
            return {}
        content_type = request.META.get("CONTENT_TYPE")
        if content_type and not is_json_media_type(content_type):
            raise UnsupportedMediaType(content_type)
        try:
            payload = _decode(body)
        except msgspec.DecodeError as exc:
            raise BadRequest(f"Request body is not valid JSON: {exc}") from None
        except RecursionError:
            raise BadRequest("Request body is nested too deeply.") from None
        if not isinstance(payload, dict):
            raise ValidationError([("$", "request body must be a JSON object")])
        for key in hidden_keys:
            payload.pop(key, None)
        return payload

    return read
