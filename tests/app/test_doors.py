"""The door seam: the hub's contract, the missing-extra helper and the runtime provider."""

from __future__ import annotations

import sys
import types

import pytest

from loom_django import doors
from loom_django.contributions import api_extensions
from loom_django.core.errors import MissingDependency
from loom_django.extras import is_missing_extra, require


def test_the_installed_doors_in_order():
    assert [door.name for door in doors.installed_doors()] == [
        "orm",
        "celery",
        "rest",
        "etl",
        "streaming",
    ]


def test_every_door_exposes_the_contract():
    for door in doors.installed_doors():
        module = door.module
        assert isinstance(module.REQUIRES, tuple)
        assert isinstance(module.EXTRA, str)
        assert all(callable(check) for check in door.checks), door.name


def test_a_door_whose_packages_are_missing_is_skipped(monkeypatch):
    fake = types.ModuleType("loom_django.orm.fake_door")
    fake.REQUIRES = ("surely_not_installed_pkg",)
    fake.EXTRA = "fake"
    monkeypatch.setitem(sys.modules, "loom_django.orm.fake_door", fake)
    monkeypatch.setattr(doors, "DOORS", ("loom_django.orm.door", "loom_django.orm.fake_door"))
    assert [door.name for door in doors.installed_doors()] == ["orm"]


def test_require_names_the_package_and_the_extra():
    with pytest.raises(MissingDependency, match="'surely_not_installed_pkg'.*'etl' extra") as info:
        require("surely_not_installed_pkg", extra="etl")
    assert (info.value.package, info.value.extra) == ("surely_not_installed_pkg", "etl")


def test_is_missing_extra_tells_an_absent_extra_from_a_bug():
    exc = ModuleNotFoundError("No module named 'kombu.transport'", name="kombu.transport")
    assert is_missing_extra(exc, ("celery", "kombu"))
    assert not is_missing_extra(ModuleNotFoundError("x", name="kombucha"), ("kombu",))


def test_the_jobs_door_extends_the_api_without_the_rest_door_naming_it():
    from loom_django.celery.door import extend_api

    assert extend_api in api_extensions()


def test_the_runtime_is_a_field_with_what_discovery_found():
    from loom_django.runtime import get_runtime

    runtime = get_runtime()
    assert "discovery" in type(runtime).__dataclass_fields__
    assert runtime.discovery.interfaces


def test_the_api_without_loom_django_installed_says_so():
    from django.core.exceptions import ImproperlyConfigured

    from loom_django.rest.ninja import api

    saved = api.runtime_provider()
    api.use_runtime_provider(None)
    try:
        with pytest.raises(ImproperlyConfigured, match='add "loom_django" to INSTALLED_APPS'):
            api.create_api()
    finally:
        api.use_runtime_provider(saved)
