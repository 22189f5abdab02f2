"""Rules, errors, the envelope and trace ids (spec/rest.md criteria 41-46)."""

from __future__ import annotations

import logging
import re

import pytest

from tests.rest.conftest import body

pytestmark = pytest.mark.django_db
JSON = "application/json"


def test_two_rule_violations_are_listed_in_order(client):
    response = client.post("/customers/", {"name": "  ", "email": "nope"}, content_type=JSON)
    assert response.status_code == 422
    detail = body(response)["detail"]
    assert detail["code"] == "rule_violations"
    assert detail["violations"] == [
        {"field": "name", "message": "name must not be blank"},
        {"field": "email", "message": "email must be valid"},
    ]
    assert detail["message"] == "name: name must not be blank; email: email must be valid"


def test_empty_patch_refused_by_rule_is_422(client):
    customer = body(
        client.post("/customers/", {"name": "Ann", "email": "ann@example.com"}, content_type=JSON)
    )
    response = client.patch(f"/customers/{customer['id']}", {}, content_type=JSON)
    assert response.status_code == 422
    assert body(response)["detail"]["code"] == "rule_violations"


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("forbidden", 403, "forbidden"),
        ("conflict", 409, "conflict"),
        ("system", 500, "system_error"),
    ],
)
def test_domain_errors_map_to_statuses(client, kind, status, code):
    response = client.get(f"/products/fail/{kind}")
    assert response.status_code == status
    assert body(response)["detail"]["code"] == code


def test_unexpected_error_is_500_without_details_and_logged(client, caplog):
    with caplog.at_level(logging.ERROR, logger="loom_django.rest"):
        response = client.get("/products/fail/boom")
    assert response.status_code == 500
    assert b"secret detail" not in response.content
    detail = body(response)["detail"]
    assert detail["code"] == "internal_error"
    assert detail["message"] == "An unexpected error occurred"
    assert detail["trace_id"]
    records = [r for r in caplog.records if r.name == "loom_django.rest" and r.exc_info]
    assert records and "secret detail" in str(records[0].exc_info[1])


def test_unexpected_error_reaches_got_request_exception(client):
    from django.core.signals import got_request_exception

    seen = []

    def receiver(**kwargs):
        seen.append(kwargs)

    got_request_exception.connect(receiver)
    try:
        client.get("/products/fail/boom")
    finally:
        got_request_exception.disconnect(receiver)
    assert seen


@pytest.mark.parametrize(
    ("method", "url", "payload", "status"),
    [
        ("get", "/products/?direction=x", None, 400),
        ("get", "/products/fail/forbidden", None, 403),
        ("get", "/products/999", None, 404),
        ("put", "/products/1", None, 405),
        ("get", "/products/fail/conflict", None, 409),
        ("get", "/products/abc", None, 422),
        ("get", "/products/fail/boom", None, 500),
    ],
)
def test_every_error_uses_the_json_envelope(client, method, url, payload, status):
    response = getattr(client, method)(url)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    detail = body(response)["detail"]
    assert {"code", "message", "trace_id"} <= set(detail)


def test_request_id_is_echoed_and_used_in_errors(client):
    response = client.get("/products/999", HTTP_X_REQUEST_ID="abc123")
    assert response["X-Request-ID"] == "abc123"
    assert body(response)["detail"]["trace_id"] == "abc123"


def test_generated_request_id_is_32_hex(client):
    response = client.get("/products/999")
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
    assert body(response)["detail"]["trace_id"] == response["X-Request-ID"]
