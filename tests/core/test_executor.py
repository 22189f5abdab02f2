"""spec/core.md §7: the executor pipeline, rules, computes, loads and binding (criteria 24–35)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from loom_django.core.command import Command, Computed, Patch
from loom_django.core.engine import RuntimeExecutor, UseCaseCompiler
from loom_django.core.errors import (
    NotFound,
    ParameterBindingError,
    RuleViolation,
    RuleViolations,
    ValidationError,
)
from loom_django.core.use_case import (
    Compute,
    Exists,
    F,
    Input,
    Load,
    LoadById,
    OnMissing,
    Rule,
    UseCase,
)
from loom_django.testing import InMemoryRepository, UseCaseTest
from tests.core.seed_app import CreateUser, UpdateUser, User


class RecordingRepo:
    """A repository that records the calls the pipeline makes."""

    def __init__(self, rows: dict[Any, Any] | None = None, log: list[str] | None = None) -> None:
        self.rows = rows or {}
        self.log = log if log is not None else []

    async def get_by_id(self, obj_id: Any, profile: str = "default") -> Any:
        self.log.append(f"get_by_id({obj_id!r}, {profile})")
        return self.rows.get(obj_id)

    async def get_by(self, field: str, value: Any, profile: str = "default") -> Any:
        self.log.append(f"get_by({field}, {value!r}, profile={profile})")
        return next((r for r in self.rows.values() if r.get(field) == value), None)

    async def exists_by(self, field: str, value: Any) -> bool:
        self.log.append(f"exists_by({field}, {value!r})")
        return any(r.get(field) == value for r in self.rows.values())


def run(instance: Any, **kwargs: Any) -> Any:
    return RuntimeExecutor(UseCaseCompiler()).execute_sync(instance, **kwargs)


class Named(Command, frozen=True):
    name: str
    email: str = ""


def test_pipeline_runs_loads_exists_computes_rules_then_execute():
    log: list[str] = []

    def compute(cmd: Named, fields_set: frozenset[str]) -> Named:
        log.append("compute")
        return cmd

    def rule(cmd: Named, fields_set: frozenset[str]) -> None:
        log.append("rule")

    class Ordered(UseCase[Any, Any]):
        computes = [compute]
        rules = [rule]

        def execute(
            self,
            user_id: int,
            cmd: Named = Input(),
            user: Any = LoadById(User, by="user_id"),
            taken: bool = Exists(User, from_command="email", against="email"),
        ) -> str:
            log.append("execute")
            return "ok"

    repo = RecordingRepo({1: {"id": 1, "email": "e"}}, log)
    result = run(
        Ordered(),
        params={"user_id": 1},
        payload={"name": "n", "email": "e"},
        dependencies={User: repo},
    )
    assert result == "ok"
    assert log == ["get_by_id(1, default)", "exists_by(email, 'e')", "compute", "rule", "execute"]


def test_missing_load_raises_not_found_before_any_rule():
    evaluated: list[str] = []

    class Guarded(UseCase[Any, Any]):
        rules = [lambda cmd, fs: evaluated.append("rule")]

        def execute(
            self, user_id: int, cmd: Named = Input(), user: Any = LoadById(User, by="user_id")
        ) -> None: ...

    with pytest.raises(NotFound) as caught:
        run(
            Guarded(),
            params={"user_id": 5},
            payload={"name": "n"},
            dependencies={User: RecordingRepo()},
        )
    assert (caught.value.entity, caught.value.id) == ("User", 5)
    assert evaluated == []


@pytest.mark.parametrize(
    ("returned", "message", "expected"),
    [
        ("bad", None, ("name", "bad")),
        (True, "m", ("name", "m")),
        (True, None, ("name", "Rule check failed")),
    ],
)
def test_rule_check_outcomes_that_fail(returned, message, expected):
    class Checked(UseCase[Any, Any]):
        rules = [Rule.check(F(Named).name, via=lambda v: returned, message=message)]

        def execute(self, cmd: Named = Input()) -> None: ...

    with pytest.raises(RuleViolations) as caught:
        run(Checked(), payload={"name": "x"})
    assert [(v.field, v.message) for v in caught.value.violations] == [expected]


@pytest.mark.parametrize("returned", [False, None, 1])
def test_rule_check_outcomes_that_pass(returned):
    class Checked(UseCase[Any, Any]):
        rules = [Rule.check(F(Named).name, via=lambda v: returned, message="m")]

        def execute(self, cmd: Named = Input()) -> str:
            return "ran"

    assert run(Checked(), payload={"name": "x"}) == "ran"


def test_all_failing_rules_are_reported_in_order_and_execute_is_skipped():
    called: list[str] = []

    class Three(UseCase[Any, Any]):
        rules = [
            Rule.check(F(Named).name, via=lambda v: "first"),
            Rule.check(F(Named).email, via=lambda v: "second"),
            Rule.forbid(lambda c, fs: True, message="third"),
        ]

        def execute(self, cmd: Named = Input()) -> None:
            called.append("execute")

    with pytest.raises(RuleViolations) as caught:
        run(Three(), payload={"name": "x"})
    assert [v.message for v in caught.value.violations] == ["first", "second", "third"]
    assert str(caught.value) == "name: first; email: second; Named: third"
    assert called == []


class Pricing(Command, frozen=True):
    email: str
    unit_price: float
    quantity: int
    tax_rate: float
    normalized_email: Computed[str] = None
    subtotal: Computed[float] = None
    tax_amount: Computed[float] = None


def test_rules_see_computed_values():
    class Normalized(UseCase[Any, Any]):
        computes = [
            Compute.set(F(Pricing).normalized_email).from_command(F(Pricing).email, via=str.lower)
        ]
        rules = [Rule.check(F(Pricing).normalized_email, via=lambda e: e != e.lower() and "upper")]

        def execute(self, cmd: Pricing = Input()) -> str | None:
            return cmd.normalized_email

    payload = {"email": "A@B.C", "unit_price": 1, "quantity": 1, "tax_rate": 0}
    assert run(Normalized(), payload=payload) == "a@b.c"


def test_computes_run_in_declaration_order():
    class Chained(UseCase[Any, Any]):
        computes = [
            Compute.set(F(Pricing).subtotal).from_command(
                F(Pricing).unit_price, F(Pricing).quantity, via=lambda p, q: p * q
            ),
            Compute.set(F(Pricing).tax_amount).from_command(
                F(Pricing).subtotal, F(Pricing).tax_rate, via=lambda s, r: s * r
            ),
        ]

        def execute(self, cmd: Pricing = Input()) -> float | None:
            return cmd.tax_amount

    payload = {"email": "e", "unit_price": 10.0, "quantity": 2, "tax_rate": 0.5}
    assert run(Chained(), payload=payload) == 10


class Pair(Command, frozen=True):
    a: Patch[str] = None
    b: Patch[str] = None


def _gated(predicate: Any) -> type:
    class Gated(UseCase[Any, Any]):
        rules = [Rule.forbid(lambda c, fs: True, message="ran").when_present(predicate)]

        def execute(self, cmd: Pair = Input()) -> str:
            return "skipped"

    return Gated


@pytest.mark.parametrize(
    ("predicate", "payload", "applied"),
    [
        (F(Pair).a, {}, False),
        (F(Pair).a, {"a": None}, True),
        (F(Pair).a, {"a": "x"}, True),
        (F(Pair).a & F(Pair).b, {"a": "x"}, False),
        (F(Pair).a & F(Pair).b, {"a": "x", "b": None}, True),
        (F(Pair).a | F(Pair).b, {"b": "y"}, True),
        (F(Pair).a | F(Pair).b, {}, False),
    ],
)
def test_when_present_gates_rules(predicate, payload, applied):
    use_case = _gated(predicate)
    if applied:
        with pytest.raises(RuleViolations):
            run(use_case(), payload=payload)
    else:
        assert run(use_case(), payload=payload) == "skipped"


def test_when_present_gates_computes():
    class Upper(UseCase[Any, Any]):
        computes = [
            Compute.set(F(Pair).a)
            .from_command(F(Pair).a, via=lambda v: "X")
            .when_present(F(Pair).a)
        ]

        def execute(self, cmd: Pair = Input()) -> str | None:
            return cmd.a

    assert run(Upper(), payload={}) is None
    assert run(Upper(), payload={"a": None}) == "X"


def test_forbid_from_params_with_exists_receives_command_fields_set_and_flag():
    seen: list[tuple[Any, ...]] = []

    def taken(cmd: CreateUser, fields_set: frozenset[str], email_exists: bool) -> bool:
        seen.append((type(cmd).__name__, fields_set, email_exists))
        return email_exists

    class Create(UseCase[Any, Any]):
        rules = [Rule.forbid(taken, message="email already exists").from_params("email_exists")]

        def execute(
            self,
            cmd: CreateUser = Input(),
            email_exists: bool = Exists(User, from_command="email", against="email"),
        ) -> str:
            return "created"

    repo = RecordingRepo({1: {"id": 1, "email": "a@b.c"}})
    with pytest.raises(RuleViolations) as caught:
        run(Create(), payload={"fullName": "A", "email": "a@b.c"}, dependencies={User: repo})
    assert caught.value.violations == (RuleViolation("email_exists", "email already exists"),)
    assert (
        run(Create(), payload={"fullName": "A", "email": "new@b.c"}, dependencies={User: repo})
        == "created"
    )
    assert seen[0] == ("CreateUser", frozenset({"full_name", "email"}), True)


def test_require_present_fails_when_field_not_sent():
    class Requires(UseCase[Any, Any]):
        rules = [Rule.require_present(F(UpdateUser).email)]

        def execute(self, cmd: UpdateUser = Input()) -> None: ...

    with pytest.raises(RuleViolations) as caught:
        run(Requires(), payload={"full_name": "x"})
    assert caught.value.violations == (RuleViolation("email", "email is required"),)


def test_exists_raise_policy_reports_entity_and_value():
    class Parent(UseCase[Any, Any]):
        def execute(
            self,
            user_id: int,
            ok: bool = Exists(User, from_param="user_id", against="id", on_missing=OnMissing.RAISE),
        ) -> bool:
            return ok

    with pytest.raises(NotFound) as caught:
        run(Parent(), params={"user_id": 3}, dependencies={User: RecordingRepo()})
    assert (caught.value.entity, caught.value.id) == ("User", 3)


def test_exists_default_policy_injects_false():
    class Flag(UseCase[Any, Any]):
        def execute(
            self, user_id: int, ok: bool = Exists(User, from_param="user_id", against="id")
        ) -> bool:
            return ok

    assert run(Flag(), params={"user_id": 3}, dependencies={User: RecordingRepo()}) is False


def test_load_return_none_injects_none_and_calls_get_by():
    repo = RecordingRepo()

    class ByEmail(UseCase[Any, Any]):
        def execute(
            self,
            cmd: CreateUser = Input(),
            user: Any = Load(
                User, from_command="email", against="email", on_missing=OnMissing.RETURN_NONE
            ),
        ) -> Any:
            return user

    assert (
        run(ByEmail(), payload={"full_name": "A", "email": "x@y.z"}, dependencies={User: repo})
        is None
    )
    assert repo.log == ["get_by(email, 'x@y.z', profile=default)"]


def test_load_overrides_skip_the_repository():
    repo = RecordingRepo()
    loaded = object()

    class Loaded(UseCase[Any, Any]):
        def execute(self, user_id: int, user: Any = LoadById(User, by="user_id")) -> Any:
            return user

    result = run(
        Loaded(), params={"user_id": 1}, dependencies={User: repo}, load_overrides={User: loaded}
    )
    assert result is loaded
    assert repo.log == []


class Typed(UseCase[Any, Any]):
    def execute(self, user_id: int, active: bool = True, limit: int = 20) -> tuple[Any, ...]:
        return user_id, active, limit


def test_param_strings_are_coerced_to_annotations():
    assert run(Typed(), params={"user_id": "5", "active": "false"}) == (5, False, 20)


def test_invalid_param_names_parameter_and_value():
    with pytest.raises(ParameterBindingError) as caught:
        run(Typed(), params={"user_id": "abc"})
    assert "invalid value for parameter 'user_id'" in str(caught.value)
    assert isinstance(caught.value, ValidationError)
    assert caught.value.violations[0].field == "user_id"


def test_missing_required_param_is_a_validation_error():
    with pytest.raises(ValidationError, match="missing required parameter 'user_id'"):
        run(Typed(), params={})


def test_missing_required_command_field_is_a_validation_error():
    class Create(UseCase[Any, Any]):
        def execute(self, cmd: CreateUser = Input()) -> None: ...

    with pytest.raises(ValidationError) as caught:
        run(Create(), payload={"fullName": "A"})
    assert caught.value.code == "validation_error"
    assert [v.field for v in caught.value.violations] == ["email"]


def test_missing_payload_is_a_validation_error():
    class Create(UseCase[Any, Any]):
        def execute(self, cmd: CreateUser = Input()) -> None: ...

    with pytest.raises(ValidationError, match="payload is required"):
        run(Create())


def test_async_and_sync_execute_run_from_sync_and_async_callers():
    class AsyncCase(UseCase[Any, Any]):
        async def execute(self, value: int) -> int:
            return value + 1

    class SyncCase(UseCase[Any, Any]):
        def execute(self, value: int) -> int:
            return value + 2

    executor = RuntimeExecutor(UseCaseCompiler())
    assert executor.execute_sync(AsyncCase(), params={"value": 1}) == 2
    assert executor.execute_sync(SyncCase(), params={"value": 1}) == 3
    assert asyncio.run(executor.execute(AsyncCase(), params={"value": 1})) == 2
    assert asyncio.run(executor.execute(SyncCase(), params={"value": 1})) == 3


def test_execute_sync_refuses_to_run_inside_an_event_loop():
    class Simple(UseCase[Any, Any]):
        def execute(self) -> None: ...

    async def inside_loop() -> None:
        RuntimeExecutor(UseCaseCompiler()).execute_sync(Simple())

    with pytest.raises(RuntimeError, match="running event loop"):
        asyncio.run(inside_loop())


def test_sync_driven_execution_that_needs_an_event_loop_fails_clearly():
    class Sleeps(UseCase[Any, Any]):
        async def execute(self) -> None:
            await asyncio.sleep(0.01)

    with pytest.raises(RuntimeError, match="needs a running event loop"):
        RuntimeExecutor(UseCaseCompiler()).execute_sync(Sleeps())


def test_use_case_test_builder_runs_with_main_repo_and_loaded_entities():
    repo = InMemoryRepository(User)

    class Rename(UseCase[User, Any]):
        async def execute(
            self, user_id: int, cmd: UpdateUser = Input(), user: User = LoadById(User, by="user_id")
        ) -> Any:
            return user.full_name, await self.main_repo.count()

    current = User(id=1, full_name="Old", email="o@x.y")
    result = (
        UseCaseTest(Rename())
        .with_params(user_id=1)
        .with_input(fullName="New")
        .with_loaded(User, current)
        .with_main_repo(repo)
        .run_sync()
    )
    assert result == ("Old", 0)


@pytest.mark.parametrize(("raw", "expected"), [("7", 7), (7, 7), ("-3", -3), ("0042", 42)])
def test_int_params_accept_digit_strings_and_signed_numbers(raw, expected):
    assert run(Typed(), params={"user_id": raw})[0] == expected


@pytest.mark.parametrize("raw", ["²", "4.5", "", "1e3x"])
def test_int_params_reject_what_is_not_an_integer(raw):
    with pytest.raises(ParameterBindingError):
        run(Typed(), params={"user_id": raw})
