"""Unobserved calls run the quiet pipelines with the pipeline's behaviour (docs/engine.md)."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import pytest

from loom_django.core.command import Command, fields_set_of
from loom_django.core.engine import RuntimeExecutor, UseCaseCompiler
from loom_django.core.errors import RuleViolations
from loom_django.core.model import BaseModel, ColumnField
from loom_django.core.use_case import F, Input, LoadById, Rule, UseCase
from loom_django.testing import build_test_runtime


class Member(BaseModel):
    """An entity looked up by key."""

    __tablename__ = "quiet_path_members"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    name: str = ColumnField(length=40)


class Rename(Command, frozen=True):
    """Two required fields and an optional one."""

    full_name: str
    age: int
    nickname: str | None = None


class Echo(UseCase[Any, Any]):
    async def execute(self, cmd: Rename = Input()) -> tuple[Rename, frozenset[str] | None]:
        return cmd, fields_set_of(cmd)


def _is_bob(full_name: str) -> bool:
    return full_name == "Bob"


class RefusesBob(UseCase[Any, Any]):
    rules = (Rule.check(F(Rename).full_name, via=_is_bob, message="no Bob"),)

    async def execute(self, cmd: Rename = Input()) -> str:
        return cmd.full_name


def _decorated(fn: Any) -> Any:
    @functools.wraps(fn)
    async def wrapper(self: Any, **kwargs: Any) -> Any:
        return await fn(self, **kwargs)

    return wrapper


class KeywordsOnly(UseCase[Member, Any]):
    @_decorated
    async def execute(
        self, member_id: int, member: Member = LoadById(Member, by="member_id")
    ) -> str:
        return member.name


class Reordered(UseCase[Member, Any]):
    async def execute(
        self, member: Member = LoadById(Member, by="member_id"), *, member_id: int
    ) -> tuple[str, int]:
        return member.name, member_id


def test_a_payload_of_exactly_the_required_fields_has_them_as_fields_set_on_its_first_call():
    """core §3.1 (criterion 12): fields_set is the set of sent fields, whatever the path."""
    cmd, sent = RuntimeExecutor(UseCaseCompiler()).execute_sync(
        Echo(), payload={"fullName": "Ada", "age": 36}
    )
    assert cmd == Rename(full_name="Ada", age=36)
    assert sent == {"full_name", "age"}


def test_snake_case_keys_as_many_as_the_required_fields_are_renamed():
    """core §3.1 (criterion 12): snake_case keys set the same fields as camelCase ones."""
    cmd, sent = RuntimeExecutor(UseCaseCompiler()).execute_sync(
        Echo(), payload={"full_name": "Bob", "age": 7}
    )
    assert cmd.full_name == "Bob"
    assert sent == {"full_name", "age"}


def test_a_required_and_an_optional_key_of_the_same_count_are_told_apart():
    """core §3.1 (criterion 13): an optional key in place of a required one is not taken
    for it; the missing required field is reported."""
    with pytest.raises(ValueError, match="age"):
        RuntimeExecutor(UseCaseCompiler()).execute_sync(
            Echo(), payload={"fullName": "Ada", "nickname": "A"}
        )


def test_an_awaited_quiet_call_that_fails_logs_its_failure():
    """core §7.1 step 10: a failing execution is logged as [FAIL] even when nobody listens."""
    executor = RuntimeExecutor(UseCaseCompiler(), logger=logging.getLogger("quiet.fail"))
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("quiet.fail").addHandler(handler)
    try:
        with pytest.raises(RuleViolations):
            asyncio.run(executor.execute(RefusesBob(), payload={"fullName": "Bob", "age": 1}))
    finally:
        logging.getLogger("quiet.fail").removeHandler(handler)
    assert [r.getMessage().split(" ")[0] for r in records] == ["[FAIL]"]


def test_debug_logging_turned_on_after_quiet_calls_is_honoured():
    """core §8: [EXEC]/[DONE] lines appear as soon as the engine logger allows DEBUG."""
    logger = logging.getLogger("quiet.levels")
    executor = RuntimeExecutor(UseCaseCompiler(), logger=logger)
    payload = {"fullName": "Ada", "age": 1}
    assert executor.execute_sync(RefusesBob(), payload=payload) == "Ada"
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        assert executor.execute_sync(RefusesBob(), payload=payload) == "Ada"
    finally:
        logger.setLevel(logging.NOTSET)
        logger.removeHandler(handler)
    assert [r.getMessage().split(" ")[0] for r in records] == ["[EXEC]", "[DONE]"]


def test_a_wrapped_execute_still_receives_keyword_arguments():
    """core §7.1 step 9: execute(**bound) — a decorator reading keywords keeps working."""
    runtime = build_test_runtime(models=[Member], use_cases=[KeywordsOnly], transactional=False)
    runtime.container.resolve_repo(Member).seed({"id": 1, "name": "Ada"})
    assert runtime.invoke_sync(KeywordsOnly, params={"member_id": 1}) == "Ada"


def test_an_execute_with_keyword_only_parameters_is_called_by_keyword():
    """core §7.1 step 9: parameters are bound by name, whatever their order or kind."""
    runtime = build_test_runtime(models=[Member], use_cases=[Reordered], transactional=False)
    runtime.container.resolve_repo(Member).seed({"id": 2, "name": "Bo"})
    assert runtime.invoke_sync(Reordered, params={"member_id": "2"}) == ("Bo", 2)


def test_invoke_builds_a_new_use_case_per_call():
    """core §10.3: a new instance is built per invocation."""
    seen: list[Any] = []

    class Records(UseCase[Member, Any]):
        async def execute(self) -> None:
            seen.append(self)

    runtime = build_test_runtime(models=[Member], use_cases=[Records], transactional=False)
    runtime.invoke_sync(Records)
    runtime.invoke_sync(Records)
    asyncio.run(runtime.app.invoke(Records))
    assert len({id(instance) for instance in seen}) == 3


def test_invoke_uses_the_repository_bound_now():
    """core §13: resolution follows the container's current binding."""

    class Reads(UseCase[Member, Any]):
        async def execute(self) -> Any:
            return self.main_repo

    runtime = build_test_runtime(models=[Member], use_cases=[Reads], transactional=False)
    before = runtime.invoke_sync(Reads)
    key = runtime.container.repo_key(Member)
    replacement = type(before)(Member)
    runtime.container.register_instance(key, replacement)
    assert runtime.invoke_sync(Reads) is replacement
    assert asyncio.run(runtime.app.invoke(Reads)) is replacement


def test_execute_and_invoke_are_coroutine_functions():
    """core §7: ``await executor.execute(...)``; callers that check for a coroutine function
    (asgiref's async_to_sync) accept ``execute`` and ``invoke``."""
    runtime = build_test_runtime(models=[Member], use_cases=[Echo], transactional=False)
    assert asyncio.iscoroutinefunction(runtime.executor.execute)
    assert asyncio.iscoroutinefunction(runtime.app.invoke)
