"""The DI container: scopes, instances, validation, pre-emption and repository mappings (§13)."""

from __future__ import annotations

import threading

import pytest

from loom_django.core.di import LoomContainer, Scope
from loom_django.core.errors import ResolutionError


class Service:
    pass


class Mailer:
    pass


class Product:
    pass


def test_application_binding_resolves_to_the_same_object_every_time():
    container = LoomContainer()
    container.register(Service, Service, scope=Scope.APPLICATION)
    assert container.resolve(Service) is container.resolve(Service)


def test_request_binding_yields_a_new_object_per_resolve():
    container = LoomContainer()
    container.register(Service, Service)
    first, second = container.resolve(Service), container.resolve(Service)
    assert isinstance(first, Service)
    assert first is not second


def test_transaction_scope_behaves_like_request():
    container = LoomContainer()
    container.register(Service, Service, scope=Scope.TRANSACTION)
    assert container.resolve(Service) is not container.resolve(Service)


def test_unknown_key_raises_no_binding_registered():
    with pytest.raises(ResolutionError, match="No binding registered for: .*Service"):
        LoomContainer().resolve(Service)


def test_callable_provider_is_called_without_arguments():
    container = LoomContainer()
    container.register("greeting", lambda: "hello")
    assert container.resolve("greeting") == "hello"


def test_application_provider_is_created_lazily_once():
    calls = []
    container = LoomContainer()
    container.register(Service, lambda: calls.append(1) or Service(), scope=Scope.APPLICATION)
    assert calls == []
    container.resolve(Service)
    container.resolve(Service)
    assert calls == [1]


def test_application_provider_runs_once_under_concurrent_resolution():
    calls = []
    barrier = threading.Barrier(8)
    container = LoomContainer()
    container.register(Service, lambda: calls.append(1) or Service(), scope=Scope.APPLICATION)

    def worker():
        barrier.wait()
        container.resolve(Service)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1]


def test_register_instance_returns_that_instance():
    container = LoomContainer()
    service = Service()
    container.register_instance(Service, service)
    assert container.resolve(Service) is service


def test_register_replaces_an_earlier_binding():
    container = LoomContainer()
    container.register_instance(Service, Service())
    container.register(Service, Mailer)
    assert isinstance(container.resolve(Service), Mailer)


def test_register_rejects_a_non_callable_provider():
    with pytest.raises(TypeError, match="register_instance"):
        LoomContainer().register(Service, Service())  # type: ignore[arg-type]


def test_register_if_absent_keeps_the_existing_binding():
    container = LoomContainer()
    user_mailer = Mailer()
    container.register_instance(Mailer, user_mailer)
    assert container.register_if_absent(Mailer, Mailer, scope=Scope.APPLICATION) is False
    assert container.resolve(Mailer) is user_mailer


def test_register_if_absent_binds_a_missing_key():
    container = LoomContainer()
    assert container.register_if_absent(Mailer, Mailer) is True
    assert isinstance(container.resolve(Mailer), Mailer)


def test_register_instance_if_absent_keeps_the_existing_binding():
    container = LoomContainer()
    container.register(Mailer, Mailer)
    assert container.register_instance_if_absent(Mailer, object()) is False
    assert isinstance(container.resolve(Mailer), Mailer)


def test_validate_instantiates_application_bindings():
    calls = []
    container = LoomContainer()
    container.register(Service, lambda: calls.append(1) or Service(), scope=Scope.APPLICATION)
    container.validate()
    assert calls == [1]


def test_validate_reports_a_failing_application_provider():
    def broken() -> Service:
        raise RuntimeError("boom")

    container = LoomContainer()
    container.register(Service, broken, scope=Scope.APPLICATION)
    with pytest.raises(
        ResolutionError,
        match="Failed to instantiate APPLICATION-scope binding for .*Service: boom",
    ):
        container.validate()


def test_validate_does_not_build_request_bindings():
    calls = []
    container = LoomContainer()
    container.register(Service, lambda: calls.append(1))
    container.validate()
    assert calls == []


def test_is_registered_reflects_bindings():
    container = LoomContainer()
    assert not container.is_registered(Service)
    container.register(Service, Service)
    assert container.is_registered(Service)
    assert Service in container


def test_resolve_repo_resolves_through_the_mapped_key():
    container = LoomContainer()
    repo = object()
    container.register_instance("product-repo", repo)
    container.register_repo(Product, "product-repo")
    assert container.has_repo_mapping(Product)
    assert container.resolve_repo(Product) is repo


def test_resolve_repo_without_mapping_raises_naming_the_model():
    container = LoomContainer()
    assert not container.has_repo_mapping(Product)
    expected = "No repository mapping registered for model: Product"
    with pytest.raises(ResolutionError, match=expected):
        container.resolve_repo(Product)


def test_binding_exposes_the_scope():
    container = LoomContainer()
    container.register(Service, Service, scope=Scope.APPLICATION)
    binding = container.binding(Service)
    assert binding is not None
    assert binding.scope is Scope.APPLICATION
