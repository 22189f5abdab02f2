"""Issue 11 item 6: kernel habits that keep working (snake_case list envelopes, metrics.path)."""

from __future__ import annotations

import pytest

from loom_django.rest.config import RestConfig
from tests.rest.conftest import body

JSON = "application/json"


@pytest.mark.django_db
def test_snake_case_list_envelope_option(serve):
    from tests.restapp.interfaces import ProductInterface

    client = serve([ProductInterface], RestConfig(list_envelope="snake"))
    reply = client.get("/products/?limit=1")
    assert reply.status_code == 200
    envelope = body(reply)
    assert {"items", "total_count", "has_next"} <= set(envelope)
    assert "totalCount" not in envelope and "hasNext" not in envelope
    schema = body(client.get("/openapi.json"))
    ok = str(schema["paths"]["/products/"]["get"]["responses"]["200"])
    assert "Snake" in ok


@pytest.mark.django_db
def test_list_envelope_is_camel_case_by_default(serve):
    from tests.restapp.interfaces import ProductInterface

    envelope = body(serve([ProductInterface]).get("/products/?limit=1"))
    assert "totalCount" in envelope and "total_count" not in envelope


def test_metrics_path_from_the_yaml_is_mounted(serve, settings):
    pytest.importorskip("prometheus_client")
    from tests.restapp.interfaces import ProductInterface

    settings.LOOM = {"CONFIG": {"metrics": {"enabled": True, "path": "/metrics"}}}
    reply = serve([ProductInterface]).get("/metrics")
    assert reply.status_code == 200
    assert reply["Content-Type"].startswith("text/plain")


def test_metrics_are_not_mounted_when_disabled(serve):
    from tests.restapp.interfaces import ProductInterface

    assert serve([ProductInterface]).get("/metrics").status_code == 404
