"""Fixtures of the REST tests: the test URLconf, trace middleware, API factories."""

from __future__ import annotations

import itertools
import types
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from django.test import Client
from django.urls import clear_url_caches, path

from loom_django.rest.config import RestConfig
from loom_django.rest.ninja import create_api, reset_api

MIDDLEWARE = [
    "loom_django.middleware.TraceIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
_names = itertools.count()


@pytest.fixture(autouse=True)
def rest_urls(settings: Any) -> Iterator[None]:
    """Serve the discovered interfaces (``tests.rest.urls``) behind the trace middleware."""
    settings.MIDDLEWARE = MIDDLEWARE
    settings.ROOT_URLCONF = "tests.rest.urls"
    clear_url_caches()
    yield
    clear_url_caches()


@pytest.fixture(scope="session", autouse=True)
def _fresh_api() -> Iterator[None]:
    reset_api()
    yield
    reset_api()


@pytest.fixture
def client() -> Client:
    """A Django test client (the full middleware and URL resolver stack)."""
    return Client(raise_request_exception=False)


@pytest.fixture
def serve(settings: Any) -> Callable[..., Client]:
    """Build an API from ``interfaces`` with a config and serve it at the root."""

    def build(
        interfaces: Sequence[type[Any]], config: RestConfig | None = None, prefix: str = ""
    ) -> Client:
        api = create_api(
            interfaces=interfaces,
            config=config or RestConfig(),
            urls_namespace=f"loom-test-{next(_names)}",
        )
        module = types.ModuleType(f"rest_test_urls_{next(_names)}")
        module.urlpatterns = [path(prefix, api.urls)]  # type: ignore[attr-defined]
        settings.ROOT_URLCONF = module
        clear_url_caches()
        return Client(raise_request_exception=False)

    return build


def body(response: Any) -> Any:
    """The decoded JSON body of a response."""
    import json

    return json.loads(response.content)
