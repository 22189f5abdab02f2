"""``IntoModel``: payloads become rows (create or upsert) in one transaction per micro-batch;
offsets complete after the commit; a row violating a constraint is a BUSINESS error while the
others are written (spec §2.5, §7.4)."""

from __future__ import annotations

import msgspec
import pytest
from django.db import transaction

from loom_django.orm.mapping import django_model_for
from loom_django.streaming import (
    ErrorKind,
    FromTopic,
    IntoModel,
    IntoTopic,
    Process,
    StreamCompilationError,
    StreamFlow,
    compile_flow,
    model_sink,
)
from loom_django.streaming._runtime import FlowEngine
from tests.streaming.flows import kafka_config
from tests.streaming.usecases import feed
from tests.testapp.models import Product

ProductModel = django_model_for(Product)


class ProductRow(msgspec.Struct, frozen=True):
    sku: str
    name: str
    price_cents: int
    stock: int | None = 1


class NoPrice(msgspec.Struct, frozen=True):
    sku: str
    name: str
    stock: int


def _engine(sink, payload=ProductRow):
    flow = StreamFlow(
        "rows", FromTopic("in", payload=payload), Process(sink), errors=IntoTopic("errors")
    )
    return FlowEngine(compile_flow(flow, config=kafka_config()))


def _products() -> dict[str, tuple[str, int]]:
    rows = django_model_for(Product).objects.values_list("sku", "name", "stock")
    return {sku: (name, stock) for sku, name, stock in rows}


@pytest.mark.django_db(transaction=True)
def test_upsert_writes_new_rows_and_updates_existing_ones():
    """streaming §11.70: upsert on unique_fields=["sku"]."""
    django_model_for(Product).objects.create(sku="a", name="old", price_cents=1, stock=1)
    engine = _engine(IntoModel(ProductModel, mode="upsert", unique_fields=["sku"]))
    emits, tracker = feed(
        engine,
        ProductRow(sku="a", name="new", price_cents=2, stock=5),
        ProductRow(sku="b", name="bee", price_cents=3, stock=7),
    )
    assert emits == []
    assert _products() == {"a": ("new", 5), "b": ("bee", 7)}
    assert tracker.to_commit() == {("in", 0): 2}


@pytest.mark.django_db(transaction=True)
def test_offsets_complete_only_after_the_transaction_commits(monkeypatch):
    """streaming §11.70: at COMMIT time nothing of the batch is committable yet."""
    seen = []
    trackers = []
    real = model_sink._bulk

    def spy(op, objs):
        real(op, objs)
        transaction.on_commit(lambda: seen.append(trackers[0].to_commit()), using=op.using)

    monkeypatch.setattr(model_sink, "_bulk", spy)
    engine = _engine(IntoModel(ProductModel, mode="upsert", unique_fields=["sku"]))
    from loom_django.streaming._runtime import RawRecord
    from loom_django.streaming.testing import envelope_bytes
    from loom_django.streaming.tracker import AckTracker

    tracker = AckTracker()
    trackers.append(tracker)
    rows = [ProductRow(sku=s, name=s, price_cents=1) for s in ("x", "y")]
    records = [
        RawRecord(envelope_bytes(r), None, {}, "in", 0, i, None, tracker.register("in", 0, i))
        for i, r in enumerate(rows)
    ]
    assert engine.process(records) == []
    assert seen == [{}]
    assert tracker.to_commit() == {("in", 0): 2}


@pytest.mark.django_db(transaction=True)
def test_a_row_violating_another_constraint_is_a_business_error_and_the_rest_is_written():
    """streaming §11.70: NOT NULL violated by one row → one BUSINESS envelope carrying that
    payload; the other rows are written; every offset completes once its error is routed."""
    engine = _engine(IntoModel(ProductModel, mode="upsert", unique_fields=["sku"]))
    emits, tracker = feed(
        engine,
        ProductRow(sku="p", name="pen", price_cents=1),
        ProductRow(sku="q", name="broken", price_cents=1, stock=None),
        ProductRow(sku="r", name="rod", price_cents=1),
    )
    [envelope] = [e.message.payload for e in emits]
    assert envelope.kind is ErrorKind.BUSINESS
    assert envelope.original_message.payload.sku == "q"
    assert _products() == {"p": ("pen", 1), "r": ("rod", 1)}
    assert tracker.to_commit() == {("in", 0): 3}


@pytest.mark.django_db(transaction=True)
def test_create_mode_rejects_a_duplicate_key_row_only():
    """streaming §7.4: in create mode a unique violation isolates that row."""
    django_model_for(Product).objects.create(sku="dup", name="first", price_cents=1, stock=1)
    engine = _engine(IntoModel(ProductModel, mode="create"))
    emits, _ = feed(
        engine,
        ProductRow(sku="dup", name="second", price_cents=1),
        ProductRow(sku="fresh", name="fresh", price_cents=1),
    )
    assert [e.message.payload.kind for e in emits] == [ErrorKind.BUSINESS]
    assert _products() == {"dup": ("first", 1), "fresh": ("fresh", 1)}


def test_a_payload_missing_a_required_field_or_an_unknown_unique_field_fails_compilation():
    """streaming §2.12.3: IntoModel's field mapping is checked at compile time."""
    with pytest.raises(StreamCompilationError) as info:
        _engine(IntoModel(ProductModel, mode="upsert", unique_fields=["code"]), payload=NoPrice)
    text = str(info.value)
    assert "Product.price_cents is required but NoPrice has no such field" in text
    assert "Product has no field 'code'" in text


def test_a_model_that_is_not_a_django_model_fails_compilation():
    """streaming §2.5: IntoModel takes a Django model class (a loom model via
    django_model_for)."""
    with pytest.raises(StreamCompilationError, match="is not a Django model"):
        _engine(IntoModel(Product))


def test_invalid_options_are_rejected():
    """streaming §2.5: mode, upsert target and batch size are validated."""
    with pytest.raises(ValueError, match="create, insert or upsert"):
        IntoModel(ProductModel, mode="merge")
    with pytest.raises(ValueError, match="needs unique_fields"):
        IntoModel(ProductModel, mode="upsert")
    with pytest.raises(ValueError, match="batch_size"):
        IntoModel(ProductModel, batch_size=0)


def test_describe_lists_the_model_sink_and_its_connection():
    """streaming §7.2: describe shows IntoModel sinks; the worker's connection is budgeted."""
    from loom_django.streaming.describe import describe

    engine = _engine(IntoModel(ProductModel, mode="upsert", unique_fields=["sku"]))
    database = describe(engine.plan)["database"]
    assert database["model_sinks"] == {"0": ProductModel._meta.label}
    assert database["connection_budget"] == 1
