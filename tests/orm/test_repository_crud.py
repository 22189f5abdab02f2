"""RepositoryDjango create/get/update/delete/exists/count (criteria 8, 9, 42, 43; core §9)."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import msgspec
import pytest
from django.db import connection, transaction

from loom_django.core.command import Command, Patch
from loom_django.core.errors import Conflict, ValidationError
from loom_django.orm import RepositoryDjango
from tests.testapp.models import Kind, Product, User

from .conftest import make_product, run

pytestmark = pytest.mark.django_db


def test_create_returns_the_struct_with_database_generated_values(products):
    product = make_product(products, "SKU-1")
    assert isinstance(product, Product)
    assert isinstance(product.id, int)
    assert product.created_at is not None and product.updated_at is not None
    assert product.created_at == product.updated_at
    assert product.category == "general"


def test_update_advances_updated_at_and_keeps_created_at(products):
    product = make_product(products, "SKU-1")
    time.sleep(0.002)
    updated = run(products.update(product.id, {"stock": 80}))
    assert updated.stock == 80
    assert updated.updated_at > product.updated_at
    assert updated.created_at == product.created_at
    assert (updated.sku, updated.name, updated.price_cents) == (
        product.sku,
        product.name,
        product.price_cents,
    )


def test_update_with_empty_write_set_only_bumps_updated_at(products):
    product = make_product(products, "SKU-1")
    time.sleep(0.002)
    updated = run(products.update(product.id, {}))
    assert updated.updated_at > product.updated_at
    assert msgspec.structs.replace(updated, updated_at=product.updated_at) == product


def test_update_without_on_update_columns_and_nothing_to_write_returns_the_row(tags):
    tag = run(tags.create({"name": "red"}))
    assert run(tags.update(tag.id, {})) == tag
    assert run(tags.update(tag.id + 1000, {})) is None


def test_update_ignores_primary_key_and_server_columns(products):
    product = make_product(products, "SKU-1")
    updated = run(products.update(product.id, {"id": 999, "created_at": None, "name": "N"}))
    assert (updated.id, updated.created_at, updated.name) == (product.id, product.created_at, "N")


def test_encoding_uses_camel_case_and_omits_unloaded_relations(orders, users, addresses):
    user = run(users.create({"full_name": "Ada", "email": "ada@example.com"}))
    address = run(addresses.create({"user_id": user.id, "label": "home", "city": "Oslo"}))
    order = run(orders.create({"user_id": user.id, "address_id": address.id}))
    body = msgspec.json.decode(msgspec.json.encode(order))
    assert body["status"] == "created"
    assert {"createdAt", "userId", "paymentMethod", "placedBy"} <= set(body)
    product = msgspec.json.decode(msgspec.json.encode(run(Product_repo().get_by_id(_pid()))))
    assert "priceCents" in product and "createdAt" in product
    assert not {"reviews", "tags", "countReviews", "reviewSnippets"} & set(product)


def Product_repo() -> RepositoryDjango[Product, int]:
    return RepositoryDjango(Product)


def _pid() -> int:
    return make_product(Product_repo(), "ENC-1").id


def test_create_accepts_structs_commands_and_camel_case_dicts(products):
    class NewProduct(Command, frozen=True):
        sku: str
        name: str
        price_cents: int
        stock: int

    from_command = run(products.create(NewProduct(sku="A", name="a", price_cents=1, stock=2)))
    from_camel = run(products.create({"sku": "B", "name": "b", "priceCents": 1, "stock": 2}))
    assert (from_command.price_cents, from_camel.price_cents) == (1, 1)


def test_second_product_with_same_sku_is_a_conflict(products):
    make_product(products, "SKU-1")
    # Inside a transaction, a caught database error needs a savepoint to continue.
    with pytest.raises(Conflict, match=r"^A record with these values already exists \(sku\)\."):
        with transaction.atomic():
            make_product(products, "SKU-1")
    assert run(products.count()) == 1


def test_missing_required_column_is_a_validation_error_naming_it(products):
    # Not-null violations are the client's missing value (422), never a 409 conflict.
    with pytest.raises(ValidationError) as caught:
        run(products.create({"sku": "S", "name": "n", "price_cents": 1}))
    assert caught.value.violations == (("stock", "may not be null"),)


def test_unknown_foreign_key_is_a_conflict_outside_any_transaction(transactional_db, reviews):
    with pytest.raises(Conflict, match="A referenced entity does not exist"):
        run(reviews.create({"product_id": 424242, "rating": 1}))


def test_too_long_string_is_a_validation_error_naming_the_field(products):
    with pytest.raises(ValidationError) as caught:
        make_product(products, "X" * 65)
    assert caught.value.violations[0].field == "sku"


def test_value_of_the_wrong_type_is_a_validation_error(products):
    with pytest.raises(ValidationError) as caught:
        make_product(products, "S", stock="many")
    assert caught.value.violations[0].field == "stock"


def test_get_by_id_of_missing_id_is_none(products):
    assert run(products.get_by_id(12345)) is None


def test_update_of_missing_id_is_none(products):
    assert run(products.update(12345, {"stock": 1})) is None


def test_delete_returns_true_then_false(products):
    product = make_product(products, "SKU-1")
    assert run(products.delete(product.id)) is True
    assert run(products.delete(product.id)) is False


def test_exists_by_reflects_the_table(users):
    assert run(users.exists_by("email", "a@b.c")) is False
    run(users.create({"full_name": "A", "email": "a@b.c"}))
    assert run(users.exists_by("email", "a@b.c")) is True
    assert run(users.exists_by("nickname", None)) is True


def test_exists_checks_the_primary_key(products):
    product = make_product(products, "SKU-1")
    assert run(products.exists(product.id)) is True
    assert run(products.exists(product.id + 1)) is False


def test_count_equals_the_row_count(products):
    for index in range(3):
        make_product(products, f"SKU-{index}")
    assert run(products.count()) == 3


def test_get_by_returns_the_first_match_by_primary_key(products):
    first = make_product(products, "A", category="x")
    make_product(products, "B", category="x")
    assert run(products.get_by("category", "x")) == first
    assert run(products.get_by("category", "none")) is None


def test_get_by_unknown_field_is_a_value_error(products):
    with pytest.raises(ValueError, match="Unknown field 'colour' for model 'Product'"):
        run(products.get_by("colour", "red"))


def test_patch_command_writes_null_for_a_sent_null_and_skips_absent(users):
    class UpdateUser(Command, frozen=True):
        full_name: Patch[str] = None
        nickname: Patch[str] = None

    user = run(users.create({"full_name": "A", "email": "a@b.c", "nickname": "ace"}))
    cmd, _ = UpdateUser.from_payload({"full_name": "B"})
    kept = run(users.update(user.id, cmd))
    assert (kept.full_name, kept.nickname) == ("B", "ace")
    cmd, _ = UpdateUser.from_payload({"nickname": None})
    cleared = run(users.update(user.id, cmd))
    assert (cleared.full_name, cleared.nickname) == ("B", None)


def test_create_get_and_update_return_identical_structs(products):
    created = make_product(products, "SKU-1")
    assert run(products.get_by_id(created.id)) == created
    updated = run(products.update(created.id, {"note": "n"}))
    assert run(products.get_by_id(created.id)) == updated


def test_every_column_kind_round_trips():
    kinds = RepositoryDjango(Kind)
    created = run(kinds.create({"title": "t", "price": Decimal("1.5"), "tags": [1, 2]}))
    assert created.price == Decimal("1.50")
    assert created.tags == [1, 2] and created.codes == ["a", "b"] and created.data == {}
    assert isinstance(created.token, uuid.UUID)
    assert created.flag is False and created.strict_note == "x"
    assert run(kinds.get_by_id(created.id)) == created
    updated = run(kinds.update(created.id, {"flag": True, "data": {"k": [1]}}))
    assert (updated.flag, updated.data) == (True, {"k": [1]})
    assert run(kinds.get_by_id(created.id)) == updated


def test_repository_infers_its_model_from_generic_arguments():
    class ProductRepository(RepositoryDjango[Product, int]):
        pass

    assert ProductRepository().model is Product
    with pytest.raises(TypeError, match="needs a model"):
        RepositoryDjango()


def test_to_output_builds_structs_from_instances_rows_and_dicts(products):
    product = make_product(products, "SKU-1")
    instance = products.django_model.objects.get(pk=product.id)
    assert products.to_output(instance) == product
    row = products.queryset().filter(pk=product.id).values_list(*products.attnames).get()
    assert products.to_output(row) == product


def test_users_are_created_with_timestamps(users):
    user = run(users.create({"full_name": "A", "email": "a@b.c"}))
    assert isinstance(user, User) and user.created_at is not None


def test_out_of_range_numbers_are_validation_errors_naming_the_field():
    kinds = RepositoryDjango(Kind)
    with pytest.raises(ValidationError) as caught:
        run(kinds.create({"title": "t", "price": Decimal("1e12")}))
    assert caught.value.violations[0].field == "price"
    with pytest.raises(ValidationError) as caught:
        run(kinds.create({"title": "t", "big": 2**70}))
    assert caught.value.violations[0].field == "big"
    if connection.vendor == "postgresql":  # SQLite stores any 64-bit integer
        with pytest.raises(ValidationError, match="price_cents"):
            make_product(RepositoryDjango(Product), "S", price_cents=2**40)
