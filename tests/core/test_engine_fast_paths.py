"""The per-call fast paths keep the pipeline's behaviour (docs/engine.md, Performance)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from loom_django.core.command import Command, fields_set_of
from loom_django.core.di import LoomContainer, Scope
from loom_django.core.engine import EventLoopRequired, RuntimeExecutor, UseCaseCompiler
from loom_django.core.errors import ValidationError
from loom_django.core.model import BaseModel, ColumnField
from loom_django.core.use_case import Exists, Input, LoadById, UseCase
from loom_django.core.use_case.factory import UseCaseFactory
from loom_django.testing import InMemoryRepository


class Account(BaseModel):
    """An entity with nothing but a key: the tests only look it up."""

    __tablename__ = "fast_path_accounts"

    id: int = ColumnField(primary_key=True, autoincrement=True)


class Signup(Command, frozen=True):
    """A command with a required, an int and an optional field."""

    full_name: str
    age: int
    nickname: str | None = None


class Echo(UseCase[Any, Any]):
    def execute(self, cmd: Signup = Input()) -> tuple[Signup, frozenset[str] | None]:
        return cmd, fields_set_of(cmd)


def _run(instance: Any, executor: RuntimeExecutor | None = None, **kwargs: Any) -> Any:
    return (executor or RuntimeExecutor(UseCaseCompiler())).execute_sync(instance, **kwargs)


def test_a_known_payload_shape_keeps_its_fields_set_on_the_command():
    executor = RuntimeExecutor(UseCaseCompiler())
    payload = {"fullName": "Ada", "age": 36, "nickname": None}
    for _ in range(2):
        cmd, sent = _run(Echo(), executor, payload=payload)
        assert cmd == Signup(full_name="Ada", age=36)
        assert sent == {"full_name", "age", "nickname"}


def test_a_known_payload_shape_with_a_bad_value_reports_every_violation():
    executor = RuntimeExecutor(UseCaseCompiler())
    _run(Echo(), executor, payload={"fullName": "Ada", "age": 36})
    with pytest.raises(ValidationError) as caught:
        _run(Echo(), executor, payload={"fullName": 7, "age": "36"})
    assert sorted(v.field for v in caught.value.violations) == ["age", "fullName"]


def test_snake_case_keys_after_a_camel_case_shape_are_still_renamed():
    executor = RuntimeExecutor(UseCaseCompiler())
    _run(Echo(), executor, payload={"fullName": "Ada", "age": 36})
    cmd, sent = _run(Echo(), executor, payload={"full_name": "Bob", "age": 7})
    assert cmd.full_name == "Bob"
    assert sent == {"full_name", "age"}


class Check(UseCase[Any, Any]):
    async def execute(
        self,
        account_id: int,
        account: Account = LoadById(Account, by="account_id"),
        known: bool = Exists(Account, from_param="account_id", against="id"),
    ) -> bool:
        return known


def test_a_load_and_an_exists_on_one_entity_resolve_its_repository_once_per_execution():
    repo = InMemoryRepository(Account)
    repo.seed({"id": 1})
    resolved: list[type[Any]] = []

    def resolver(entity: type[Any]) -> Any:
        resolved.append(entity)
        return repo

    executor = RuntimeExecutor(UseCaseCompiler(), repo_resolver=resolver)
    assert _run(Check(), executor, params={"account_id": "1"}) is True
    assert _run(Check(), executor, params={"account_id": 1}) is True
    assert resolved == [Account, Account]


def test_an_execution_that_needs_an_event_loop_at_its_first_step_fails_clearly():
    class AsksForLoop(UseCase[Any, Any]):
        async def execute(self) -> None:
            asyncio.get_running_loop()

    with pytest.raises(EventLoopRequired, match="needs a running event loop"):
        _run(AsksForLoop())


def test_resolve_repo_follows_a_replaced_binding():
    container = LoomContainer()
    first, second = InMemoryRepository(Account), InMemoryRepository(Account)
    container.register_instance("accounts", first)
    container.register_repo(Account, "accounts")
    assert container.resolve_repo(Account) is first
    container.register_instance("accounts", second)
    assert container.resolve_repo(Account) is second


def test_resolve_repo_follows_a_new_repository_mapping():
    container = LoomContainer()
    first, second = InMemoryRepository(Account), InMemoryRepository(Account)
    container.register_instance("first", first)
    container.register_instance("second", second)
    container.register_repo(Account, "first")
    assert container.resolve_repo(Account) is first
    container.register_repo(Account, "second")
    assert container.resolve_repo(Account) is second


def test_request_scoped_repositories_are_built_per_resolve():
    container = LoomContainer()
    container.register("accounts", lambda: InMemoryRepository(Account), Scope.REQUEST)
    container.register_repo(Account, "accounts")
    assert container.resolve_repo(Account) is not container.resolve_repo(Account)


class ReturnsRepo(UseCase[Account, Any]):
    async def execute(self) -> Any:
        return self.main_repo


def test_factory_builds_a_fresh_use_case_with_the_current_main_repository():
    container = LoomContainer()
    first, second = InMemoryRepository(Account), InMemoryRepository(Account)
    container.register("accounts", lambda: first, Scope.APPLICATION)
    container.register_repo(Account, "accounts")
    factory = UseCaseFactory(container)
    factory.register(ReturnsRepo)
    built = factory.build(ReturnsRepo)
    assert built is not factory.build(ReturnsRepo)
    assert built.main_repo is first
    container.register_instance("accounts", second)
    assert factory.build(ReturnsRepo).main_repo is second


def test_a_repository_without_exists_by_is_named_in_the_error():
    class LoadsOnly:
        async def get_by_id(self, obj_id: Any, profile: str = "default") -> Any:
            return {"id": obj_id}

    with pytest.raises(RuntimeError, match="Repository for Account does not support exists_by"):
        _run(Check(), params={"account_id": 1}, dependencies={Account: LoadsOnly()})
