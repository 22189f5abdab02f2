"""``app.rest.query_fields: declared`` makes filtering and sorting deny-by-default."""

from __future__ import annotations

import pytest

from loom_django.rest.config import RestConfig
from tests.rest.conftest import body
from tests.restapp.interfaces import AllowlistProductInterface, CursorProductInterface

pytestmark = pytest.mark.django_db


def test_undeclared_fields_are_refused_when_declared_is_the_policy(serve):
    client = serve(
        [CursorProductInterface, AllowlistProductInterface],
        RestConfig(query_fields="declared"),
    )
    for query in ("stock=1", "sort=stock", "name__ilike=a%25"):
        response = client.get(f"/cursor-products/?{query}")
        assert response.status_code == 400, query
        assert "not allowed" in body(response)["detail"]["message"]
    assert client.get("/cursor-products/").status_code == 200
    assert client.get("/allowlist-products/?stock=1&sort=stock").status_code == 200
    assert client.get("/allowlist-products/?name=a").status_code == 400


def test_all_fields_stay_open_by_default(serve):
    client = serve([CursorProductInterface], RestConfig())
    assert client.get("/cursor-products/?stock=1&sort=stock").status_code == 200
