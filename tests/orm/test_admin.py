"""Loom models in the Django admin: register, autoregister, customise, turn off."""

from __future__ import annotations

import pytest
from django.contrib import admin as django_admin

from loom_django import admin as loom_admin
from loom_django.orm import django_model_for
from tests.testapp.models import Book, Order, Product, User

from .conftest import make_product


@pytest.fixture
def site():
    return django_admin.AdminSite(name="scratch")


def test_default_options_list_columns_search_indexed_text_and_filter_keys():
    options = loom_admin.admin_options(Order)
    assert options["list_display"] == (
        "created_at",
        "updated_at",
        "id",
        "user_id",
        "address_id",
        "status",
        "payment_method",
        "placed_by_id",
    )
    assert options["list_filter"] == ("user", "address", "placed_by")
    assert options["readonly_fields"] == ("created_at", "updated_at")
    assert loom_admin.admin_options(Product)["search_fields"] == ("sku", "category")
    assert loom_admin.admin_options(User)["search_fields"] == ("email",)


def test_register_applies_overrides(site):
    model_admin = loom_admin.register(Product, site=site, list_display=("sku", "name"))
    registered = site._registry[django_model_for(Product)]
    assert isinstance(registered, model_admin)
    assert registered.list_display == ("sku", "name")
    assert registered.search_fields == ("sku", "category")


def test_autoregister_covers_generated_models_only(site):
    done = loom_admin.autoregister(site)
    assert Product in done and User in done
    assert site.is_registered(django_model_for(Order))
    assert not site.is_registered(Book)
    assert loom_admin.autoregister(site) == []


def test_explicit_register_replaces_an_automatic_one(site):
    loom_admin.autoregister(site)
    loom_admin.register(Product, site=site, list_display=("sku",))
    assert site._registry[django_model_for(Product)].list_display == ("sku",)


def test_autoregistration_is_off_by_default_and_follows_the_setting(settings, monkeypatch, site):
    assert not django_admin.site.is_registered(django_model_for(Product))
    monkeypatch.setattr(loom_admin.admin, "site", site)
    loom_admin._autoregister_from_settings()
    assert not site.is_registered(django_model_for(Product))
    settings.LOOM = {"ADMIN_AUTOREGISTER": True}
    loom_admin._autoregister_from_settings()
    assert site.is_registered(django_model_for(Product))


def test_unregister_removes_the_model(site):
    loom_admin.register(Product, site=site)
    loom_admin.unregister(Product, site=site)
    assert not site.is_registered(django_model_for(Product))


@pytest.mark.django_db
@pytest.mark.urls("tests.orm.admin_urls")
def test_changelist_and_change_form_render(admin_client, products):
    product = make_product(products, "ADM-1")
    listing = admin_client.get("/admin/testapp/product/", {"q": "ADM"})
    assert listing.status_code == 200 and b"ADM-1" in listing.content
    form = admin_client.get(f"/admin/testapp/product/{product.id}/change/")
    assert form.status_code == 200


@pytest.mark.django_db
def test_saving_through_the_django_model_refreshes_updated_at(products):
    import time

    product = make_product(products, "SAVE-1")
    time.sleep(0.002)
    instance = django_model_for(Product).objects.get(pk=product.id)
    instance.stock = 1
    instance.save()
    instance.refresh_from_db()
    assert instance.updated_at > product.updated_at
    assert instance.created_at == product.created_at
