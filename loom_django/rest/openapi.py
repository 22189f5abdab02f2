"""OpenAPI fragments built from the msgspec types of compiled routes (never per request)."""

from __future__ import annotations

import contextlib
import types
import typing
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import msgspec

from loom_django.core.command import get_calculated_fields, get_internal_fields
from loom_django.core.engine.plan import NO_DEFAULT, ParamBinding
from loom_django.core.repository.abc.query import FilterOp, PaginationMode
from loom_django.rest.compiler import CompiledRoute
from loom_django.rest.constants import MAX_PAGE, RESERVED_QUERY_PARAMS
from loom_django.rest.encoding import camel_struct_type, needs_camel, snake_envelope_type
from loom_django.rest.naming import snake_to_camel

__all__ = ["ERROR_SCHEMA_NAME", "OpenAPIBuilder", "request_struct_for"]

ERROR_SCHEMA_NAME = "LoomError"
REF = "#/components/schemas/{name}"


class _Violation(msgspec.Struct):
    field: str
    message: str


class _ErrorDetail(msgspec.Struct, omit_defaults=True):
    code: str
    message: str
    trace_id: str | None
    entity: str | msgspec.UnsetType = msgspec.UNSET
    id: Any | msgspec.UnsetType = msgspec.UNSET
    param: str | msgspec.UnsetType = msgspec.UNSET
    violations: list[_Violation] | msgspec.UnsetType = msgspec.UNSET


_ErrorDetail.__name__ = "LoomErrorDetail"
_Violation.__name__ = "LoomViolation"
LoomErrorSchema = msgspec.defstruct(ERROR_SCHEMA_NAME, [("detail", _ErrorDetail)])

_request_cache: dict[type[Any], type[Any]] = {}


def request_struct_for(command: type[Any]) -> type[Any]:
    """``<Command>Request``: the public body of a command (internal/computed fields removed).

    ``Patch`` fields stay optional and nullable; names keep the command's camelCase.
    """
    cached = _request_cache.get(command)
    if cached is not None:
        return cached
    hidden = set(get_internal_fields(command)) | set(get_calculated_fields(command))
    fields: list[tuple[str, Any, Any]] = []
    optional: list[tuple[str, Any, Any]] = []
    for info in msgspec.structs.fields(command):
        if info.name in hidden:
            continue
        if info.required:
            fields.append((info.name, info.type, msgspec.field(name=info.encode_name)))
        elif info.default_factory is not msgspec.NODEFAULT:
            spec = msgspec.field(default_factory=info.default_factory, name=info.encode_name)
            optional.append((info.name, info.type, spec))
        else:
            spec = msgspec.field(default=info.default, name=info.encode_name)
            optional.append((info.name, info.type, spec))
    struct = msgspec.defstruct(
        f"{command.__name__}Request", [*fields, *optional], kw_only=True, module=command.__module__
    )
    _request_cache[command] = struct
    return struct


def _any_schema(tp: Any) -> dict[str, Any]:
    """Schema of types msgspec cannot describe (``object``, custom classes): any value."""
    return {}


def _schema_ok(tp: Any) -> bool:
    try:
        msgspec.json.schema(tp, schema_hook=_any_schema)
    except Exception:
        return False
    return True


def _return_type(route: CompiledRoute) -> Any:
    execute = route.use_case.execute
    try:
        hints = typing.get_type_hints(execute)
    except Exception:
        return None
    value = hints.get("return", None)
    if value is None or value is Any or value is type(None):
        return None
    if isinstance(value, type) and issubclass(value, msgspec.Struct) and needs_camel(value):
        return camel_struct_type(value)
    return value


