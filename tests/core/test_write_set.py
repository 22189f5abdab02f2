"""write_values: the columns an input writes, for creates and partial updates."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec
import pytest

from loom_django.core.command import Command, Patch
from loom_django.core.model import (
    ColumnField,
    ServerDefault,
    TimestampedModel,
    detached_models,
)
from loom_django.core.repository.write_set import write_values

with detached_models():

    class User(TimestampedModel):
        __tablename__ = "ws_users"

        id: int = ColumnField(primary_key=True, autoincrement=True)
        full_name: str = ColumnField(length=120)
        nickname: str | None = ColumnField(length=40, default=None)
        token: uuid.UUID = ColumnField(server_default=ServerDefault.UUID4)


class UpdateUser(Command, frozen=True):
    full_name: Patch[str] = None
    nickname: Patch[str] = None


class RenameUser(Command, frozen=True):
    full_name: str
    reason: str | None = None


class UserUpdateInput(msgspec.Struct, kw_only=True):
    full_name: str | msgspec.UnsetType = msgspec.UNSET
    nickname: str | None | msgspec.UnsetType = msgspec.UNSET


def test_dict_keys_may_be_snake_or_camel_case() -> None:
    assert write_values(User, {"fullName": "A", "nickname": "a"}) == {
        "full_name": "A",
        "nickname": "a",
    }


def test_unknown_keys_are_dropped() -> None:
    assert write_values(User, {"full_name": "A", "bogus": 1}) == {"full_name": "A"}


def test_explicit_none_in_a_dict_is_written() -> None:
    assert write_values(User, {"nickname": None}) == {"nickname": None}


def test_update_drops_primary_key_and_server_generated_columns() -> None:
    now = dt.datetime.now(dt.UTC)
    data = {"id": 9, "full_name": "A", "createdAt": now, "updated_at": now, "token": uuid.uuid4()}
    assert write_values(User, data) == {"full_name": "A"}


def test_patch_command_writes_only_the_fields_sent() -> None:
    cmd, _ = UpdateUser.from_payload({"fullName": "x"})
    assert write_values(User, cmd) == {"full_name": "x"}


def test_patch_command_writes_explicit_null() -> None:
    cmd, _ = UpdateUser.from_payload({"nickname": None})
    assert write_values(User, cmd) == {"nickname": None}


def test_empty_patch_command_writes_nothing() -> None:
    cmd, _ = UpdateUser.from_payload({})
    assert write_values(User, cmd) == {}


def test_command_writes_non_none_non_patch_fields_even_if_not_sent() -> None:
    cmd = RenameUser(full_name="B")
    assert write_values(User, cmd) == {"full_name": "B"}


def test_command_built_directly_writes_its_non_none_fields() -> None:
    assert write_values(User, UpdateUser(nickname="n")) == {"nickname": "n"}


def test_struct_fields_equal_to_unset_are_absent() -> None:
    assert write_values(User, UserUpdateInput(nickname=None)) == {"nickname": None}


def test_create_keeps_given_values_and_drops_generated_ones() -> None:
    user = User(full_name="A", token=None)  # type: ignore[arg-type]
    assert write_values(User, user, for_create=True) == {"full_name": "A", "nickname": None}


def test_create_keeps_an_explicit_primary_key_and_uuid() -> None:
    token = uuid.uuid4()
    values = write_values(User, {"id": 4, "full_name": "A", "token": token}, for_create=True)
    assert values == {"id": 4, "full_name": "A", "token": token}


def test_create_drops_server_timestamps_sent_by_the_client() -> None:
    data = {"full_name": "A", "createdAt": dt.datetime.now(dt.UTC)}
    assert write_values(User, data, for_create=True) == {"full_name": "A"}


def test_other_inputs_are_rejected() -> None:
    with pytest.raises(TypeError, match="expected a dict or a msgspec Struct"):
        write_values(User, ["full_name"])
