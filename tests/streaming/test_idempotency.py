"""``InvokeUseCase(idempotency=...)``: the inbox record commits with the use case's writes, so
a redelivered message writes nothing again and re-emits the stored result (spec §5.8)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from loom_django.orm.mapping import django_model_for
from loom_django.streaming import ErrorKind, InvokeUseCase
from loom_django.streaming.inbox import parse_duration, prune
from loom_django.streaming.models import StreamInbox
from tests.jobsapp.models import JobRecord
from tests.streaming.usecases import (
    AsyncOrmUseCase,
    CreateNamedUseCase,
    NameAccepted,
    NameRequested,
    engine_for,
    feed,
)


def _rows() -> list[str]:
    return sorted(django_model_for(JobRecord).objects.values_list("name", flat=True))


def _outputs(emits):
    return [e.message.payload for e in emits if e.sink.topic == "out"]


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_message_creates_one_row_and_emits_two_identical_outputs():
    """streaming §11.66: the same record twice (simulated redelivery) → one row, two equal
    outputs."""
    engine = engine_for(
        InvokeUseCase(CreateNamedUseCase, result=NameAccepted, idempotency="message")
    )
    first, _ = feed(engine, NameRequested(name="once"))
    again, tracker = feed(engine, NameRequested(name="once"))  # same topic, partition, offset
    assert _rows() == ["once"]
    [a], [b] = _outputs(first), _outputs(again)
    assert isinstance(b, NameAccepted) and a == b
    assert tracker.to_commit() == {("in", 0): 1}
    assert list(StreamInbox.objects.values_list("flow", "key")) == [("uc", "in:0:0")]


@pytest.mark.django_db(transaction=True)
def test_a_business_key_dedups_different_messages_with_the_same_key():
    """streaming §5.8: a callable key (a business id) dedups across offsets."""
    engine = engine_for(
        InvokeUseCase(
            CreateNamedUseCase,
            result=NameAccepted,
            idempotency=lambda message: f"name:{message.payload.name}",
        )
    )
    emits, _ = feed(engine, NameRequested(name="k"), NameRequested(name="k"))
    assert _rows() == ["k"]
    assert len(_outputs(emits)) == 2
    assert list(StreamInbox.objects.values_list("key", flat=True)) == ["name:k"]


@pytest.mark.django_db(transaction=True)
def test_a_failed_execution_records_nothing_so_the_redelivery_runs_again():
    """streaming §5.8: the inbox row is part of the use case's transaction (a failure leaves
    no row, and the key is free)."""
    engine = engine_for(InvokeUseCase(CreateNamedUseCase, idempotency="message"))
    emits, _ = feed(engine, NameRequested(name=" "))
    assert [e.message.payload.kind for e in emits] == [ErrorKind.BUSINESS]
    assert StreamInbox.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_idempotency_holds_in_bridged_mode():
    """streaming §11.66 with mode="bridged": the inbox record and the writes commit together
    on the lane thread."""
    engine = engine_for(InvokeUseCase(AsyncOrmUseCase, mode="bridged", idempotency="message"))
    feed(engine, NameRequested(name="b"))
    again, _ = feed(engine, NameRequested(name="b"))
    assert _rows() == ["b"]
    assert len(_outputs(again)) == 1


@pytest.mark.django_db(transaction=True)
def test_a_step_that_emits_nothing_replays_nothing():
    """streaming §5.8: a filtered result is stored as 'nothing' and stays filtered."""
    engine = engine_for(
        InvokeUseCase(CreateNamedUseCase, result=lambda value, message: None, idempotency="message")
    )
    feed(engine, NameRequested(name="quiet"))
    again, tracker = feed(engine, NameRequested(name="quiet"))
    assert (again, _rows()) == ([], ["quiet"])
    assert tracker.to_commit() == {("in", 0): 1}


def test_durations_parse_with_their_unit():
    """streaming §7.2: prune-inbox --older-than takes s, m, h, d, w."""
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration("12h") == timedelta(hours=12)
    assert parse_duration("2w") == timedelta(weeks=2)
    with pytest.raises(ValueError, match="7d"):
        parse_duration("7 days")


def _aged(key: str, age: timedelta) -> None:
    row = StreamInbox.objects.create(flow="f", key=key)
    StreamInbox.objects.filter(pk=row.pk).update(created_at=timezone.now() - age)


@pytest.mark.django_db
def test_prune_deletes_rows_older_than_the_window_only():
    """streaming §5.8: retention keeps recent keys (redeliveries still dedup)."""
    _aged("old", timedelta(days=8))
    _aged("new", timedelta(hours=1))
    assert prune(timedelta(days=7)) == 1
    assert list(StreamInbox.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.django_db
def test_prune_inbox_command_reports_the_deleted_count(capsys):
    """streaming §7.2: manage.py loom_stream prune-inbox --older-than 7d."""
    _aged("old", timedelta(days=30))
    call_command("loom_stream", "prune-inbox", "--older-than", "7d")
    assert "deleted 1 inbox row(s) older than 7d" in capsys.readouterr().out
    assert StreamInbox.objects.count() == 0


def test_prune_inbox_command_rejects_a_bad_duration_with_exit_2():
    """streaming §7.2: a usage error exits 2."""
    from django.core.management.base import CommandError

    with pytest.raises(CommandError) as info:
        call_command("loom_stream", "prune-inbox", "--older-than", "soon")
    assert info.value.returncode == 2


@pytest.mark.urls("tests.streaming.admin_urls")
@pytest.mark.django_db
def test_inbox_admin_lists_keys_read_only(admin_client):
    """streaming §5.8: the inbox has a read-only admin page listing flow and key."""
    StreamInbox.objects.create(flow="orders", key="orders.in:0:42")
    listing = admin_client.get("/admin/loom_django/streaminbox/", {"q": "orders.in:0:42"})
    assert listing.status_code == 200
    assert b"orders.in:0:42" in listing.content
    assert admin_client.get("/admin/loom_django/streaminbox/add/").status_code == 403
