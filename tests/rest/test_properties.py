"""Property-based tests (hypothesis) of the query-string parser and path binding: any
input is either accepted canonically or refused with a 4xx error, never a crash."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loom_django.core.engine.coercion import CoercionFailed, build_coercer, parse_int
from loom_django.core.errors import LoomError, ValidationError
from loom_django.core.repository.abc.query import PaginationMode, QuerySpec
from loom_django.rest.errors import QueryParamError
from loom_django.rest.query import FieldCatalog, ListQueryParser
from tests.restapp.models import RestProduct

CANONICAL = re.compile(r"[+-]?[0-9]{1,4300}\Z")
PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))

KEYS = st.one_of(
    st.sampled_from(
        [
            "page",
            "limit",
            "sort",
            "direction",
            "pagination",
            "after",
            "cursor",
            "count",
            "stock",
            "stock__gte",
            "priceCents__in",
            "name__ilike",
            "note__is_null",
            "reviews.body",
            "category",
            "sku__bogus",
            "__",
            "id__lt",
        ]
    ),
    st.text(min_size=1, max_size=12),
)
VALUES = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["1_0", "\uff11", "\u0661", " 5", "1e3", "1.0", "-0", "+7", "true", "id"]),
)


def _parser() -> ListQueryParser:
    return ListQueryParser(
        catalog=FieldCatalog.for_model(RestProduct),
        pagination_mode=PaginationMode.OFFSET,
        allow_override=True,
        default_limit=20,
        max_limit=100,
    )


@PROPERTY
@given(st.lists(st.tuples(KEYS, VALUES), max_size=6))
def test_any_query_string_parses_or_is_a_400(pairs):
    query = QueryDict(urlencode(pairs), mutable=False)
    try:
        spec = _parser().parse(query)
    except QueryParamError as exc:
        assert exc.status_code == 400
        return
    assert isinstance(spec, QuerySpec)
    assert 1 <= spec.limit <= 100
    assert spec.page >= 1


@PROPERTY
@given(VALUES)
def test_page_and_limit_accept_only_canonical_positive_integers(raw):
    query = QueryDict(urlencode([("page", raw)]))
    try:
        spec = _parser().parse(query)
    except QueryParamError:
        assert raw == "" or not CANONICAL.match(raw) or int(raw) < 1 or int(raw) > 10**9
        return
    assert raw == "" or (CANONICAL.match(raw) and spec.page == int(raw))


@PROPERTY
@given(st.one_of(st.text(max_size=30), VALUES, st.from_regex(CANONICAL, fullmatch=True)))
def test_parse_int_reads_exactly_the_canonical_form(text):
    value = parse_int(text)
    if CANONICAL.match(text):
        assert value == int(text)
    else:
        assert value is None


@PROPERTY
@given(st.one_of(st.text(max_size=30), VALUES, st.integers().map(str)))
def test_int_path_binding_converts_canonical_text_or_refuses_it(text):
    coerce = build_coercer(int)
    assert coerce is not None
    try:
        value = coerce(text)
    except CoercionFailed:
        assert parse_int(text) is None
    else:
        assert value == parse_int(text)


@pytest.mark.django_db
@PROPERTY
@given(
    st.one_of(st.text(max_size=30), VALUES, st.just("9" * 5000)),
    st.one_of(st.text(max_size=8), st.integers(min_value=0, max_value=10**6).map(str)),
)
def test_the_engine_binds_path_values_or_answers_a_validation_error(customer_id, address_id):
    from loom_django.runtime import get_runtime
    from tests.restapp.use_cases import GetAddressIdsUseCase

    runtime = get_runtime()
    params = {"customer_id": customer_id, "address_id": address_id}
    try:
        result = runtime.executor.execute_sync(
            runtime.factory.build(GetAddressIdsUseCase), params=params
        )
    except ValidationError as exc:
        assert exc.status_code == 422
        assert {v.field for v in exc.violations} <= {"customer_id", "address_id"}
        return
    except LoomError as exc:  # pragma: no cover - reported with its type
        raise AssertionError(f"unexpected {type(exc).__name__}: {exc}") from exc
    assert result.customer_id == parse_int(customer_id)
    assert result.address_id == parse_int(address_id)
