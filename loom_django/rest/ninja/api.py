"""The loom NinjaAPI: one router per interface, loom dispatchers as Django URL patterns."""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Sequence
from functools import partial
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, path, re_path
from ninja import NinjaAPI, Router
from ninja.constants import NOT_SET as NINJA_NOT_SET
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError
from ninja.openapi.docs import Redoc
from ninja.openapi.urls import get_openapi_urls

from loom_django.contributions import RuntimeProvider, api_extensions
from loom_django.core.errors import (
    BootstrapError,
    ConfigError,
    ErrorCode,
    InterfaceCompilationError,
)
from loom_django.rest.compiler import CompiledRoute, compile_interfaces
from loom_django.rest.config import RestConfig, load_rest_config
from loom_django.rest.constants import NOT_SET
from loom_django.rest.errors import error_body, error_detail
from loom_django.rest.model import RestApiDefaults, RestInterface
from loom_django.rest.ninja.dispatch import (
    MethodEntry,
    allowed_methods,
    build_patterns,
    catch_all,
    exclude_from_atomic_requests,
    method_not_allowed,
    not_found_view,
    without_body,
)
from loom_django.rest.ninja.views import RouteHandlers, build_handlers, error_response
from loom_django.rest.openapi import OpenAPIBuilder
from loom_django.rest.query import apply_query_policy

__all__ = [
    "LoomNinjaAPI",
    "api_failure",
    "create_api",
    "get_api",
    "reset_api",
    "runtime_provider",
    "use_runtime_provider",
]

_JSON = "application/json"
_log = logging.getLogger("loom_django.rest")
_lock = threading.Lock()
_api: LoomNinjaAPI | None = None
_failure: Exception | None = None
_provider: RuntimeProvider | None = None


def _ninja_auth(value: Any) -> Any:
    return NINJA_NOT_SET if value is NOT_SET else value


