"""Commands, errors, events, invoker, DI at startup and units of work (criteria 12–14, 39–41,
52–54, 58), on in-memory repositories."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from loom_django.core.bootstrap import RuntimeSpec, build_runtime
from loom_django.core.command import fields_set_of
from loom_django.core.engine import EventKind, RuntimeEvent, RuntimeExecutor, UseCaseCompiler
from loom_django.core.errors import (
    BootstrapError,
    Forbidden,
    NotFound,
    RuleViolation,
    RuleViolations,
    ValidationError,
)
from loom_django.core.job import Job, JobService
from loom_django.core.use_case import (
    ApplicationInvoker,
    F,
    Input,
    Rule,
    UseCase,
    UseCaseRegistry,
    use_case_key,
)
from loom_django.testing import InMemoryUnitOfWorkFactory, build_test_runtime
from tests.core.seed_app import CreateProduct, CreateUser, Product, UpdateUser

# --- commands (12–14) -----------------------------------------------------------------------


def test_from_payload_accepts_camel_and_snake_keys():
    for payload in ({"fullName": "A", "email": "a@b.c"}, {"full_name": "A", "email": "a@b.c"}):
        cmd, fields_set = CreateUser.from_payload(payload)
        assert cmd.full_name == "A"
        assert fields_set == {"full_name", "email"}


def test_unknown_payload_keys_are_ignored():
    cmd, fields_set = CreateUser.from_payload({"full_name": "A", "email": "e", "admin": True})
    assert fields_set == {"full_name", "email"}
    assert not hasattr(cmd, "admin")


def test_patch_fields_tell_null_from_absent():
    cmd, fields_set = UpdateUser.from_payload({"email": None, "full_name": "x"})
    assert cmd.email is None and "email" in fields_set
    cmd, fields_set = UpdateUser.from_payload({"full_name": "x"})
    assert cmd.email is None and "email" not in fields_set
    assert UpdateUser.from_payload({})[1] == frozenset()


def test_command_remembers_its_fields_set():
    cmd, fields_set = UpdateUser.from_payload({"email": None})
    assert fields_set_of(cmd) == fields_set == {"email"}
    assert fields_set_of(UpdateUser(email="x")) is None


# --- errors (41) ------------------------------------------------------------------------------


def test_error_messages_and_codes():
    assert str(NotFound("User", id=42)) == "User with id=42 not found"
    assert NotFound("User", id=42).code == "not_found"
    violation = RuleViolation("email", "bad")
    assert violation.message == "bad"
    assert str(violation) == "email: bad"
    assert Forbidden().message == "Forbidden"
    assert RuleViolations([violation, RuleViolation("a", "b")]).message == "email: bad; a: b"


# --- events (40) ------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.events: list[RuntimeEvent] = []

    def on_event(self, event: RuntimeEvent) -> None:
        self.events.append(event)


class Echo(UseCase[Any, Any]):
    rules = [Rule.check(F(UpdateUser).email, via=lambda e: e == "bad" and "rejected")]

    def execute(self, cmd: UpdateUser = Input()) -> str | None:
        if cmd.email == "boom":
            raise RuntimeError("boom")
        return cmd.email


def test_compile_events_are_emitted_once_per_class():
    recorder = Recorder()
    compiler = UseCaseCompiler(metrics=recorder)
    compiler.compile(Echo)
    compiler.compile(Echo)
    assert [e.kind for e in recorder.events] == [EventKind.COMPILE_START, EventKind.COMPILE_DONE]


@pytest.mark.parametrize(
    ("email", "kind", "status"),
    [
        ("ok", EventKind.EXEC_DONE, "success"),
        ("bad", EventKind.EXEC_ERROR, "rule_failure"),
        ("boom", EventKind.EXEC_ERROR, "failure"),
    ],
)
def test_each_execution_emits_start_and_exactly_one_outcome(email, kind, status):
    recorder = Recorder()
    executor = RuntimeExecutor(UseCaseCompiler(), metrics=recorder)
    try:
        executor.execute_sync(Echo(), payload={"email": email})
    except (RuleViolations, RuntimeError):
        pass
    kinds = [e.kind for e in recorder.events]
    assert kinds == [EventKind.EXEC_START, kind]
    assert recorder.events[-1].status == status
    assert recorder.events[-1].duration_ms is not None


def test_failing_metrics_adapter_does_not_break_the_execution():
    class Broken:
        def on_event(self, event: RuntimeEvent) -> None:
            raise ValueError("adapter down")

    executor = RuntimeExecutor(UseCaseCompiler(), metrics=Broken())
    assert executor.execute_sync(Echo(), payload={"email": "ok"}) == "ok"


# --- units of work (36–39 on in-memory repositories) ----------------------------------------


class WriteThenFail(UseCase[Product, Any]):
    async def execute(self, cmd: CreateProduct = Input()) -> None:
        await self.main_repo.create(cmd)
        raise RuntimeError("after write")


class WriteTwice(UseCase[Product, Any]):
    async def execute(self, cmd: CreateProduct = Input()) -> int:
        await self.main_repo.create(cmd)
        await self.main_repo.create({**PRODUCT, "sku": cmd.sku + "-2"})
        return await self.main_repo.count()


PRODUCT = {"sku": "A", "name": "n", "category": "c", "price_cents": 1, "stock": 1}


def test_failed_execution_rolls_back_its_writes():
    runtime = build_test_runtime(models=[Product], use_cases=[WriteThenFail, WriteTwice])
    with pytest.raises(RuntimeError):
        runtime.invoke_sync(WriteThenFail, payload=PRODUCT)
    assert asyncio.run(runtime.container.resolve_repo(Product).count()) == 0
    assert runtime.invoke_sync(WriteTwice, payload=PRODUCT) == 2


class Inner(UseCase[Product, Any]):
    async def execute(self, cmd: CreateProduct = Input()) -> None:
        await self.main_repo.create(cmd)
        if cmd.sku == "fail":
            raise RuntimeError("inner failed")


class OuterCatches(UseCase[Product, Any]):
    def __init__(self, app: ApplicationInvoker) -> None:
        self._app = app

    async def execute(self, cmd: CreateProduct = Input()) -> int:
        await self.main_repo.create(cmd)
        try:
            await self._app.invoke(Inner, payload={**PRODUCT, "sku": "fail"})
        except RuntimeError:
            pass
        return await self.main_repo.count()


class OuterFails(UseCase[Product, Any]):
    def __init__(self, app: ApplicationInvoker) -> None:
        self._app = app

    async def execute(self, cmd: CreateProduct = Input()) -> None:
        await self._app.invoke(Inner, payload=PRODUCT)
        raise RuntimeError("outer failed")


def test_nested_invocation_failure_undoes_only_its_own_writes():
    runtime = build_test_runtime(models=[Product], use_cases=[Inner, OuterCatches, OuterFails])
    assert runtime.invoke_sync(OuterCatches, payload={**PRODUCT, "sku": "outer"}) == 1
    with pytest.raises(RuntimeError, match="outer failed"):
        runtime.invoke_sync(OuterFails, payload=PRODUCT)
    assert asyncio.run(runtime.container.resolve_repo(Product).count()) == 1


class Reader(UseCase[Product, Any]):
    read_only = True

    async def execute(self) -> int:
        return await self.main_repo.count()


def test_read_only_executions_open_no_transaction():
    factory = InMemoryUnitOfWorkFactory()
    executor = RuntimeExecutor(UseCaseCompiler(), uow_factory=factory)
    from loom_django.testing import InMemoryRepository

    executor.execute_sync(Reader(InMemoryRepository(Product)))
    assert factory.log == []
    executor.execute_sync(Echo(), payload={"email": "x"})
    assert factory.log == ["begin", "commit", "close"]
    executor.execute_sync(Echo(), payload={"email": "x"}, read_only=True)
    assert factory.log == ["begin", "commit", "close"]


class Noop(Job[str]):
    def execute(self) -> str:
        return "done"


class Dispatches(UseCase[Any, Any]):
    def __init__(self, jobs: JobService, app: ApplicationInvoker) -> None:
        self._jobs = jobs
        self._app = app

    async def execute(self, cmd: UpdateUser = Input()) -> str:
        handle = self._jobs.dispatch(Noop)
        if cmd.full_name == "nested":
            await self._app.invoke(Dispatches, payload={"email": "inner"})
        if cmd.email == "fail":
            raise RuntimeError("rolled back")
        return handle.job_id


def test_dispatches_are_sent_after_commit_and_dropped_on_rollback():
    runtime = build_test_runtime(use_cases=[Dispatches], jobs=[Noop])
    service = runtime.job_service
    job_id = runtime.invoke_sync(Dispatches, payload={"full_name": "nested"})
    assert service._results[job_id] == (True, "done")
    assert len(service._results) == 2
    with pytest.raises(RuntimeError):
        runtime.invoke_sync(Dispatches, payload={"email": "fail"})
    assert len(service._results) == 2


def test_dispatch_outside_any_transaction_is_sent_immediately():
    runtime = build_test_runtime(jobs=[Noop])
    handle = runtime.job_service.dispatch(Noop)
    assert handle.wait() == "done"


# --- DI at startup, invoker, keys (52–54, 58) -------------------------------------------------


class NeedsService:
    pass


class WantsUnregistered(UseCase[Any, Any]):
    def __init__(self, service: NeedsService) -> None:
        self._service = service

    def execute(self) -> None: ...


def test_unregistered_constructor_dependency_fails_at_startup():
    with pytest.raises(BootstrapError, match="Bootstrap failed:.*NeedsService"):
        build_runtime(RuntimeSpec(use_cases=[WantsUnregistered]))


@use_case_key("demo.echo")
class KeyedEcho(UseCase[Any, Any]):
    def execute(self, cmd: UpdateUser = Input()) -> str | None:
        return cmd.email


def test_invoke_by_type_and_by_key():
    runtime = build_test_runtime(use_cases=[KeyedEcho])
    assert asyncio.run(runtime.app.invoke(KeyedEcho, payload={"email": "ok"})) == "ok"
    assert asyncio.run(runtime.app.invoke_name("demo.echo", payload={"email": "ok"})) == "ok"
    with pytest.raises(KeyError, match="is not registered"):
        asyncio.run(runtime.app.invoke_name("missing:key"))


def test_duplicate_use_case_keys_fail_registry_construction():
    @use_case_key("demo.echo")
    class Other(UseCase[Any, Any]):
        def execute(self) -> None: ...

    with pytest.raises(ValueError, match="Duplicate use-case key"):
        UseCaseRegistry.build([KeyedEcho, Other])


def test_invalid_use_case_keys_are_rejected():
    with pytest.raises(ValueError, match="cannot be empty"):
        use_case_key("  ")
    with pytest.raises(ValueError, match="must match"):
        use_case_key("Bad Key")


def test_auto_crud_keys_use_the_snake_case_entity_name():
    runtime = build_test_runtime(models=[Product])
    assert {
        "product:create",
        "product:get",
        "product:list",
        "product:update",
        "product:delete",
    } <= set(runtime.registry.keys())


def test_invoke_sync_works_without_a_loop_and_refuses_inside_one():
    runtime = build_test_runtime(use_cases=[KeyedEcho])
    assert runtime.invoke_sync("demo.echo", payload={"email": "ok"}) == "ok"

    async def inside() -> None:
        runtime.invoke_sync(KeyedEcho, payload={"email": "ok"})

    with pytest.raises(RuntimeError, match="running event loop"):
        asyncio.run(inside())


def test_debug_execution_emits_a_step_event_per_pipeline_step():
    recorder = Recorder()
    executor = RuntimeExecutor(UseCaseCompiler(), metrics=recorder, debug_execution=True)
    assert executor.execute_sync(Echo(), payload={"email": "ok"}) == "ok"
    steps = [e.step_name for e in recorder.events if e.kind == EventKind.STEP_DONE]
    assert steps[0] == "Bind Input"
    assert steps[1].startswith("Rule ")
    assert steps[-1] == "Execute core logic"


def test_debug_and_generated_pipelines_agree():
    fast = RuntimeExecutor(UseCaseCompiler())
    traced = RuntimeExecutor(UseCaseCompiler(), debug_execution=True)
    for payload in ({"email": "ok"}, {"email": "bad"}):
        outcomes = []
        for executor in (fast, traced):
            try:
                outcomes.append(executor.execute_sync(Echo(), payload=payload))
            except RuleViolations as exc:
                outcomes.append(exc.violations)
        assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize(
    "error",
    [
        NotFound("User", id=42),
        RuleViolations([RuleViolation("email", "bad")]),
        Forbidden(),
        ValidationError([("price", "Expected `int`")]),
    ],
)
def test_domain_errors_survive_pickling(error):
    import pickle

    restored = pickle.loads(pickle.dumps(error))
    assert type(restored) is type(error)
    assert str(restored) == str(error)
    assert restored.code == error.code
    assert restored.__dict__ == error.__dict__


class SingleWrite(UseCase[Any, Any]):
    transactional = False

    def execute(self, cmd: UpdateUser = Input()) -> str | None:
        return cmd.email


def test_non_transactional_use_case_opens_no_transaction_at_top_level():
    factory = InMemoryUnitOfWorkFactory()
    executor = RuntimeExecutor(UseCaseCompiler(), uow_factory=factory)
    assert executor.execute_sync(SingleWrite(), payload={"email": "x"}) == "x"
    assert factory.log == []


def test_non_transactional_use_case_still_gets_a_savepoint_when_nested():
    factory = InMemoryUnitOfWorkFactory()
    executor = RuntimeExecutor(UseCaseCompiler(), uow_factory=factory)

    class Outer(UseCase[Any, Any]):
        async def execute(self, cmd: UpdateUser = Input()) -> Any:
            return await executor.execute(SingleWrite(), payload={"email": "inner"})

    assert executor.execute_sync(Outer(), payload={}) == "inner"
    assert factory.log == ["begin", "savepoint", "commit", "close"]


def test_auto_create_and_update_are_single_statement_with_the_default_repository():
    runtime = build_test_runtime(models=[Product])
    crud = runtime.crud[Product]
    assert crud["create"].transactional is False
    assert crud["update"].transactional is False
    assert crud["delete"].transactional is True
