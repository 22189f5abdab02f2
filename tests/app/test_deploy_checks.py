"""``manage.py check --deploy`` gains loom's security checks (issue 10 item 8)."""

from __future__ import annotations

import pytest
from django.core import checks
from django.urls import clear_url_caches

from loom_django.rest import deploy_checks as rest_checks
from loom_django.rest.ninja import reset_api


@pytest.fixture
def fresh_api(settings):
    settings.ROOT_URLCONF = "tests.rest.urls"
    reset_api()
    clear_url_caches()
    yield
    reset_api()
    clear_url_caches()


def _ids(messages):
    return [m.id for m in messages]


def test_the_checks_are_registered_for_deploy_only():
    deploy = checks.registry.registry.get_checks(include_deployment_checks=True)
    plain = checks.registry.registry.get_checks(include_deployment_checks=False)
    names = {getattr(c, "__name__", "") for c in deploy} - {
        getattr(c, "__name__", "") for c in plain
    }
    assert {
        "check_open_queries",
        "check_permission_only",
        "check_cursor_key",
        "check_status_route",
        "check_result_content",
    } <= names


def test_open_filters_and_sorts_are_reported_per_interface_with_a_hint(fresh_api):
    messages = rest_checks.check_open_queries()
    assert rest_checks.W501 in _ids(messages)
    assert rest_checks.W502 in _ids(messages)
    by_obj = {(m.id, m.obj) for m in messages}
    assert ("loom_django.W501", "AllowlistProductInterface") not in by_obj
    assert ("loom_django.W502", "AllowlistProductInterface") not in by_obj
    assert ("loom_django.W501", "CursorProductInterface") in by_obj
    assert all(m.hint and "query_fields" in m.hint for m in messages)


def test_declared_query_fields_silence_the_open_query_warnings(fresh_api, settings):
    settings.LOOM = {"CONFIG": {"app": {"rest": {"query_fields": "declared"}}}}
    reset_api()
    assert rest_checks.check_open_queries() == []


def test_permission_only_interfaces_are_reported(fresh_api):
    from loom_django.rest.model import RestInterface
    from loom_django.rest.ninja import create_api
    from tests.restapp.models import RestProduct

    class PermissionOnly(RestInterface[RestProduct]):
        prefix = "/perm-only"
        auto = True
        include = ("get",)
        permissions = ("restapp.view_restproduct",)

    api = create_api(interfaces=[PermissionOnly], urls_namespace="perm-only-check")
    import loom_django.rest.ninja.api as module

    module._api = api
    messages = rest_checks.check_permission_only()
    assert _ids(messages) == [rest_checks.W503]
    assert messages[0].obj.endswith("PermissionOnly")
    assert "auth=" in messages[0].hint


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("", ["loom_django.E504"]),
        ("short", ["loom_django.W504"]),
        ("django-insecure-" + "x" * 60, ["loom_django.W504"]),
        ("ab" * 40, ["loom_django.W504"]),
        ("k7#Qp2!vZ9@mL4$wR8^tY1&uI6*oP3(aS5)dF0_gH-jK=lX+cV", []),
    ],
)
def test_a_missing_or_weak_cursor_key_is_reported(settings, key, expected):
    settings.SECRET_KEY = key
    assert _ids(rest_checks.check_cursor_key()) == expected


def test_public_job_status_route_and_pickled_results_are_reported(settings):
    from celery import Celery

    from loom_django.celery import deploy_checks as job_checks
    from loom_django.celery.appref import bind_celery_app

    settings.LOOM = {"CONFIG": {"app": {"jobs": {"backend": "celery"}}}}
    assert _ids(job_checks.check_status_route()) == [job_checks.W510]
    settings.LOOM = {
        "CONFIG": {"app": {"jobs": {"backend": "celery", "status_route": {"auth": "x.Y"}}}}
    }
    assert job_checks.check_status_route() == []
    app = Celery("deploy", set_as_current=False)
    app.conf.result_serializer = "pickle"
    bind_celery_app(app)
    try:
        assert _ids(job_checks.check_result_content()) == [job_checks.W511]
        app.conf.result_serializer = "json"
        app.conf.accept_content = ["json"]
        assert job_checks.check_result_content() == []
    finally:
        bind_celery_app(None)
