"""Invoker entries build the use case and run its plan with the executor's behaviour
(docs/engine.md, Performance)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from loom_django.core.command import Command, fields_set_of
from loom_django.core.engine.events import EventKind, RuntimeEvent
from loom_django.core.errors import NotFound, ParameterBindingError, RuleViolations
from loom_django.core.model import BaseModel, ColumnField
from loom_django.core.use_case import Exists, F, Input, LoadById, Rule, UseCase
from loom_django.testing import build_test_runtime


class Pet(BaseModel):
    """A row the use cases load and create."""

    __tablename__ = "entry_pets"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    name: str = ColumnField(length=40)


class Rename(Command, frozen=True):
    """The new name of a pet."""

    name: str


def _is_rex(name: str) -> bool:
    return name == "Rex"


class RenamePet(UseCase[Pet, Any]):
    rules = (Rule.check(F(Rename).name, via=_is_rex, message="no Rex"),)

    async def execute(
        self, pet_id: int, cmd: Rename = Input(), pet: Pet = LoadById(Pet, by="pet_id")
    ) -> tuple[str, str, frozenset[str] | None, bool]:
        seen_before = hasattr(self, "touched")
        self.touched = True
        return pet.name, cmd.name, fields_set_of(cmd), seen_before


class CreatePet(UseCase[Pet, Pet]):
    async def execute(self, cmd: Rename = Input()) -> Pet:
        return await self.main_repo.create({"name": cmd.name})


class _Events:
    def __init__(self) -> None:
        self.kinds: list[EventKind] = []

    def on_event(self, event: RuntimeEvent) -> None:
        self.kinds.append(event.kind)


def _runtime(**options: Any) -> Any:
    runtime = build_test_runtime(models=[Pet], use_cases=[RenamePet, CreatePet], **options)
    runtime.invoke_sync(CreatePet, payload={"name": "Ada"})
    return runtime


def test_a_plain_use_case_gets_an_entry_after_its_first_invocation():
    runtime = _runtime(transactional=False)
    runtime.invoke_sync(RenamePet, params={"pet_id": "1"}, payload={"name": "Bo"})
    assert RenamePet in runtime.app.sync_entries()


def test_an_entry_runs_the_plan_with_a_fresh_instance_and_the_sent_fields():
    runtime = _runtime(transactional=False)
    for _ in range(2):
        result = runtime.invoke_sync(RenamePet, params={"pet_id": "1"}, payload={"name": "Bo"})
        assert result == ("Ada", "Bo", frozenset({"name"}), False)


def test_the_async_entry_runs_the_same_plan():
    runtime = _runtime(transactional=False)

    async def twice() -> list[Any]:
        payload = {"name": "Bo"}
        return [await runtime.app.invoke(RenamePet, params={"pet_id": 1}, payload=payload)] * 2

    assert asyncio.run(twice()) == [("Ada", "Bo", frozenset({"name"}), False)] * 2


def test_an_entry_reports_rule_violations_and_missing_rows_like_the_executor():
    runtime = _runtime(transactional=False)
    runtime.invoke_sync(RenamePet, params={"pet_id": "1"}, payload={"name": "Bo"})
    with pytest.raises(RuleViolations, match="no Rex"):
        runtime.invoke_sync(RenamePet, params={"pet_id": "1"}, payload={"name": "Rex"})
    with pytest.raises(NotFound):
        asyncio.run(runtime.app.invoke(RenamePet, params={"pet_id": 9}, payload={"name": "Bo"}))


def test_a_failure_through_an_entry_is_logged_once(caplog: pytest.LogCaptureFixture):
    runtime = _runtime(transactional=False)
    runtime.invoke_sync(RenamePet, params={"pet_id": "1"}, payload={"name": "Bo"})
    with caplog.at_level(logging.WARNING, logger="loom_django.engine"):
        with pytest.raises(RuleViolations):
            runtime.invoke_sync(RenamePet, params={"pet_id": "1"}, payload={"name": "Rex"})
    assert [r.message for r in caplog.records].count("[FAIL] RenamePet 0.000ms: name: no Rex") == 1


def test_an_integer_parameter_too_long_for_int_is_refused_by_the_binder():
    runtime = _runtime(transactional=False)
    runtime.invoke_sync(RenamePet, params={"pet_id": "1"}, payload={"name": "Bo"})
    with pytest.raises(ParameterBindingError, match="pet_id"):
        runtime.invoke_sync(RenamePet, params={"pet_id": "9" * 5000}, payload={"name": "Bo"})


def test_the_sync_entry_refuses_a_running_event_loop():
    runtime = _runtime(transactional=False)
    runtime.invoke_sync(RenamePet, params={"pet_id": "1"}, payload={"name": "Bo"})

    async def inside_loop() -> None:
        runtime.invoke_sync(RenamePet, params={"pet_id": "1"}, payload={"name": "Bo"})

    with pytest.raises(RuntimeError, match="RenamePet: execute_sync\\(\\) was called from a"):
        asyncio.run(inside_loop())


def test_an_entry_takes_the_logged_path_when_the_engine_logs_debug(
    caplog: pytest.LogCaptureFixture,
):
    runtime = _runtime(transactional=False)
    runtime.invoke_sync(RenamePet, params={"pet_id": "1"}, payload={"name": "Bo"})
    with caplog.at_level(logging.DEBUG, logger="loom_django.engine"):
        runtime.invoke_sync(RenamePet, params={"pet_id": "1"}, payload={"name": "Bo"})
        asyncio.run(runtime.app.invoke(RenamePet, params={"pet_id": 1}, payload={"name": "Bo"}))
    assert [r.message for r in caplog.records].count("[EXEC] RenamePet") == 2


def test_a_write_through_an_entry_still_runs_in_its_unit_of_work():
    runtime = _runtime(transactional=True)
    runtime.invoke_sync(CreatePet, payload={"name": "Bo"})

    class Fails(Exception):
        pass

    repo = runtime.container.resolve_repo(Pet)
    original = repo.create

    async def create_then_fail(data: Any) -> Any:
        await original(data)
        raise Fails

    repo.create = create_then_fail
    try:
        with pytest.raises(Fails):
            runtime.invoke_sync(CreatePet, payload={"name": "Cy"})
    finally:
        del repo.create
    assert asyncio.run(repo.count()) == 2  # Ada and Bo; Cy was rolled back


def test_an_observed_runtime_gets_no_entries_and_emits_every_call():
    events = _Events()
    runtime = _runtime(transactional=False, metrics=events)
    for _ in range(2):
        runtime.invoke_sync(RenamePet, params={"pet_id": "1"}, payload={"name": "Bo"})
    assert RenamePet not in runtime.app.sync_entries()
    assert events.kinds.count(EventKind.EXEC_DONE) == 3  # the CreatePet of _runtime too


class Owner(BaseModel):
    """A second entity, so a plan can look up two repositories in turn."""

    __tablename__ = "entry_owners"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    name: str = ColumnField(length=40)


class PetAndOwner(UseCase[Pet, Any]):
    async def execute(
        self,
        pet_id: int,
        owner_id: int,
        pet_name: str,
        owner_name: str,
        pet: Pet = LoadById(Pet, by="pet_id"),
        owner: Owner = LoadById(Owner, by="owner_id"),
        owner_named: bool = Exists(Owner, from_param="owner_name", against="name"),
        pet_named: bool = Exists(Pet, from_param="pet_name", against="name"),
    ) -> tuple[str, str, bool, bool]:
        return pet.name, owner.name, owner_named, pet_named


def test_an_entry_asks_each_step_s_own_repository_when_steps_alternate_between_models():
    runtime = build_test_runtime(
        models=[Pet, Owner], use_cases=[CreatePet, PetAndOwner], transactional=False
    )
    runtime.invoke_sync(CreatePet, payload={"name": "Ada"})
    asyncio.run(runtime.container.resolve_repo(Owner).create({"name": "Grace"}))
    params = {"pet_id": 1, "owner_id": 1, "pet_name": "Ada", "owner_name": "Grace"}
    for _ in range(2):  # the first call binds the entry, the second runs it
        assert runtime.invoke_sync(PetAndOwner, params=params) == ("Ada", "Grace", True, True)
    swapped = {**params, "pet_name": "Grace", "owner_name": "Ada"}
    assert runtime.invoke_sync(PetAndOwner, params=swapped) == ("Ada", "Grace", False, False)
    assert PetAndOwner in runtime.app.sync_entries()
    with pytest.raises(NotFound):
        runtime.invoke_sync(PetAndOwner, params={**params, "owner_id": 2})


class KnownPet(UseCase[Pet, bool]):
    async def execute(
        self, pet_id: int, known: bool = Exists(Pet, from_param="pet_id", against="id")
    ) -> bool:
        return known


def test_an_attribute_error_raised_by_exists_by_itself_reaches_the_caller():
    runtime = build_test_runtime(models=[Pet], use_cases=[KnownPet], transactional=False)
    pets = runtime.container.resolve_repo(Pet)

    def broken(against: str, value: Any) -> Any:
        raise AttributeError("the driver lost its cursor")

    pets.exists_by = broken
    for _ in range(2):
        with pytest.raises(AttributeError, match="lost its cursor"):
            runtime.invoke_sync(KnownPet, params={"pet_id": 1})
