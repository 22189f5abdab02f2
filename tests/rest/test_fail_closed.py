"""A safeguard that cannot be set up stops startup instead of being switched off
(issue 10 item 9)."""

from __future__ import annotations

import pytest

import loom_django.core.model as model_module
import loom_django.rest.ninja.views as views
import loom_django.rest.openapi as openapi
from loom_django.core.errors import InterfaceCompilationError
from loom_django.rest.config import RestConfig
from loom_django.rest.ninja import get_api
from loom_django.rest.query import FieldCatalog
from tests.restapp.models import RestProduct


def _broken(*args, **kwargs):
    raise NameError("name 'Undefined' is not defined")


def test_unreadable_internal_fields_stop_startup(monkeypatch):
    route = next(r for r in get_api().loom_routes if r.plan.input_binding is not None)
    monkeypatch.setattr(views, "get_internal_fields", _broken)
    with pytest.raises(InterfaceCompilationError, match="Internal/Computed fields"):
        views.build_handlers(route, runtime=None, config=RestConfig())  # type: ignore[arg-type]


def test_unreadable_model_columns_stop_startup(monkeypatch):
    monkeypatch.setattr(model_module, "get_column_fields", _broken)
    with pytest.raises(InterfaceCompilationError, match="cannot be read for list filtering"):
        FieldCatalog.for_model(RestProduct)


def test_unreadable_request_schema_fields_propagate(monkeypatch):
    class Probe:
        pass

    monkeypatch.setattr(openapi, "get_internal_fields", _broken)
    with pytest.raises(NameError):
        openapi.request_struct_for(Probe)
