"""Every use case, command, rule, compute, job and callback of seeds 000/001 compiles and runs."""

from __future__ import annotations

import asyncio

import pytest

from loom_django.core.errors import NotFound, RuleViolations
from loom_django.core.repository.abc.query import PageResult, QuerySpec
from loom_django.testing import build_test_runtime, captured_dispatches
from tests.core import seed_app as app


@pytest.fixture
def runtime():
    app.FAILURES.clear()
    return build_test_runtime(
        models=app.MODELS, use_cases=app.USE_CASES, jobs=app.JOBS, callbacks=app.CALLBACKS
    )


def repo(runtime, model):
    return runtime.container.resolve_repo(model)


def create_product(runtime, **overrides):
    payload = {
        "sku": "SKU-1",
        "name": "Keyboard",
        "category": "peripherals",
        "price_cents": 9900,
        "stock": 10,
        **overrides,
    }
    return runtime.invoke_sync(app.CreateProductUseCase, payload=payload)


def test_every_seed_class_compiles(runtime):
    for cls in [*app.USE_CASES, *app.JOBS]:
        assert runtime.compiler.get_plan(cls) is not None


def test_create_user_use_case_creates_the_user(runtime):
    user = runtime.invoke_sync(
        app.CreateUserUseCase, payload={"fullName": "Ada Lovelace", "email": "ada@example.com"}
    )
    assert user.id == 1
    assert user.full_name == "Ada Lovelace"
    assert user.created_at is not None


def test_create_user_use_case_reports_every_rule(runtime):
    runtime.invoke_sync(app.CreateUserUseCase, payload={"full_name": "A", "email": "a@b.co"})
    with pytest.raises(RuleViolations) as caught:
        runtime.invoke_sync(app.CreateUserUseCase, payload={"full_name": " ", "email": "a@b.co"})
    assert [(v.field, v.message) for v in caught.value.violations] == [
        ("full_name", "full_name must not be blank"),
        ("email_exists", "email already exists"),
    ]


def test_create_user_use_case_rejects_invalid_email(runtime):
    with pytest.raises(RuleViolations) as caught:
        runtime.invoke_sync(app.CreateUserUseCase, payload={"full_name": "A", "email": "nope"})
    assert str(caught.value) == "email: email must be valid"


def test_update_user_use_case_updates_sent_fields_only(runtime):
    user = runtime.invoke_sync(app.CreateUserUseCase, payload={"full_name": "A", "email": "a@b.co"})
    updated = runtime.invoke_sync(
        app.UpdateUserUseCase, params={"user_id": str(user.id)}, payload={"email": "z@b.co"}
    )
    assert (updated.full_name, updated.email) == ("A", "z@b.co")


def test_update_user_use_case_checks_blank_name_only_when_sent(runtime):
    user = runtime.invoke_sync(app.CreateUserUseCase, payload={"full_name": "A", "email": "a@b.co"})
    with pytest.raises(RuleViolations):
        runtime.invoke_sync(
            app.UpdateUserUseCase, params={"user_id": user.id}, payload={"fullName": "  "}
        )


def test_update_user_use_case_raises_not_found_for_missing_user(runtime):
    with pytest.raises(NotFound) as caught:
        runtime.invoke_sync(app.UpdateUserUseCase, params={"user_id": 99}, payload={})
    assert (caught.value.entity, caught.value.id) == ("User", 99)


def test_create_address_use_case_guards_the_parent(runtime):
    with pytest.raises(NotFound) as caught:
        runtime.invoke_sync(
            app.CreateAddressUseCase,
            params={"user_id": 7},
            payload={"label": "home", "street": "s", "city": "c", "country": "ES", "zipCode": "1"},
        )
    assert caught.value.entity == "User"
    assert asyncio.run(repo(runtime, app.Address).count()) == 0


def test_create_address_use_case_creates_under_the_user(runtime):
    user = runtime.invoke_sync(app.CreateUserUseCase, payload={"full_name": "A", "email": "a@b.co"})
    address = runtime.invoke_sync(
        app.CreateAddressUseCase,
        params={"user_id": user.id},
        payload={"label": "home", "street": "s", "city": "c", "country": "ES", "zipCode": "1"},
    )
    assert address.user_id == user.id
    assert address.zip_code == "1"


def test_list_addresses_use_case_scopes_to_the_user(runtime):
    first = runtime.invoke_sync(
        app.CreateUserUseCase, payload={"full_name": "A", "email": "a@b.co"}
    )
    second = runtime.invoke_sync(
        app.CreateUserUseCase, payload={"full_name": "B", "email": "b@b.co"}
    )
    body = {"label": "l", "street": "s", "city": "c", "country": "ES", "zipCode": "1"}
    for user in (first, second, first):
        runtime.invoke_sync(app.CreateAddressUseCase, params={"user_id": user.id}, payload=body)
    page = runtime.invoke_sync(
        app.ListAddressesUseCase, params={"user_id": first.id, "query": QuerySpec()}
    )
    assert isinstance(page, PageResult)
    assert [a.user_id for a in page.items] == [first.id, first.id]
    assert page.total_count == 2


