"""``loom_stream list|check|describe`` in process, and the door's system checks (tier U)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from loom_django.runtime import get_runtime
from loom_django.streaming import Drain, FromTopic, IntoTopic, Process, StreamFlow
from loom_django.streaming.checks import (
    E401,
    E402,
    W401,
    check_compiled_flows,
    check_duplicate_flows,
    check_flow_warnings,
)
from loom_django.streaming.registry import registry
from tests.streaming.flows import Order, Validate, kafka_config

SECRET = "hunter2-sasl-secret"


def _config():
    cfg = kafka_config()
    cfg["kafka"]["consumer"]["security"] = {
        "protocol": "SASL_SSL",
        "sasl_mechanism": "PLAIN",
        "sasl_username": "svc",
        "sasl_password": SECRET,
    }
    return cfg


@pytest.fixture
def flows(settings):
    good = StreamFlow(
        "good",
        FromTopic("in", payload=Order),
        Process(Validate, IntoTopic("out")),
        description="works",
    )
    broken = StreamFlow("broken", FromTopic("in", payload=Order), Process(Validate))
    twin = StreamFlow("good", FromTopic("other", payload=Order), Process(Drain()))
    settings.LOOM = {"CONFIG": _config()}
    saved = (registry._entries, registry.duplicates, registry.provider, registry.config)
    registry.load([good, broken, twin], config=_config(), provider=get_runtime)
    yield
    registry._entries, registry.duplicates, registry.provider, registry.config = saved


def test_list_json_shows_every_flow_and_exits_0_with_a_broken_one(flows):
    out = StringIO()
    call_command("loom_stream", "list", "--format", "json", stdout=out)
    rows = {row["name"]: row for row in json.loads(out.getvalue())}
    assert rows["good"]["status"] == "ok"
    assert rows["good"]["source_topics"] == ["in"]
    assert rows["good"]["group"] == "loom.good"
    assert rows["good"]["outputs"] == ["out"]
    assert rows["broken"]["status"] == "error"


def test_check_exits_3_printing_every_error_and_0_when_all_compile(flows):
    err = StringIO()
    with pytest.raises(CommandError) as info:
        call_command("loom_stream", "check", stdout=StringIO(), stderr=err)
    assert info.value.returncode == 3
    assert "no terminal output" in err.getvalue()
    call_command("loom_stream", "check", "good", stdout=StringIO())


def test_describe_never_prints_the_sasl_password(flows):
    for fmt in ("text", "json"):
        out = StringIO()
        call_command("loom_stream", "describe", "good", "--format", fmt, stdout=out)
        assert SECRET not in out.getvalue()
        assert "sasl.username" in out.getvalue()


def test_unknown_flow_is_a_usage_error(flows):
    with pytest.raises(CommandError) as info:
        call_command("loom_stream", "describe", "nope", stdout=StringIO())
    assert info.value.returncode == 2


def test_system_checks_report_duplicates_compile_failures_and_unrouted_errors(flows):
    assert [m.id for m in check_duplicate_flows()] == [E401]
    failures = check_compiled_flows()
    assert [m.id for m in failures] == [E402]
    assert "no terminal output" in failures[0].hint
    assert W401 in {m.id for m in check_flow_warnings()}
    assert all(m.hint for m in [*check_duplicate_flows(), *failures, *check_flow_warnings()])


def test_a_health_file_in_a_missing_directory_is_a_usage_error(flows, tmp_path):
    """streaming §7.2: ``--health-file`` is checked before anything starts."""
    target = tmp_path / "missing" / "health"
    with pytest.raises(CommandError) as info:
        call_command("loom_stream", "run", "good", "--health-file", str(target), stdout=StringIO())
    assert "no writable directory" in str(info.value) and str(target) in str(info.value)
