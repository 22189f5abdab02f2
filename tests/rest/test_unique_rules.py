"""Uniqueness rules answered by the constraint; single-write plans without a transaction."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from loom_django.core.command import Command
from loom_django.core.use_case import Exists, F, Input, Rule
from loom_django.core.use_case.use_case import UseCase
from loom_django.rest.model import RestInterface, RestRoute
from loom_django.runtime import get_runtime
from tests.rest.conftest import body
from tests.restapp.models import RestCustomer, RestProduct

JSON = "application/json"


class RegisterCustomer(Command, frozen=True):
    name: str
    email: str


def _blank(value: str) -> bool:
    return not value.strip()


def _email_taken(cmd: RegisterCustomer, fields_set: frozenset[str], email_exists: bool) -> bool:
    return email_exists


class RegisterCustomerUseCase(UseCase[RestCustomer, RestCustomer]):
    """The store's create-user shape: a blank check and a uniqueness rule fed by Exists."""

    rules = (
        Rule.check(F(RegisterCustomer).name, via=_blank, message="name must not be blank"),
        Rule.forbid(_email_taken, message="email already exists").from_params("email_exists"),
    )

    async def execute(
        self,
        cmd: RegisterCustomer = Input(),
        email_exists: bool = Exists(RestCustomer, from_command="email", against="email"),
    ) -> RestCustomer:
        return await self.main_repo.create(cmd)


class ReadsFlagUseCase(UseCase[RestCustomer, RestCustomer]):
    """Same rule, but execute reads the flag: the SELECT must stay."""

    rules = (Rule.forbid(_email_taken, message="email already exists").from_params("email_exists"),)

    async def execute(
        self,
        cmd: RegisterCustomer = Input(),
        email_exists: bool = Exists(RestCustomer, from_command="email", against="email"),
    ) -> Any:
        return email_exists


class TwoWrites(Command, frozen=True):
    sku: str


class TwoWritesUseCase(UseCase[RestProduct, RestProduct]):
    """Two inserts; the second one violates the unique sku."""

    async def execute(self, cmd: TwoWrites = Input()) -> RestProduct:
        row = {"sku": cmd.sku, "name": "first", "price_cents": 1, "stock": 1}
        await self.main_repo.create(row)
        return await self.main_repo.create(row)


class Registration(RestInterface[RestCustomer]):
    prefix = "/registrations"
    routes = (
        RestRoute(use_case=RegisterCustomerUseCase, method="POST", path="/", status_code=201),
    )


def _plan(use_case: type[Any]) -> Any:
    return get_runtime().compiler.compile(use_case)


def _customer_model() -> Any:
    from loom_django.orm import django_model_for

    return django_model_for(RestCustomer)


def _violations(response: Any) -> list[dict[str, Any]]:
    return body(response)["detail"]["violations"]


def test_exists_feeding_only_a_forbid_rule_is_deferred_to_the_constraint():
    plan = _plan(RegisterCustomerUseCase)
    assert [guard.name for guard in plan.deferred_exists] == ["email_exists"]
    assert plan.deferred_exists[0].column == "email"


def test_exists_read_by_execute_is_not_deferred():
    assert _plan(ReadsFlagUseCase).deferred_exists == ()


def test_single_create_plan_runs_without_transaction():
    assert _plan(RegisterCustomerUseCase).transactional is False


def test_two_write_plan_stays_transactional():
    assert _plan(TwoWritesUseCase).transactional is True


@pytest.mark.django_db
def test_duplicate_is_the_rules_422(serve):
    client = serve([Registration])
    first = client.post("/registrations/", {"name": "A", "email": "a@x.io"}, content_type=JSON)
    assert first.status_code == 201
    again = client.post("/registrations/", {"name": "B", "email": "a@x.io"}, content_type=JSON)
    assert again.status_code == 422
    assert body(again)["detail"]["code"] == "rule_violations"
    assert _violations(again) == [{"field": "email_exists", "message": "email already exists"}]
    assert _customer_model().objects.filter(email="a@x.io").count() == 1


@pytest.mark.django_db
def test_duplicate_and_blank_name_are_reported_together(serve):
    client = serve([Registration])
    client.post("/registrations/", {"name": "A", "email": "b@x.io"}, content_type=JSON)
    both = client.post("/registrations/", {"name": " ", "email": "b@x.io"}, content_type=JSON)
    assert both.status_code == 422
    assert _violations(both) == [
        {"field": "name", "message": "name must not be blank"},
        {"field": "email_exists", "message": "email already exists"},
    ]


@pytest.mark.django_db
def test_blank_name_alone_reports_only_the_name(serve):
    client = serve([Registration])
    reply = client.post("/registrations/", {"name": " ", "email": "c@x.io"}, content_type=JSON)
    assert _violations(reply) == [{"field": "name", "message": "name must not be blank"}]


@pytest.mark.django_db(transaction=True)
def test_create_is_one_statement_without_begin_or_select(serve):
    client = serve([Registration])
    with CaptureQueriesContext(connection) as queries:
        reply = client.post("/registrations/", {"name": "A", "email": "d@x.io"}, content_type=JSON)
    assert reply.status_code == 201
    statements = [q["sql"].upper() for q in queries.captured_queries]
    assert len(statements) == 1, statements
    assert statements[0].startswith("INSERT")


@pytest.mark.django_db(transaction=True)
def test_failing_second_write_leaves_nothing_behind():
    from loom_django.core.errors import Conflict
    from loom_django.orm import django_model_for

    with pytest.raises(Conflict):
        get_runtime().invoke_sync(TwoWritesUseCase, payload={"sku": "TWO-1"})
    assert not django_model_for(RestProduct).objects.filter(sku="TWO-1").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_concurrent_creates_of_one_email_let_exactly_one_win(serve):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL lane only (set DATABASE_URL=postgres://...)")
    serve([Registration])
    start = threading.Barrier(20)
    statuses: list[int] = []
    bodies: list[Any] = []
    lock = threading.Lock()

    def create(n: int) -> None:
        try:
            client = Client(raise_request_exception=False)
            start.wait()
            reply = client.post(
                "/registrations/", {"name": f"N{n}", "email": "race@x.io"}, content_type=JSON
            )
            with lock:
                statuses.append(reply.status_code)
                bodies.append(body(reply))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [422] * 19
    losers = [b for b, s in zip(bodies, statuses, strict=True) if s == 422]
    assert all(
        b["detail"]["violations"] == [{"field": "email_exists", "message": "email already exists"}]
        for b in losers
    )
    assert _customer_model().objects.filter(email="race@x.io").count() == 1