def test_list_low_stock_products_use_case_filters_and_sorts(runtime):
    for index, stock in enumerate([9, 3, 0, 5, 3]):
        create_product(runtime, sku=f"SKU-{index}", stock=stock)
    page = runtime.invoke_sync(app.ListLowStockProductsUseCase)
    assert [(p.stock, p.id) for p in page.items] == [(0, 3), (3, 2), (3, 5), (5, 4)]
    assert page.total_count == 4
    assert page.has_next is False


def test_pricing_preview_use_case_runs_computes_then_rules(runtime):
    result = runtime.invoke_sync(
        app.PricingPreviewUseCase,
        params={"record_id": 1},
        payload={
            "email": " Ada@Example.COM ",
            "unit_price": 10.0,
            "quantity": 2,
            "tax_rate": 0.5,
            "country": "ES",
        },
    )
    assert (result.normalized_email, result.subtotal, result.tax_amount) == (
        "ada@example.com",
        20.0,
        10.0,
    )


def test_pricing_preview_use_case_rejects_bad_price_and_country(runtime):
    with pytest.raises(RuleViolations) as caught:
        runtime.invoke_sync(
            app.PricingPreviewUseCase,
            params={"record_id": 1},
            payload={
                "email": "a@b.co",
                "unit_price": 0,
                "quantity": 1,
                "tax_rate": 0.1,
                "country": "XX",
            },
        )
    assert str(caught.value) == "unit_price: unit_price must be > 0; country: Unsupported country"


def test_build_product_summary_job_describes_the_product(runtime):
    product = create_product(runtime, stock=0)
    summary = asyncio.run(
        runtime.job_service.run(app.BuildProductSummaryJob, params={"product_id": product.id})
    )
    assert summary == "SKU-1 (Keyboard) is out of stock."


def test_send_restock_email_job_returns_whether_it_sent(runtime):
    in_stock = create_product(runtime, stock=4)
    payload = {"product_id": in_stock.id, "recipient_email": "ops@example.com"}
    sent = asyncio.run(
        runtime.job_service.run(
            app.SendRestockEmailJob, params={"product_id": in_stock.id}, payload=payload
        )
    )
    assert sent is False


def test_dispatch_use_case_runs_the_job_and_its_success_callback_after_commit(runtime):
    product = create_product(runtime, stock=0)
    response = runtime.invoke_sync(
        app.DispatchRestockEmailUseCase,
        params={"product_id": str(product.id)},
        payload={"recipientEmail": "ops@example.com"},
    )
    assert response.queue == "notifications"
    stored = repo(runtime, app.Product)
    reloaded = asyncio.run(stored.get_by_id(product.id))
    assert reloaded.category == "peripherals-restock-notified"


def test_failing_job_runs_the_failure_callback(runtime):
    product = create_product(runtime, stock=0)
    response = runtime.invoke_sync(
        app.DispatchRestockEmailUseCase,
        params={"product_id": str(product.id)},
        payload={"recipientEmail": "ops@example.com", "forceFail": True},
    )
    assert app.FAILURES == [
        (response.job_id, "RuntimeError", "forced restock email failure", product.id)
    ]


def test_restock_workflow_invokes_summary_and_dispatches_the_job(runtime):
    product = create_product(runtime, stock=3)
    with captured_dispatches() as sent:
        response = runtime.invoke_sync(
            app.RestockWorkflowUseCase,
            params={"product_id": str(product.id)},
            payload={"recipient_email": "ops@example.com"},
        )
    assert response.summary == "SKU-1 (Keyboard) is in stock."
    assert [(d.job_type, d.job_id, d.params) for d in sent] == [
        (app.SendRestockEmailJob, response.restock_job_id, {"product_id": product.id})
    ]


def test_restock_workflow_for_missing_product_raises_not_found(runtime):
    with pytest.raises(NotFound):
        runtime.invoke_sync(
            app.RestockWorkflowUseCase,
            params={"product_id": "42"},
            payload={"recipient_email": "ops@example.com"},
        )


def test_invoker_entity_crud_round_trip(runtime):
    entity = runtime.app.entity(app.Product)

    async def scenario():
        created = await entity.create(
            payload={"sku": "A", "name": "n", "category": "c", "priceCents": 1, "stock": 2}
        )
        fetched = await entity.get(params={"id": created.id})
        updated = await entity.update(params={"id": created.id}, payload={"stock": 7})
        deleted = await entity.delete(params={"id": created.id})
        return created, fetched, updated, deleted

    created, fetched, updated, deleted = asyncio.run(scenario())
    assert fetched == created
    assert updated.stock == 7
    assert deleted is True
    with pytest.raises(NotFound):
        asyncio.run(entity.get(params={"id": created.id}))
