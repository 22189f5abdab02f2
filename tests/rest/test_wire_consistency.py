"""Issue 11 item 4: plain structs go out camelCase; validation names every bad field as sent."""

from __future__ import annotations

import msgspec
import pytest

from loom_django.core.command import Command
from loom_django.core.use_case import Input
from loom_django.core.use_case.use_case import UseCase
from loom_django.rest.encoding import needs_camel, result_encoder
from loom_django.rest.model import RestInterface, RestRoute
from tests.rest.conftest import body
from tests.restapp.models import RestProduct

JSON = "application/json"


class StockTotals(msgspec.Struct):
    item_count: int
    low_stock_skus: list[str]


class TotalsUseCase(UseCase[RestProduct, StockTotals]):
    async def execute(self) -> StockTotals:
        return StockTotals(item_count=2, low_stock_skus=["A-1"])


class NewThing(Command, frozen=True):
    full_name: str
    price_cents: int
    stock: int


class EchoUseCase(UseCase[RestProduct, int]):
    async def execute(self, cmd: NewThing = Input()) -> int:
        return cmd.price_cents


class Wire(RestInterface[RestProduct]):
    prefix = "/wire"
    routes = (
        RestRoute(use_case=TotalsUseCase, method="GET", path="/totals"),
        RestRoute(use_case=EchoUseCase, method="POST", path="/echo"),
    )


def test_plain_struct_result_goes_out_camel_case(serve):
    client = serve([Wire])
    reply = client.get("/wire/totals")
    assert reply.status_code == 200
    assert body(reply) == {"itemCount": 2, "lowStockSkus": ["A-1"]}


def test_openapi_shows_the_plain_struct_in_camel_case(serve):
    client = serve([Wire])
    schema = body(client.get("/openapi.json"))
    ok = schema["paths"]["/wire/totals"]["get"]["responses"]["200"]["content"]
    name = ok["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][name]["properties"]) == {"itemCount", "lowStockSkus"}


def test_models_and_responses_keep_msgspec_direct_encoder():
    from loom_django.core.response import Response

    class Out(Response, frozen=True):
        item_count: int

    assert not needs_camel(Out)
    assert not needs_camel(RestProduct)
    assert result_encoder(RestProduct) is result_encoder(None)
    assert needs_camel(list[StockTotals])


@pytest.mark.django_db
def test_validation_reports_every_bad_field_as_the_client_named_it(serve):
    client = serve([Wire])
    reply = client.post("/wire/echo", {"fullName": 7, "priceCents": "lots"}, content_type=JSON)
    assert reply.status_code == 422
    detail = body(reply)["detail"]
    assert detail["code"] == "validation_error"
    assert [v["field"] for v in detail["violations"]] == ["fullName", "priceCents", "stock"]
    assert detail["violations"][2]["message"] == "field required"


@pytest.mark.django_db
def test_snake_case_keys_are_named_as_sent(serve):
    client = serve([Wire])
    reply = client.post(
        "/wire/echo", {"full_name": "x", "price_cents": "lots", "stock": 1}, content_type=JSON
    )
    assert [v["field"] for v in body(reply)["detail"]["violations"]] == ["price_cents"]
