"""Model creation hooks: which classes count as mapped, replay and ordering."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from loom_django.core.model import (
    BaseModel,
    ColumnField,
    TimestampedModel,
    add_model_hook,
    detached_models,
    hooks,
    mapped_models,
    model_for_table,
)


@pytest.fixture(autouse=True)
def isolated_hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run each test against empty hook/model registries (a real door may be active)."""
    monkeypatch.setattr(hooks, "_hooks", [])
    monkeypatch.setattr(hooks, "_mapped", [])
    monkeypatch.setattr(hooks, "_detached", [])
    yield


def _define(table: str) -> type[BaseModel]:
    class Mapped(BaseModel):
        __tablename__ = table
        id: int = ColumnField(primary_key=True)

    return Mapped


def test_model_declaring_tablename_is_mapped() -> None:
    model = _define("hook_a")
    assert mapped_models() == (model,)


def test_base_without_own_tablename_is_not_mapped() -> None:
    class Abstract(TimestampedModel):
        id: int = ColumnField(primary_key=True)

    assert Abstract not in mapped_models()


def test_subclass_inheriting_tablename_is_not_mapped_again() -> None:
    parent = _define("hook_parent")

    class Child(parent):  # type: ignore[valid-type,misc]
        extra: int = 0

    assert mapped_models() == (parent,)


def test_hook_is_called_for_models_created_after_it() -> None:
    seen: list[type] = []
    add_model_hook(seen.append)
    model = _define("hook_b")
    assert seen == [model]


def test_models_created_before_a_hook_are_replayed_in_order() -> None:
    first, second = _define("hook_c"), _define("hook_d")
    seen: list[type] = []
    add_model_hook(seen.append)
    assert seen == [first, second]


def test_adding_the_same_hook_twice_calls_it_once() -> None:
    seen: list[type] = []
    add_model_hook(seen.append)
    add_model_hook(seen.append)
    _define("hook_e")
    assert len(seen) == 1


def test_hook_error_propagates_from_the_class_statement() -> None:
    def refuse(cls: type) -> None:
        raise RuntimeError(f"cannot map {cls.__name__}")

    add_model_hook(refuse)
    with pytest.raises(RuntimeError, match="cannot map Mapped"):
        _define("hook_f")


def test_detached_models_are_neither_mapped_nor_passed_to_hooks() -> None:
    seen: list[type] = []
    add_model_hook(seen.append)
    with detached_models():
        model = _define("hook_g")
    assert seen == []
    assert model not in mapped_models()


def test_model_for_table_finds_mapped_and_detached_models() -> None:
    mapped = _define("hook_h")
    with detached_models():
        detached = _define("hook_i")
    assert model_for_table("hook_h") is mapped
    assert model_for_table("hook_i") is detached
    assert model_for_table("missing") is None