class LoomNinjaAPI(NinjaAPI):
    """A NinjaAPI whose loom operations are dispatched without per-request pydantic work."""

    def __init__(self, *, loom_config: RestConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loom_config = loom_config
        self.loom_routes: tuple[CompiledRoute, ...] = ()
        self._loom_views: dict[Any, tuple[RouteHandlers, bool]] = {}
        self._loom_components: dict[str, Any] = {}
        for exc_class in (
            Exception,
            Http404,
            HttpError,
            AuthenticationError,
            AuthorizationError,
            Throttled,
            NinjaValidationError,
        ):
            self.add_exception_handler(exc_class, self._loom_exception)  # type: ignore[arg-type]

    def _loom_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse:
        if isinstance(exc, AuthenticationError):
            status, detail = 401, error_detail("unauthorized", exc.message or "Unauthorized")
        elif isinstance(exc, Throttled):
            status, detail = 429, error_detail("throttled", exc.message)
        elif isinstance(exc, HttpError):
            code = ErrorCode.FORBIDDEN if exc.status_code == 403 else "http_error"
            status, detail = exc.status_code, error_detail(code, str(exc.message))
        elif isinstance(exc, NinjaValidationError):
            violations = [
                {
                    "field": ".".join(str(p) for p in e.get("loc", ())[1:]) or "$",
                    "message": str(e.get("msg", "")),
                }
                for e in exc.errors
            ]
            status, detail = (
                422,
                error_detail(ErrorCode.VALIDATION_ERROR, "Invalid request", violations=violations),
            )
        else:
            return error_response(exc, request)
        return HttpResponse(error_body(status, detail), status=status, content_type=_JSON)

    def get_openapi_schema(self, **kwargs: Any) -> Any:
        """ninja's document plus the msgspec component schemas of the loom routes."""
        schema = super().get_openapi_schema(**kwargs)
        schema["components"].setdefault("schemas", {}).update(self._loom_components)
        return schema

    def _get_urls(self) -> list[URLPattern | URLResolver]:
        result: list[URLPattern | URLResolver] = list(get_openapi_urls(self))
        cfg = self.loom_config
        if self.openapi_url and cfg.redoc_url:
            redoc = partial(Redoc().render_page, api=self)
            result.append(path(cfg.redoc_url.lstrip("/"), redoc, name="openapi-redoc"))
        result.extend(_metrics_patterns())
        paths: dict[str, dict[str, MethodEntry]] = {}
        foreign: list[URLPattern | URLResolver] = []
        for bound in self._get_bound_routers():
            for path_view in bound.path_operations.values():
                loom = [self._loom_views.get(op.view_func) for op in path_view.operations]
                if not all(loom):
                    foreign.extend(_foreign_patterns(bound, path_view))
                    continue
                for op, found in zip(path_view.operations, loom, strict=True):
                    assert found is not None
                    handlers, is_async = found
                    route = handlers.route
                    paths.setdefault(route.full_path, {})[route.method] = MethodEntry(
                        op, handlers, is_async
                    )
        result.extend(build_patterns(list(paths.items()), trailing_slash=cfg.trailing_slash))
        result.extend(foreign)
        result.append(path("", exclude_from_atomic_requests(not_found_view), name="api-root"))
        result.append(catch_all())
        return result

    def add_loom_routes(
        self,
        interfaces: Sequence[type[RestInterface[Any]]],
        routes: Sequence[CompiledRoute],
        runtime: Any,
    ) -> None:
        """Register one ninja router per interface and one operation per compiled route."""
        cfg = self.loom_config
        builder = OpenAPIBuilder(routes, default_limit=cfg.default_limit, max_limit=cfg.max_limit)
        self._loom_components.update(builder.components)
        self.loom_routes = tuple(routes)
        by_interface: dict[Any, list[int]] = {}
        for index, route in enumerate(routes):
            by_interface.setdefault(route.interface, []).append(index)
        for interface in interfaces:
            indexes = by_interface.get(interface)
            if not indexes:
                continue
            prefix = interface.prefix.rstrip("/")
            router = Router(tags=list(interface.tags) or None, auth=_ninja_auth(interface.auth))
            for index in indexes:
                route = routes[index]
                handlers = build_handlers(route, runtime, cfg)
                is_async = route.handler_mode == "async"
                view = _ninja_view(handlers, is_async)
                self._loom_views[view] = (handlers, is_async)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    router.add_api_operation(
                        route.route.path,
                        [route.method],
                        view,
                        auth=_ninja_auth(route.route.auth),
                        response={route.status_code: None},
                        operation_id=route.operation_id,
                        summary=route.summary or route.operation_id.replace("_", " ").capitalize(),
                        description=route.description or None,
                        tags=list(route.interface_tags) or None,
                        openapi_extra=builder.operation(index),
                        url_name=route.operation_id,
                    )
            self.add_router(prefix, router)


def _ninja_view(handlers: RouteHandlers, is_async: bool) -> Any:
    """The function ninja registers (and documents); it serves ninja's own dispatch too."""
    if is_async:
        handler = handlers.async_handler

        async def async_view(request: HttpRequest, **path: Any) -> HttpResponse:
            return await handler(request, path)

        view: Any = async_view
    else:
        sync_handler = handlers.sync_handler

        def sync_view(request: HttpRequest, **path: Any) -> HttpResponse:
            return sync_handler(request, path)

        view = sync_view
    view.__name__ = view.__qualname__ = handlers.route.operation_id
    view.__doc__ = None
    return view


def _metrics_patterns() -> list[URLPattern]:
    """The Prometheus scrape view at the YAML's ``metrics.path``, relative to the API's mount,
    when metrics are enabled (the kernel served it beside its routes)."""
    from loom_django.conf import conf
    from loom_django.core.config import metrics_settings

    try:
        metrics = metrics_settings(conf.loom_config())
    except Exception:
        return []
    if not metrics.enabled or not metrics.path.strip("/"):
        return []
    from loom_django.prometheus import metrics_view

    return [path(metrics.path.strip("/"), metrics_view, name="loom-metrics")]


def _foreign_patterns(bound: Any, path_view: Any) -> list[URLPattern]:
    from ninja.utils import normalize_path, replace_path_param_notation

    patterns = []
    for key, candidate in bound.path_operations.items():
        if candidate is path_view:
            prefix = replace_path_param_notation(bound.prefix)
            route = "/".join(i for i in (prefix, replace_path_param_notation(key)) if i)
            route = normalize_path(route).lstrip("/")
            view = _enveloped(path_view)
            patterns.append(path(route, exclude_from_atomic_requests(view)))
    return patterns


def _enveloped(path_view: Any) -> Any:
    """A plain ninja path's view with loom's method handling: HEAD follows GET and an
    undeclared method gets the JSON 405 envelope instead of ninja's plain-text one."""
    inner = path_view.get_view()
    declared = {method for op in path_view.operations for method in op.methods}
    allowed = allowed_methods(sorted(declared))

    def resolve(request: HttpRequest) -> bool | None:
        """None: not allowed; True: a HEAD served as GET; False: as declared."""
        method = request.method or ""
        if method in declared:
            return False
        if method == "HEAD" and "GET" in declared:
            request.method = "GET"
            return True
        return None

    if iscoroutinefunction(inner):

        async def async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            head = resolve(request)
            if head is None:
                return method_not_allowed(allowed)
            response = await inner(request, *args, **kwargs)
            return without_body(response) if head else response

        view: Any = async_view
    else:

        def sync_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            head = resolve(request)
            if head is None:
                return method_not_allowed(allowed)
            response = inner(request, *args, **kwargs)
            return without_body(response) if head else response

        view = sync_view
    view.__dict__.update(getattr(inner, "__dict__", {}))
    view.__name__ = view.__qualname__ = getattr(inner, "__name__", "ninja_view")
    return view


def create_api(
    *,
    interfaces: Sequence[type[RestInterface[Any]]] | None = None,
    defaults: RestApiDefaults | None = None,
    runtime: Any = None,
    config: RestConfig | None = None,
    **ninja_kwargs: Any,
) -> LoomNinjaAPI:
    """Build a NinjaAPI serving ``interfaces`` (default: the discovered ones).

    Title, version, description and the docs/OpenAPI URLs come from ``app.rest``;
    ``ninja_kwargs`` (e.g. ``auth=``, ``urls_namespace=``) are passed to ``NinjaAPI``.

    Raises:
        InterfaceCompilationError: an interface declaration is invalid.
        ConfigError: ``app.rest`` is invalid.
    """
    if runtime is None:
        runtime = runtime_provider()()
    cfg = config or load_rest_config()
    if interfaces is None:
        interfaces = runtime.discovery.interfaces
    routes = compile_interfaces(
        interfaces,
        runtime=runtime,
        defaults=defaults or cfg.defaults.to_defaults(),
        handler_mode=cfg.handler_mode,
        auto_delete_status=cfg.auto_delete_status,
        list_envelope=cfg.list_envelope,
    )
    routes = apply_query_policy(routes, cfg.query_fields)
    openapi_url = cfg.openapi_url
    kwargs: dict[str, Any] = {
        "title": cfg.title,
        "version": cfg.version,
        "description": cfg.description,
        "openapi_url": openapi_url,
        "docs_url": cfg.docs_url if openapi_url else None,
        "urls_namespace": "loom",
    }
    kwargs.update(ninja_kwargs)
    api = LoomNinjaAPI(loom_config=cfg, **kwargs)
    api.add_loom_routes(interfaces, routes, runtime)
    for extend in api_extensions():
        extend(api, runtime)
    return api


def use_runtime_provider(provider: RuntimeProvider | None) -> None:
    """The callable ``create_api`` gets the process runtime from (the REST door's ``ready``)."""
    global _provider
    _provider = provider


def runtime_provider() -> RuntimeProvider:
    """The process runtime's provider.

    Raises:
        ImproperlyConfigured: ``"loom_django"`` is not in ``INSTALLED_APPS``.
    """
    if _provider is None:
        raise ImproperlyConfigured(
            'The loom API needs the loom runtime: add "loom_django" to INSTALLED_APPS.'
        )
    return _provider


def api_failure() -> Exception | None:
    """Why the last ``get_api()`` could not build the API (shown by ``manage.py check``)."""
    return _failure


def get_api() -> LoomNinjaAPI:
    """The process-wide API, built on first call from the discovered interfaces.

    When the runtime or an interface does not compile, the error is logged and kept for
    ``manage.py check`` (``loom_django.E100``/``E500``), and an API whose every URL
    answers 500 is returned instead (not cached), so importing ``urls.py`` never hides
    the check messages behind a traceback.

    Raises:
        ImproperlyConfigured: ``"loom_django"`` is not in ``INSTALLED_APPS``.
    """
    global _api, _failure
    if _api is None:
        from loom_django.orm.mapping import require_installed

        require_installed()
        with _lock:
            if _api is None:
                try:
                    _api = create_api()
                except (BootstrapError, InterfaceCompilationError, ConfigError) as exc:
                    _failure = exc
                    _log.error("The loom API could not be built: %s", exc)
                    return _failed_api(exc)
                _failure = None
    return _api


class _FailedApi(LoomNinjaAPI):
    """Stands in for an API that could not be built: every URL raises the startup error."""

    def __init__(self, failure: Exception) -> None:
        super().__init__(
            loom_config=RestConfig(), urls_namespace="loom", openapi_url=None, docs_url=None
        )
        self.loom_failure = failure

    def _get_urls(self) -> list[URLPattern | URLResolver]:
        failure = self.loom_failure

        def failed(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            raise failure

        return [re_path(r"^.*$", failed)]


def _failed_api(exc: Exception) -> LoomNinjaAPI:
    return _FailedApi(exc)


def reset_api() -> None:
    """Forget the process-wide API (tests); the next ``get_api()`` builds a new one."""
    global _api, _failure
    with _lock:
        _api = None
        _failure = None