def _status_text(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Response"


class OpenAPIBuilder:
    """Builds per-route ``openapi_extra`` fragments and the shared component schemas."""

    def __init__(
        self, routes: Sequence[CompiledRoute], *, default_limit: int, max_limit: int
    ) -> None:
        self.routes = routes
        self.default_limit = default_limit
        self.max_limit = max_limit
        types: dict[Any, None] = {LoomErrorSchema: None}
        self._bodies: dict[int, Any] = {}
        self._returns: dict[int, Any] = {}
        for index, route in enumerate(routes):
            binding = route.plan.input_binding
            if binding is not None:
                body = request_struct_for(binding.command_type)
                if _schema_ok(body):
                    self._bodies[index] = body
                    types[body] = None
            returned = _return_type(route)
            if route.is_list and isinstance(route.model, type):
                shapes = _list_result_types(route)
                if all(_schema_ok(shape) for shape in shapes):
                    self._returns[index] = shapes
                    types.update(dict.fromkeys(shapes))
                    continue
            if returned is not None and _schema_ok(returned):
                self._returns[index] = returned
                types[returned] = None
        ordered = list(types)
        schemas, components = msgspec.json.schema_components(
            ordered, ref_template=REF, schema_hook=_any_schema
        )
        for component in components.values():
            _drop_null_defaults(component)
        for index, body in self._bodies.items():
            model = routes[index].model
            name = getattr(body, "__name__", "")
            if isinstance(model, type) and name in components:
                _apply_column_limits(components[name], body, _column_limits(model))
        self.components: dict[str, Any] = components
        self._schema_of = dict(zip(ordered, schemas, strict=True))

    def operation(self, index: int) -> dict[str, Any]:
        """The ``openapi_extra`` of route ``index``: parameters, body, responses, filters."""
        route = self.routes[index]
        extra: dict[str, Any] = {"parameters": self._parameters(route)}
        body = self._bodies.get(index)
        if body is not None:
            extra["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": self._schema_of[body]}},
            }
        extra["responses"] = self._responses(index, route)
        if route.is_list:
            filters = self._filters(route)
            extra["x-loom-filters"] = filters
            if filters:
                lines = [f"- `{f['field']}`: {', '.join(f['operators'])}" for f in filters]
                text = "Filters (`<field>__<op>=<value>`):\n" + "\n".join(lines)
                extra["description"] = f"{route.description}\n\n{text}".strip()
        return extra

    def _responses(self, index: int, route: CompiledRoute) -> dict[int, Any]:
        status = route.status_code
        success: dict[str, Any] = {"description": _status_text(status)}
        returned = self._returns.get(index)
        if isinstance(returned, tuple):
            shapes = [self._schema_of[shape] for shape in returned]
            one = shapes[0] if len(shapes) == 1 else {"anyOf": shapes}
            success["content"] = {"application/json": {"schema": one}}
        elif returned is not None and status != 204:
            success["content"] = {"application/json": {"schema": self._schema_of[returned]}}
        error = {
            "content": {
                "application/json": {"schema": {"$ref": REF.format(name=ERROR_SCHEMA_NAME)}}
            }
        }
        responses: dict[int, Any] = {status: success}
        codes = _error_statuses(route, has_body=index in self._bodies)
        for code in codes:
            responses[code] = {"description": _status_text(code), **error}
        return responses

    def _parameters(self, route: CompiledRoute) -> list[dict[str, Any]]:
        bindings = {b.name: b for b in route.plan.param_bindings}
        params: list[dict[str, Any]] = []
        for name in route.path_params:
            binding = bindings.get(name)
            params.append(
                {
                    "in": "path",
                    "name": name,
                    "required": True,
                    "schema": _param_schema(binding.annotation if binding else str),
                }
            )
        if route.is_list:
            params.extend(self._list_parameters(route))
            taken = {p["name"] for p in params} | set(RESERVED_QUERY_PARAMS)
            params.extend(p for p in self._filter_parameters(route) if p["name"] not in taken)
        if route.profile_param and route.effective_expose_profile:
            params.append(
                {
                    "in": "query",
                    "name": "profile",
                    "required": False,
                    "schema": {
                        "type": "string",
                        "enum": list(route.effective_allowed_profiles),
                        "default": route.effective_profile_default,
                    },
                }
            )
        for binding in route.query_params:
            params.append(_query_param(binding))
        return params

    def _filter_parameters(self, route: CompiledRoute) -> list[dict[str, Any]]:
        """One query parameter per filter field and operator (``priceCents__gte``)."""
        hints = _column_types(route.model) if route.model is not None else {}
        params: list[dict[str, Any]] = []
        for item in self._filters(route):
            value = _filter_value_schema(hints.get(item["field"]))
            for op in item["operators"]:
                if op == FilterOp.EQ.value:
                    name, schema = item["alias"], value
                else:
                    name = f"{item['alias']}__{op}"
                    if op == FilterOp.IS_NULL.value:
                        schema = {"type": "boolean"}
                    elif op in _STRING_OPS:
                        schema = {"type": "string"}
                    else:
                        schema = value
                params.append(
                    {
                        "in": "query",
                        "name": name,
                        "required": False,
                        "schema": schema,
                        "description": _FILTER_TEXT.get(op, f"`{item['field']}` {op} value."),
                    }
                )
        return params

    def _list_parameters(self, route: CompiledRoute) -> list[dict[str, Any]]:
        mode = route.effective_pagination_mode.value
        modes = ["offset", "cursor"] if route.effective_allow_pagination_override else [mode]

        def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
            return {
                "in": "query",
                "name": name,
                "required": False,
                "schema": schema,
                "description": description,
            }

        return [
            query(
                "page",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
                "Page number (offset mode).",
            ),
            query(
                "limit",
                {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_limit,
                    "default": self.default_limit,
                },
                "Page size (larger values are clamped).",
            ),
            query(
                "pagination", {"type": "string", "enum": modes, "default": mode}, "Pagination mode."
            ),
            query("after", {"type": "string"}, "Cursor token of the next page (cursor mode)."),
            query("cursor", {"type": "string"}, "Alias of `after`."),
            query(
                "sort",
                {"type": "string"},
                "Sort field(s), comma-separated; a leading `-` sorts that field descending.",
            ),
            query(
                "direction",
                {"type": "string", "enum": ["ASC", "DESC"], "default": "ASC"},
                "Direction of sort fields without a `-` prefix.",
            ),
            query(
                "count",
                {"type": "boolean", "default": True},
                "Offset mode: `false` skips counting (`totalCount` is then null).",
            ),
        ]

    @staticmethod
    def _filters(route: CompiledRoute) -> list[dict[str, Any]]:
        model = route.model
        if model is None:
            return []
        from loom_django.core.model import get_column_fields

        try:
            columns = list(get_column_fields(model))
        except Exception:
            return []
        allowed = route.filterable
        hints = _column_types(model)
        ops = [op.value for op in FilterOp if op not in (FilterOp.EXISTS, FilterOp.NOT_EXISTS)]
        text_only = {FilterOp.LIKE.value, FilterOp.ILIKE.value}
        return [
            {
                "field": name,
                "alias": snake_to_camel(name),
                "operators": ops
                if _is_text(hints.get(name))
                else [o for o in ops if o not in text_only],
            }
            for name in columns
            if allowed is None or name in allowed
        ]


