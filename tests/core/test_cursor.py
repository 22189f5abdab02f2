"""Signed keyset cursor tokens: round trips, tamper detection, sort binding."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest

from loom_django.core.errors import BadRequest
from loom_django.core.repository import cursor
from loom_django.core.repository.abc.query import SortSpec
from loom_django.core.repository.cursor import (
    cursor_ordering,
    decode_cursor,
    encode_cursor,
    set_cursor_secret,
)

ORDERING = (SortSpec("stock", "DESC"), SortSpec("id"))


@pytest.fixture(autouse=True)
def restore_secret() -> Iterator[None]:
    key = cursor._key
    yield
    cursor._key = key


def test_ordering_appends_primary_key_tie_breaker() -> None:
    assert cursor_ordering((SortSpec("stock", "DESC"),), "id") == ORDERING


def test_ordering_without_sort_is_primary_key_ascending() -> None:
    assert cursor_ordering((), "id") == (SortSpec("id", "ASC"),)


def test_ordering_does_not_repeat_primary_key() -> None:
    assert cursor_ordering((SortSpec("id", "DESC"),), "id") == (SortSpec("id", "DESC"),)


def test_token_round_trips_plain_values() -> None:
    token = encode_cursor(ORDERING, [3, 17])
    assert decode_cursor(token, ORDERING) == (3, 17)


def test_token_is_url_safe() -> None:
    token = encode_cursor(ORDERING, ["a/b+c?", 1])
    assert all(c.isalnum() or c in "-_." for c in token)


def test_token_round_trips_typed_values() -> None:
    ordering = tuple(SortSpec(n) for n in ("at", "day", "price", "ref", "id"))
    values = [
        dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC),
        dt.date(2024, 5, 1),
        Decimal("10.50"),
        uuid.UUID(int=7),
        1,
    ]
    token = encode_cursor(ordering, values)
    types = [dt.datetime, dt.date, Decimal, uuid.UUID, int]
    assert decode_cursor(token, ordering, types) == tuple(values)


def test_token_keeps_null_values() -> None:
    token = encode_cursor(ORDERING, [None, 2])
    assert decode_cursor(token, ORDERING, [int, int]) == (None, 2)


def test_tampered_token_is_a_bad_request() -> None:
    token = encode_cursor(ORDERING, [3, 17])
    body, _, mac = token.partition(".")
    forged = encode_cursor(ORDERING, [3, 1]).partition(".")[0]
    with pytest.raises(BadRequest, match="Invalid cursor"):
        decode_cursor(f"{forged}.{mac}", ORDERING)
    assert body != forged


def test_garbage_token_is_a_bad_request() -> None:
    with pytest.raises(BadRequest):
        decode_cursor("not a token!", ORDERING)


def test_token_for_another_sort_is_a_bad_request() -> None:
    token = encode_cursor(ORDERING, [3, 17])
    with pytest.raises(BadRequest, match="different sort order"):
        decode_cursor(token, (SortSpec("stock", "ASC"), SortSpec("id")))


def test_token_signed_with_another_secret_is_rejected() -> None:
    set_cursor_secret(b"first")
    token = encode_cursor(ORDERING, [1, 2])
    set_cursor_secret("second")
    with pytest.raises(BadRequest):
        decode_cursor(token, ORDERING)


def test_value_of_the_wrong_type_is_a_bad_request() -> None:
    token = encode_cursor(ORDERING, ["not-a-number", 2])
    with pytest.raises(BadRequest):
        decode_cursor(token, ORDERING, [int, int])


def test_bad_request_code_is_stable() -> None:
    with pytest.raises(BadRequest) as info:
        decode_cursor("x.y", ORDERING)
    assert info.value.code == "bad_request"
    assert info.value.status_code == 400
