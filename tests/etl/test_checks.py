"""System checks of the ETL door and the door's ``ready`` (spec §9.11, §12 item 31)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.checks import run_checks

from loom_django.etl import door
from loom_django.etl.checks import E_COMPILE, E_CONFIG, E_DUPLICATE, check_config
from loom_django.etl.registry import Registry, registry

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh_registry(settings) -> Iterator[Registry]:
    saved = dict(vars(registry))
    settings.LOOM = {"ETL_AUTODISCOVER": False, "ETL_PIPELINES": ["tests.etl.bad_pipelines"]}
    for name, value in vars(Registry()).items():
        setattr(registry, name, value)
    yield registry
    vars(registry).update(saved)


def test_a_pipeline_that_fails_to_compile_is_e302_with_the_code_in_the_hint(fresh_registry):
    door.ready(lambda: None)
    messages = [m for m in run_checks(databases=["default"]) if m.id == E_COMPILE]
    assert messages and "MISSING_TARGET" in messages[0].hint


def test_duplicate_pipeline_names_are_e301(fresh_registry):
    door.ready(lambda: None)
    assert [m.id for m in run_checks(databases=["default"]) if m.id == E_DUPLICATE] == [E_DUPLICATE]


def test_invalid_etl_config_is_e303(fresh_registry, settings):
    settings.LOOM = {"CONFIG": {"etl": {"enigne": "polars"}}}
    door.ready(lambda: None)
    messages = check_config()
    assert [m.id for m in messages] == [E_CONFIG] and "enigne" in messages[0].msg


def test_door_module_declares_the_contract():
    assert door.REQUIRES == ("polars",) and door.EXTRA == "etl"
    assert len(door.CHECKS) == 3
