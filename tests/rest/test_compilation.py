"""Startup errors of interface compilation (spec/rest.md §1.4, criteria 4-6)."""

from __future__ import annotations

from typing import Any

import pytest

from loom_django.core.errors import InterfaceCompilationError
from loom_django.core.use_case.use_case import UseCase
from loom_django.rest.autocrud import build_auto_routes
from loom_django.rest.config import RestConfig
from loom_django.rest.model import RestInterface, RestRoute
from loom_django.rest.ninja import create_api
from tests.restapp.models import RestProduct


def _build(*interfaces: type[Any]) -> Any:
    return create_api(interfaces=interfaces, config=RestConfig(), urls_namespace="compile")


def test_empty_prefix_fails():
    class NoPrefix(RestInterface[RestProduct]):
        prefix = ""
        auto = True

    with pytest.raises(InterfaceCompilationError, match="'prefix' must be a non-empty string"):
        _build(NoPrefix)


def test_no_routes_fails():
    class Empty(RestInterface[RestProduct]):
        prefix = "/empty"

    with pytest.raises(InterfaceCompilationError, match="'routes' is empty"):
        _build(Empty)


def test_duplicate_route_in_one_interface_fails():
    get = build_auto_routes(RestProduct, ("get",))[0]

    class Twice(RestInterface[RestProduct]):
        prefix = "/twice"
        routes = (get, get)

    with pytest.raises(InterfaceCompilationError, match=r"duplicate route \(GET, '/\{id\}'\)"):
        _build(Twice)


def test_same_route_in_two_interfaces_fails():
    class One(RestInterface[RestProduct]):
        prefix = "/same"
        auto = True
        include = ("get",)

    class Two(RestInterface[RestProduct]):
        prefix = "/same/"
        auto = True
        include = ("get",)

    with pytest.raises(InterfaceCompilationError, match="also declared by"):
        _build(One, Two)


def test_profile_exposure_without_allowed_profiles_fails():
    class Exposed(RestInterface[RestProduct]):
        prefix = "/exposed"
        auto = True
        expose_profile = True

    with pytest.raises(InterfaceCompilationError, match="profile exposure enabled but no allowed"):
        _build(Exposed)


def test_route_without_method_fails():
    use_case = build_auto_routes(RestProduct, ("get",))[0].use_case

    class NoMethod(RestInterface[RestProduct]):
        prefix = "/nomethod"
        routes = (RestRoute(use_case=use_case, path="/{id}"),)

    with pytest.raises(InterfaceCompilationError, match="is missing 'method'"):
        _build(NoMethod)


def test_path_must_start_with_slash():
    use_case = build_auto_routes(RestProduct, ("get",))[0].use_case

    class NoSlash(RestInterface[RestProduct]):
        prefix = "/noslash"
        routes = (RestRoute(use_case=use_case, method="GET", path="{id}"),)

    with pytest.raises(InterfaceCompilationError, match="must start with '/'"):
        _build(NoSlash)


def test_unknown_include_name_fails_at_compilation():
    class Bad(RestInterface[RestProduct]):
        prefix = "/bad"
        auto = True
        include = ("get", "explode")

    with pytest.raises(InterfaceCompilationError, match="Bad: unknown auto-CRUD operation"):
        _build(Bad)


def test_declaring_an_auto_interface_generates_nothing():
    class Lazy(RestInterface[RestProduct]):
        prefix = "/lazy"
        auto = True

    assert Lazy.routes == ()


def test_unknown_allowed_profile_fails():
    class Unknown(RestInterface[RestProduct]):
        prefix = "/unknown-profile"
        auto = True
        allowed_profiles = ("default", "nope")

    with pytest.raises(InterfaceCompilationError, match="'nope' are not defined"):
        _build(Unknown)


def test_non_scalar_path_parameter_fails():
    class ListParam(UseCase[RestProduct, int]):
        async def execute(self, ids: list[int]) -> int:
            return len(ids)

    class Listy(RestInterface[RestProduct]):
        prefix = "/listy"
        routes = (RestRoute(use_case=ListParam, method="GET", path="/{ids}"),)

    with pytest.raises(InterfaceCompilationError, match="must be scalar"):
        _build(Listy)


def test_uncompilable_use_case_is_reported():
    class Broken(UseCase[RestProduct, int]):
        async def execute(self, a: int = 1, *, b: Any = None) -> int:  # noqa: ARG002
            return 1

    Broken.execute.__loom_abstract__ = True  # type: ignore[attr-defined]

    class Uses(RestInterface[RestProduct]):
        prefix = "/broken"
        routes = (RestRoute(use_case=Broken, method="GET", path="/"),)

    with pytest.raises(InterfaceCompilationError, match="which has not been compiled"):
        _build(Uses)


def test_unused_path_parameter_is_a_startup_error():
    class NoParam(UseCase[RestProduct, int]):
        async def execute(self) -> int:
            return 1

    class Unused(RestInterface[RestProduct]):
        prefix = "/unused"
        routes = (RestRoute(use_case=NoParam, method="GET", path="/{thing}"),)

    with pytest.raises(InterfaceCompilationError, match="'{thing}' matches no parameter"):
        _build(Unused)


def test_camel_case_placeholder_is_a_startup_error_with_the_snake_case_hint():
    class GetBook(UseCase[RestProduct, int]):
        async def execute(self, book_id: int) -> int:
            return book_id

    class Books(RestInterface[RestProduct]):
        prefix = "/books"
        routes = (RestRoute(use_case=GetBook, method="GET", path="/{bookId}"),)

    with pytest.raises(InterfaceCompilationError) as excinfo:
        _build(Books)
    assert "Books: route (GET, '/{bookId}')" in str(excinfo.value)
    assert "snake_case name: '{book_id}'" in str(excinfo.value)


def test_unknown_http_method_is_a_startup_error():
    class Noop(UseCase[RestProduct, int]):
        async def execute(self) -> int:
            return 1

    class Typo(RestInterface[RestProduct]):
        prefix = "/typo"
        routes = (RestRoute(use_case=Noop, method="PSOT", path="/"),)

    with pytest.raises(InterfaceCompilationError, match="method 'PSOT'; expected one of GET"):
        _build(Typo)