_STRING_OPS = frozenset({FilterOp.LIKE.value, FilterOp.ILIKE.value, FilterOp.IN.value})
_FILTER_TEXT = {
    "eq": "Equal to.",
    "ne": "Not equal to.",
    "gt": "Greater than.",
    "gte": "Greater than or equal to.",
    "lt": "Less than.",
    "lte": "Less than or equal to.",
    "in": "One of these comma-separated values.",
    "like": "SQL LIKE pattern (`%` and `_`), case-sensitive.",
    "ilike": "SQL LIKE pattern, case-insensitive.",
    "is_null": "`true`: only rows where it is null; `false`: only rows where it is not.",
}


def _filter_value_schema(annotation: Any) -> dict[str, Any]:
    """Schema of one filter value: the column's type without ``null``."""
    if annotation is None:
        return {"type": "string"}
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else Any
    schema = _param_schema(annotation)
    if "$ref" in schema or "anyOf" in schema or not schema:
        return {"type": "string"}
    return schema


def _list_result_types(route: CompiledRoute) -> tuple[Any, ...]:
    """``PageResult[Model]`` and/or ``CursorResult[Model]``, as the route can return them."""
    from loom_django.core.repository.abc.query import CursorResult, PageResult

    generic: Any = (PageResult, CursorResult)
    page, cursor = generic[0][route.model], generic[1][route.model]
    if route.effective_allow_pagination_override:
        shapes: tuple[Any, ...] = (page, cursor)
    else:
        cursor_mode = route.effective_pagination_mode is PaginationMode.CURSOR
        shapes = (cursor,) if cursor_mode else (page,)
    if route.snake_envelope:
        return tuple(snake_envelope_type(shape) for shape in shapes)
    return shapes


