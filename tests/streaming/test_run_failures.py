"""A failing run stops cleanly (M tier): the error is raised by the runner once every worker
stopped, nothing of the failed records is committed, and Bytewax never aborts a worker (no
Rust panic or backtrace on stderr; spec §7.2: a one-line reason, a non-zero exit)."""

from __future__ import annotations

import pytest

from loom_django.streaming import FromTopic, IntoTopic, Process, RecordStep, StreamFlow
from loom_django.streaming._records import UnroutedErrorStop
from loom_django.streaming.errors import KafkaDeliveryError
from loom_django.streaming.testing import FlowHarness
from tests.streaming.flows import Order, OrderValidated, Validate

pytestmark = pytest.mark.stream_mem


class Explode(RecordStep[Order, Order]):
    def execute(self, message):
        if message.payload.order_id == "bad":
            raise RuntimeError("cannot price bad")
        return message.payload


def _flow(step=Validate, out=OrderValidated, unrouted="drop"):
    return StreamFlow(
        name="failing",
        source=FromTopic("orders", payload=Order),
        process=Process(step, IntoTopic("out", payload=out)),
        unrouted_errors=unrouted,
    )


def _no_panic(capfd):
    err = capfd.readouterr().err
    assert "panicked" not in err
    assert "stack backtrace" not in err


@pytest.mark.parametrize("workers", [1, 2])
def test_a_delivery_failure_is_raised_by_the_runner_without_a_worker_panic(capfd, workers):
    harness = FlowHarness(_flow(), workers=workers)
    harness.kafka.fail_deliveries("out", 1, "broker unavailable")
    harness.send("orders", Order(order_id="a", amount=1), key="k")
    with pytest.raises(KafkaDeliveryError, match="'out'.*broker unavailable"):
        harness.run()
    _no_panic(capfd)
    assert harness.committed() == {}
    assert harness.runner.control.reason == "failed"


@pytest.mark.parametrize("workers", [1, 2])
def test_an_unrouted_step_error_with_fail_commits_only_what_was_written_before_it(
    capfd, workers
):
    harness = FlowHarness(_flow(Explode, Order, unrouted="fail"), workers=workers)
    harness.send("orders", Order(order_id="good", amount=1), key="k")
    harness.run()
    harness.send("orders", Order(order_id="bad", amount=1), key="k")
    with pytest.raises(UnroutedErrorStop, match="cannot price bad"):
        harness.run()
    _no_panic(capfd)
    assert [r.offset for r in harness.records("out")] == [0]
    assert sum(harness.committed().values()) == 1


def test_after_a_failure_the_next_run_processes_the_failed_record_again(capfd):
    harness = FlowHarness(_flow())
    harness.kafka.fail_deliveries("out", 1, "broker unavailable")
    harness.send("orders", Order(order_id="a", amount=1), key="k")
    with pytest.raises(KafkaDeliveryError):
        harness.run()
    harness.run()
    assert len(harness.records("out")) == 1
    assert sum(harness.committed().values()) == 1
    _no_panic(capfd)
