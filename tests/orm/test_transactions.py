"""Executions are Django transactions (criteria 36–39; core §7.2; rest §9.3), via the runtime."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.core.handlers.base import BaseHandler
from django.db import connection, connections
from django.http import HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from loom_django.core.errors import Conflict
from loom_django.orm import RepositoryDjango
from tests.testapp.models import Product, Review

from . import use_cases as uc
from .conftest import make_product


@pytest.fixture(autouse=True)
def _clear_events():
    uc.EVENTS.clear()
    yield
    uc.EVENTS.clear()


async def close_worker_connections() -> None:
    """Close the connection Django opened in the thread-sensitive worker thread."""
    await sync_to_async(connections.close_all, thread_sensitive=True)()


def skus() -> list[str]:
    return sorted(Product.__django_model__.objects.values_list("sku", flat=True))


@pytest.mark.django_db(transaction=True)
def test_use_case_that_writes_then_raises_leaves_no_row(runtime):
    with pytest.raises(RuntimeError, match="failed after writing"):
        runtime.invoke_sync(uc.CreateThenFail, payload={"sku": "gone"})
    assert skus() == []
    assert uc.EVENTS == []


@pytest.mark.django_db(transaction=True)
def test_sync_execute_using_the_orm_directly_is_rolled_back_too(runtime):
    with pytest.raises(RuntimeError, match="sync failure"):
        runtime.invoke_sync(uc.SyncCreateThenFail, payload={"sku": "gone"})
    assert skus() == []


@pytest.mark.django_db(transaction=True)
def test_two_writes_commit_together_in_one_transaction(runtime):
    assert runtime.invoke_sync(uc.CreateTwoProducts, payload={"sku": "pair"}) is True
    assert skus() == ["pair-a", "pair-b"]


@pytest.mark.django_db(transaction=True)
def test_outer_failure_rolls_back_the_inner_write(runtime):
    with pytest.raises(RuntimeError, match="outer failed"):
        runtime.invoke_sync(uc.OuterFailsAfterInner, payload={"sku": "x"})
    assert skus() == []
    assert uc.EVENTS == ["inner returned"]


@pytest.mark.django_db(transaction=True)
def test_inner_failure_caught_by_the_outer_undoes_only_the_inner_writes(runtime):
    assert runtime.invoke_sync(uc.OuterCatchesInner, payload={"sku": "s"}) == "ok"
    assert skus() == ["s-kept", "s-outer"]
    assert uc.EVENTS == ["committed s-kept"]


@pytest.mark.django_db(transaction=True)
def test_read_only_use_case_opens_no_transaction(runtime):
    assert runtime.invoke_sync(uc.ReadOnlyInTransaction) is False
    assert runtime.invoke_sync(uc.InTransaction) is True


@pytest.mark.django_db(transaction=True)
def test_read_only_at_the_call_site_opens_no_transaction(runtime):
    instance = runtime.factory.build(uc.InTransaction)
    assert runtime.executor.execute_sync(instance, read_only=True) is False


@pytest.mark.django_db(transaction=True)
def test_after_commit_work_runs_only_after_the_outermost_commit(runtime):
    assert runtime.invoke_sync(uc.OuterObserves, payload={"sku": "n"}) == []
    assert uc.EVENTS == ["committed n"]


@pytest.mark.django_db(transaction=True)
def test_job_dispatch_is_sent_after_commit_and_dropped_on_rollback(runtime):
    runtime.invoke_sync(uc.DispatchJob, payload={"sku": "ok"})
    assert uc.EVENTS == ["dispatched ok", "job ok"]
    uc.EVENTS.clear()
    with pytest.raises(RuntimeError, match="dispatcher failed"):
        runtime.invoke_sync(uc.DispatchJob, payload={"sku": "fail"})
    assert uc.EVENTS == ["dispatched fail"]


@pytest.mark.django_db(transaction=True)
def test_foreign_key_violation_at_commit_is_a_conflict(runtime):
    with pytest.raises(Conflict, match="A referenced entity does not exist"):
        runtime.invoke_sync(uc.ReviewMissingProduct, payload={"product_id": 987654})
    assert Review.__django_model__.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_connection_is_usable_after_a_failed_execution(runtime):
    with pytest.raises(Conflict):
        runtime.invoke_sync(uc.ReviewMissingProduct, payload={"product_id": 987654})
    assert not connection.in_atomic_block
    created = runtime.invoke_sync(uc.CreateProduct, payload={"sku": "after"})
    assert created.sku == "after" and skus() == ["after"]


@pytest.mark.django_db
def test_foreign_key_violation_inside_an_enclosing_transaction_is_a_conflict(runtime):
    assert connection.in_atomic_block
    with pytest.raises(Conflict, match="A referenced entity does not exist"):
        runtime.invoke_sync(uc.ReviewMissingProduct, payload={"product_id": 987654})
    assert Review.__django_model__.objects.count() == 0
    assert runtime.invoke_sync(uc.CreateProduct, payload={"sku": "still"}).sku == "still"


@pytest.mark.django_db
def test_execution_inside_a_test_case_transaction_is_a_savepoint(runtime):
    with pytest.raises(RuntimeError):
        runtime.invoke_sync(uc.CreateThenFail, payload={"sku": "gone"})
    runtime.invoke_sync(uc.CreateProduct, payload={"sku": "kept"})
    assert skus() == ["kept"]


@pytest.mark.django_db(transaction=True)
def test_executions_work_under_atomic_requests(runtime, monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)

    def view(request):
        sku = request.GET["sku"]
        runtime.invoke_sync(uc.CreateProduct, payload={"sku": sku})
        if sku == "fail":
            raise RuntimeError("view failed")
        return HttpResponse("ok")

    atomic_view = BaseHandler().make_view_atomic(view)
    factory = RequestFactory()
    assert atomic_view(factory.get("/", {"sku": "ok"})).content == b"ok"
    with pytest.raises(RuntimeError, match="view failed"):
        atomic_view(factory.get("/", {"sku": "fail"}))
    assert skus() == ["ok"]
    assert uc.EVENTS == ["committed ok"]


@pytest.mark.django_db(transaction=True)
def test_async_callers_await_executions_in_one_transaction(runtime):
    async def main():
        created = await runtime.executor.execute(
            runtime.factory.build(uc.CreateProduct), payload={"sku": "async"}
        )
        with pytest.raises(RuntimeError):
            await runtime.executor.execute(
                runtime.factory.build(uc.CreateThenFail), payload={"sku": "gone"}
            )
        await close_worker_connections()
        return created

    assert asyncio.run(main()).sku == "async"
    assert skus() == ["async"]


@pytest.mark.django_db(transaction=True)
def test_repository_awaited_from_a_running_loop_runs_in_a_worker_thread():
    products = RepositoryDjango(Product)
    product = make_product(products, "loop")

    async def main():
        found = await products.get_by_id(product.id), await products.count()
        await close_worker_connections()
        return found

    assert asyncio.run(main()) == (product, 1)


def statements(captured: CaptureQueriesContext) -> list[str]:
    """Captured SQL without transaction control (Django logs BEGIN/COMMIT/SAVEPOINT too)."""
    control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(control)]


@pytest.mark.django_db(transaction=True)
def test_auto_update_is_one_update_returning_statement(runtime):
    product = make_product(RepositoryDjango(Product), "patch")
    update = runtime.crud[Product]["update"]
    with CaptureQueriesContext(connection) as captured:
        updated = runtime.invoke_sync(update, params={"id": product.id}, payload={"stock": 80})
    assert updated.stock == 80
    [sql] = [q["sql"] for q in captured.captured_queries]
    assert sql.startswith("UPDATE") and "RETURNING" in sql


@pytest.mark.django_db(transaction=True)
def test_auto_get_and_create_cost_one_statement_each(runtime):
    with CaptureQueriesContext(connection) as captured:
        created = runtime.invoke_sync(
            runtime.crud[Product]["create"],
            payload={"sku": "one", "name": "n", "price_cents": 1, "stock": 1},
        )
    [insert] = statements(captured)
    assert insert.startswith("INSERT") and "RETURNING" in insert
    with CaptureQueriesContext(connection) as captured:
        found = runtime.invoke_sync(runtime.crud[Product]["get"], params={"id": created.id})
    assert found == created
    [select] = [q["sql"] for q in captured.captured_queries]
    assert select.startswith("SELECT")


@pytest.mark.django_db
def test_awaiting_the_async_orm_inside_an_execution_is_refused(runtime):
    from loom_django.core.engine.driver import EventLoopRequired

    with pytest.raises(EventLoopRequired, match="synchronous Django ORM"):
        runtime.invoke_sync(uc.AwaitsAsyncOrm)
