"""Multiple databases (issue 10 item 10): the alias is configurable and router-aware, and
writes on any alias commit, roll back and release jobs with the execution."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connections

from loom_django.orm.databases import ambient_alias, db_for_write
from loom_django.orm.integration import DjangoDefaultRepositoryBuilder
from loom_django.runtime import get_runtime, reset_runtime
from tests.testapp.models import Product

from . import use_cases as uc

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "other"])


class ProductsOnOther:
    """Routes the test app's products to the ``other`` database."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return self.db_for_write(model)

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return "other" if model is Product.__django_model__ else None


@pytest.fixture(autouse=True)
def _clear_events():
    uc.EVENTS.clear()
    yield
    uc.EVENTS.clear()


def _skus(alias: str) -> list[str]:
    manager = Product.__django_model__.objects.using(alias)
    return sorted(manager.values_list("sku", flat=True))


@pytest.fixture
def runtime_on(settings: Any):
    def build(*, database: str | None = None, routers: list[str] | None = None) -> Any:
        loom: dict[str, Any] = {
            "CONFIG": {
                "app": {
                    "discovery": {
                        "mode": "modules",
                        "modules": {"include": ["tests.orm.use_cases"]},
                    }
                }
            }
        }
        if database is not None:
            loom["DATABASE"] = database
        settings.LOOM = loom
        settings.DATABASE_ROUTERS = routers or []
        reset_runtime()
        return get_runtime()

    yield build
    reset_runtime()


def test_default_repositories_follow_the_database_routers(runtime_on):
    runtime_on(routers=[f"{__name__}.ProductsOnOther"])
    assert db_for_write(Product.__django_model__) == "other"
    assert DjangoDefaultRepositoryBuilder().build(Product).using == "other"
    assert runtime_on().invoke_sync(uc.CreateTwoProducts, payload={"sku": "d"}) is True
    assert _skus("default") == ["d-a", "d-b"]


def test_a_use_case_runs_on_the_routed_database(runtime_on):
    runtime = runtime_on(routers=[f"{__name__}.ProductsOnOther"])
    runtime.invoke_sync(uc.CreateTwoProducts, payload={"sku": "pair"})
    assert _skus("other") == ["pair-a", "pair-b"]
    assert _skus("default") == []
    with pytest.raises(RuntimeError, match="failed after writing"):
        runtime.invoke_sync(uc.CreateThenFail, payload={"sku": "gone"})
    assert _skus("other") == ["pair-a", "pair-b"]
    assert uc.EVENTS == []


def test_a_write_on_another_alias_joins_the_execution_and_rolls_back_with_it(runtime_on):
    runtime = runtime_on()
    with pytest.raises(RuntimeError, match="failed after writing on other"):
        runtime.invoke_sync(uc.CreateOnOtherThenFail, payload={"sku": "gone"})
    assert _skus("other") == []
    assert uc.EVENTS == []


def test_jobs_wait_for_the_commit_of_the_other_alias(runtime_on):
    runtime = runtime_on()
    assert runtime.invoke_sync(uc.CreateOnOther, payload={"sku": "kept"}) is True
    assert _skus("other") == ["kept"]
    assert uc.EVENTS == ["committed kept"]


def test_the_unit_of_work_opens_on_the_configured_alias(runtime_on):
    runtime = runtime_on(database="other", routers=[f"{__name__}.ProductsOnOther"])
    assert runtime.invoke_sync(uc.CreateOnOther, payload={"sku": "x"}) is True
    assert _skus("other") == ["x"]
    assert uc.EVENTS == ["committed x"]


def test_after_commit_work_outside_executions_waits_for_the_open_transaction(runtime_on):
    from django.db import transaction

    from loom_django.core.uow import run_after_commit

    runtime_on()
    assert ambient_alias() is None
    with transaction.atomic(using="other"):
        assert ambient_alias() == "other"
        run_after_commit(lambda: uc.EVENTS.append("after other"))
        assert uc.EVENTS == []
    assert uc.EVENTS == ["after other"]
    assert not connections["other"].in_atomic_block
