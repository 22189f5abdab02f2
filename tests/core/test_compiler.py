"""spec/core.md §5–§6: compilation errors, startup validations and the plan (criteria 17–23)."""

from __future__ import annotations

from typing import Any

import pytest

from loom_django.core.command import Command, Patch
from loom_django.core.engine import (
    CompilationError,
    ExecutionPlan,
    InputBinding,
    ParamBinding,
    UseCaseCompiler,
)
from loom_django.core.use_case import (
    Compute,
    Exists,
    F,
    Input,
    Load,
    LoadById,
    LookupKind,
    OnMissing,
    Rule,
    UseCase,
)
from loom_django.testing import serialize_plan
from tests.core.seed_app import CreateUser, UpdateUser, UpdateUserUseCase, User


def compile_(cls: type) -> ExecutionPlan:
    return UseCaseCompiler().compile(cls)


def test_two_input_parameters_fail_compilation():
    class TwoInputs(UseCase[Any, Any]):
        def execute(self, a: CreateUser = Input(), b: CreateUser = Input()) -> None: ...

    with pytest.raises(CompilationError, match="only one Input\\(\\) parameter is allowed"):
        compile_(TwoInputs)


def test_input_type_without_from_payload_fails_compilation():
    class NotACommand(UseCase[Any, Any]):
        def execute(self, cmd: int = Input()) -> None: ...

    with pytest.raises(CompilationError, match="type must implement from_payload"):
        compile_(NotACommand)


def test_load_by_unknown_parameter_fails_compilation():
    class BadLoad(UseCase[Any, Any]):
        def execute(self, user_id: int, user: User = LoadById(User, by="nonexistent")) -> None: ...

    with pytest.raises(CompilationError) as caught:
        compile_(BadLoad)
    assert "'nonexistent' not found in execute signature" in str(caught.value)
    assert "BadLoad.execute" in str(caught.value)


def test_exists_from_command_without_input_fails_compilation():
    class NoInput(UseCase[Any, Any]):
        def execute(
            self, taken: bool = Exists(User, from_command="email", against="email")
        ) -> None: ...

    with pytest.raises(CompilationError, match="from_command requires Input\\(\\) parameter"):
        compile_(NoInput)


def test_load_from_command_with_unknown_field_fails_compilation():
    class BadField(UseCase[Any, Any]):
        def execute(
            self,
            cmd: CreateUser = Input(),
            user: User = Load(User, from_command="mail", against="email"),
        ) -> None: ...

    with pytest.raises(CompilationError, match="'mail' is not a field of CreateUser"):
        compile_(BadField)


def test_compiling_the_abstract_base_fails():
    with pytest.raises(CompilationError, match="must override execute\\(\\)"):
        compile_(UseCase)


def test_misspelled_field_reference_fails_at_startup():
    class Typo(UseCase[Any, Any]):
        rules = [Rule.check(F(CreateUser).emial, via=lambda v: None)]

        def execute(self, cmd: CreateUser = Input()) -> None: ...

    with pytest.raises(CompilationError) as caught:
        compile_(Typo)
    assert "emial" in str(caught.value)
    assert "Typo" in str(caught.value)


def test_from_params_name_missing_from_execute_fails_at_startup():
    class MissingParam(UseCase[Any, Any]):
        rules = [Rule.forbid(lambda c, fs, x: x, message="m").from_params("missing")]

        def execute(self, cmd: CreateUser = Input()) -> None: ...

    with pytest.raises(CompilationError, match="'missing'"):
        compile_(MissingParam)


def test_compute_target_outside_the_command_fails_at_startup():
    class BadTarget(UseCase[Any, Any]):
        computes = [Compute.set(F(CreateUser).nickname).from_command(F(CreateUser).email)]

        def execute(self, cmd: CreateUser = Input()) -> None: ...

    with pytest.raises(CompilationError, match="nickname"):
        compile_(BadTarget)


def test_field_reference_to_another_command_fails_at_startup():
    class OtherCommand(UseCase[Any, Any]):
        rules = [Rule.check(F(UpdateUser).email, via=lambda v: None)]

        def execute(self, cmd: CreateUser = Input()) -> None: ...

    with pytest.raises(CompilationError, match="does not match the Input\\(\\) command type"):
        compile_(OtherCommand)


def test_rules_without_input_fail_at_startup():
    class RulesNoInput(UseCase[Any, Any]):
        rules = [Rule.forbid(lambda c, fs: True, message="m")]

        def execute(self) -> None: ...

    with pytest.raises(CompilationError, match="no Input\\(\\) parameter"):
        compile_(RulesNoInput)


def test_compile_is_idempotent_and_get_plan_is_none_before():
    class Fresh(UseCase[Any, Any]):
        def execute(self) -> None: ...

    compiler = UseCaseCompiler()
    assert compiler.get_plan(Fresh) is None
    first = compiler.compile(Fresh)
    assert compiler.compile(Fresh) is first
    assert compiler.get_plan(Fresh) is first
    assert Fresh.__execution_plan__ is first


def test_update_user_plan_shape():
    plan = compile_(UpdateUserUseCase)
    assert plan.param_bindings == (ParamBinding("user_id", int),)
    assert plan.input_binding == InputBinding("cmd", UpdateUser)
    (load,) = plan.load_steps
    assert load.lookup_kind is LookupKind.BY_ID
    assert (load.against, load.profile, load.on_missing) == ("id", "default", OnMissing.RAISE)
    assert load.source_name == "user_id"


def test_load_with_both_sources_is_rejected_at_declaration():
    with pytest.raises(ValueError, match="exactly one of from_param or from_command"):
        Load(User, from_param="a", from_command="b", against="c")


def test_exists_with_no_source_is_rejected_at_declaration():
    with pytest.raises(ValueError, match="Exists\\(\\) requires exactly one"):
        Exists(User, against="email")


def test_generic_with_wrong_arity_is_rejected():
    with pytest.raises(TypeError, match="must declare UseCase\\[TModel, TResult\\]"):
        UseCase[User]  # type: ignore[misc]


def test_non_struct_model_is_rejected_at_class_creation():
    with pytest.raises(TypeError, match="TModel must be a LoomStruct subclass"):

        class Bad(UseCase[int, int]):  # type: ignore[type-var]
            def execute(self) -> None: ...


def test_computes_and_rules_do_not_leak_between_subclasses():
    class Parent(UseCase[Any, Any]):
        rules = [Rule.require_present(F(UpdateUser).email)]

        def execute(self, cmd: UpdateUser = Input()) -> None: ...

    class Child(Parent):
        pass

    class Sibling(UseCase[Any, Any]):
        def execute(self) -> None: ...

    assert len(Child.rules) == 1
    assert Sibling.rules == ()


def test_serialize_plan_is_deterministic():
    plan = compile_(UpdateUserUseCase)
    snapshot = serialize_plan(plan)
    assert snapshot == serialize_plan(plan)
    assert snapshot["params"] == [{"name": "user_id", "type": "int"}]
    assert snapshot["loads"][0]["lookup"] == "by_id"


class _Cmd(Command, frozen=True):
    name: Patch[str] = None
