"""Property-based run of schemathesis over the example project's OpenAPI document.

Every generated request must get a non-5xx answer whose status code, content type and
body conform to the document. The run covers at least 500 generated cases.
"""

from __future__ import annotations

from collections.abc import Iterator
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

from tests.rest.servers import example_database, migrate, run_server  # noqa: E402

pytestmark = pytest.mark.slow

MIN_CASES = 500


@pytest.fixture(scope="module")
def store_base() -> Iterator[str]:
    with example_database() as url:
        migrate(url)
        with run_server("uvicorn", url) as server:
            yield server.base.removesuffix("/api")


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _run_operation(operation: Any, base_url: str, failures: list[str]) -> int:
    ran = 0

    @SETTINGS
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        nonlocal ran
        ran += 1
        try:
            case.call_and_validate(
                base_url=base_url, headers={"Connection": "close"}, checks=CHECKS
            )
        except Exception as exc:  # collected, reported together below
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:800]}")
            raise

    try:
        run()
    except Exception:
        pass
    return ran


def test_store_api_conforms_to_its_openapi(store_base: str) -> None:
    schema = schemathesis.openapi.from_url(f"{store_base}/api/openapi.json")
    failures: list[str] = []
    total = 0
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:
        total += _run_operation(operation, store_base, failures)
    assert not failures, "\n\n".join(dict.fromkeys(failures))
    print(f"schemathesis: {total} generated cases over {len(operations)} operations")
    assert total >= MIN_CASES, f"only {total} generated cases"
