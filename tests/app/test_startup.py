"""AppConfig.ready(): discovery, compilation, and system check loom_django.E100."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connections

import loom_django
from loom_django.checks import check_runtime
from loom_django.core.errors import BootstrapError
from loom_django.runtime import bootstrap_failure, reset_runtime, setup_runtime


def _discover(settings, module: str) -> None:
    settings.LOOM = {
        "CONFIG": {"app": {"discovery": {"mode": "modules", "modules": {"include": [module]}}}}
    }


@pytest.fixture(autouse=True)
def _fresh_runtime():
    yield
    reset_runtime()


def test_compilation_error_becomes_system_check_naming_class_and_parameter(settings):
    _discover(settings, "tests.app.broken_use_cases")
    setup_runtime()
    [error] = check_runtime()
    assert error.id == "loom_django.E100"
    assert "BrokenGreetingUseCase.execute" in error.msg
    assert "only one Input() parameter is allowed" in error.msg


def test_manage_py_check_refuses_a_broken_use_case(settings, db):
    _discover(settings, "tests.app.broken_use_cases")
    setup_runtime()
    with pytest.raises(SystemCheckError, match="loom_django.E100"):
        call_command("check", databases=["default"])  # tests.settings has two


def test_get_runtime_raises_the_bootstrap_error(settings):
    _discover(settings, "tests.app.broken_use_cases")
    setup_runtime()
    assert isinstance(bootstrap_failure(), BootstrapError)
    with pytest.raises(BootstrapError, match="Bootstrap failed"):
        loom_django.get_runtime()


def test_discovered_use_cases_are_compiled_at_startup(settings):
    from tests.app.good_use_cases import GreetUseCase

    _discover(settings, "tests.app.good_use_cases")
    setup_runtime()
    runtime = loom_django.get_runtime()
    assert runtime.compiler.get_plan(GreetUseCase) is not None
    assert check_runtime() == []


def test_invoke_sync_runs_a_use_case_by_class_and_key(settings, db):
    from tests.app.good_use_cases import GreetUseCase

    _discover(settings, "tests.app.good_use_cases")
    setup_runtime()
    assert loom_django.invoke_sync(GreetUseCase, payload={"name": "ada"}) == "hello ada"
    assert loom_django.invoke_sync("tests.greet", payload={"name": "bob"}) == "hello bob"


@pytest.mark.django_db(transaction=True)
def test_async_callers_await_the_same_engine(settings):
    from tests.app.good_use_cases import GreetUseCase

    _discover(settings, "tests.app.good_use_cases")
    setup_runtime()
    runtime = loom_django.get_runtime()

    async def call() -> str:
        try:
            return await runtime.app.invoke(GreetUseCase, payload={"name": "eve"})
        finally:
            # The execution ran on asgiref's thread-sensitive worker: release its connection.
            await sync_to_async(connections.close_all, thread_sensitive=True)()

    result = asyncio.run(call())
    assert result == "hello eve"


def test_invoke_sync_refuses_inside_a_running_event_loop(settings):
    _discover(settings, "tests.app.good_use_cases")
    setup_runtime()

    async def inside() -> None:
        loom_django.invoke_sync("tests.greet", payload={"name": "x"})

    with pytest.raises(RuntimeError, match="running event loop"):
        asyncio.run(inside())