def _error_statuses(route: CompiledRoute, *, has_body: bool) -> list[int]:
    """The error statuses this route can answer with, not every status of the API.

    An auto-CRUD route's are known exactly; a use case's own ``execute`` may raise any loom
    error (400, 404, 409, 422), so those stay documented on custom routes.
    """
    from loom_django.rest.constants import NOT_SET

    op = getattr(route.use_case, "__loom_crud_op__", None)
    codes: set[int] = {500}
    if op is None:
        codes |= {400, 404, 409, 422}
    else:
        codes |= _CRUD_ERRORS.get(str(getattr(op, "value", op)), {400, 404, 409, 422})
    if (route.auth is not None and route.auth is not NOT_SET) or route.permissions:
        codes |= {401, 403}
    if has_body:
        codes |= {400, 413, 415, 422}  # malformed or too deep, too large, not JSON, invalid
    if route.path_params or route.query_params:
        codes.add(422)
    if route.query_params:
        codes.add(400)  # a non-canonical integer in the query string
    return sorted(codes)


_CRUD_ERRORS: dict[str, set[int]] = {
    "create": {409},
    "get": {404},
    "list": {400, 422},
    "update": {404, 409},
    "delete": {404, 409},
}


def _column_limits(model: type[Any]) -> dict[str, dict[str, int]]:
    """What the ORM door enforces on each column: ``maxLength`` of strings, integer ranges."""
    try:
        from django.db import DEFAULT_DB_ALIAS, connections, models

        from loom_django.orm.mapping import django_model_for

        django_model = django_model_for(model)
        ops = connections[DEFAULT_DB_ALIAS].ops
    except Exception:
        return {}
    limits: dict[str, dict[str, int]] = {}
    for field in django_model._meta.concrete_fields:
        if isinstance(field, models.CharField) and field.max_length:
            limits[field.attname] = {"maxLength": field.max_length}
        elif isinstance(field, models.IntegerField) and not field.is_relation:
            low, high = ops.integer_field_range(field.get_internal_type())
            bounds = {"minimum": low, "maximum": high}
            limits[field.attname] = {k: v for k, v in bounds.items() if v is not None}
    return limits


def _apply_column_limits(
    component: dict[str, Any], body: type[Any], limits: dict[str, dict[str, int]]
) -> None:
    properties = component.get("properties", {})
    for info in msgspec.structs.fields(body):
        limit = limits.get(info.name)
        schema = properties.get(info.encode_name)
        if not limit or not isinstance(schema, dict):
            continue
        for branch in [schema, *schema.get("anyOf", ())]:
            kind = branch.get("type")
            if kind == "string" and "maxLength" in limit:
                branch.setdefault("maxLength", limit["maxLength"])
            elif kind == "integer" and "maxLength" not in limit:
                for key, value in limit.items():
                    branch.setdefault(key, value)


def _drop_null_defaults(node: Any) -> None:
    """Remove ``default: null`` from schemas that do not allow null (server-generated ids)."""
    if isinstance(node, dict):
        if "default" in node and node["default"] is None and not _allows_null(node):
            del node["default"]
        for value in node.values():
            _drop_null_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _drop_null_defaults(value)


def _allows_null(schema: dict[str, Any]) -> bool:
    if schema.get("type") == "null" or "null" in (schema.get("type") or []):
        return True
    return any(_allows_null(s) for s in schema.get("anyOf", ()) if isinstance(s, dict))


def _column_types(model: type[Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(model)
    except Exception:
        return {}


def _is_text(annotation: Any) -> bool:
    if annotation is None:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_text(a) for a in typing.get_args(annotation) if a is not type(None))
    return annotation is str


def _param_schema(annotation: Any) -> dict[str, Any]:
    if annotation is Any or not _schema_ok(annotation):
        return {"type": "string"}
    schema: dict[str, Any] = msgspec.json.schema(annotation, schema_hook=_any_schema)
    schema.pop("$defs", None)
    return schema


def _query_param(binding: ParamBinding) -> dict[str, Any]:
    schema = _param_schema(binding.annotation)
    required = binding.default is NO_DEFAULT
    if not required:
        with contextlib.suppress(TypeError):
            schema["default"] = msgspec.to_builtins(binding.default)
    return {"in": "query", "name": binding.name, "required": required, "schema": schema}
