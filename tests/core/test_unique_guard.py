"""A uniqueness rule answered by the constraint gives the same violations as the SELECT."""

from __future__ import annotations

import pytest

from loom_django.core.errors import RuleViolations
from loom_django.testing import build_test_runtime
from tests.core.seed_app import CreateUserUseCase, User


def _runtime():
    return build_test_runtime(models=[User], use_cases=[CreateUserUseCase])


def _violations(runtime, payload):
    with pytest.raises(RuleViolations) as caught:
        runtime.invoke_sync(CreateUserUseCase, payload=payload)
    return [(v.field, v.message) for v in caught.value.violations]


def test_seed_create_user_defers_its_email_exists():
    plan = _runtime().compiler.compile(CreateUserUseCase)
    assert [(g.name, g.table, g.column) for g in plan.deferred_exists] == [
        ("email_exists", "users", "email")
    ]
    assert plan.transactional is False


def test_duplicate_email_is_the_rule_violation():
    runtime = _runtime()
    runtime.invoke_sync(CreateUserUseCase, payload={"full_name": "A", "email": "a@b.co"})
    assert _violations(runtime, {"full_name": "B", "email": "a@b.co"}) == [
        ("email_exists", "email already exists")
    ]


def test_duplicate_with_other_failures_reports_all_together():
    runtime = _runtime()
    runtime.invoke_sync(CreateUserUseCase, payload={"full_name": "A", "email": "a@b.co"})
    found = _violations(runtime, {"full_name": " ", "email": "a@b.co"})
    assert ("email_exists", "email already exists") in found
    assert len(found) == 2


def test_fresh_email_with_other_failure_reports_only_that_failure():
    found = _violations(_runtime(), {"full_name": " ", "email": "new@b.co"})
    assert len(found) == 1
    assert found[0][0] != "email_exists"
