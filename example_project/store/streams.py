"""Stream flows of the store: ``orders`` messages become orders through the create-order use
case (its rules enforced); results go to ``order-events``, failures to ``orders-dlq`` with the
reason."""

from __future__ import annotations

import msgspec

from loom_django.streaming import (
    ErrorKind,
    ErrorRoute,
    FromTopic,
    IntoTopic,
    InvokeUseCase,
    Process,
    RetryPolicy,
    StreamFlow,
)
from store.use_cases import CreateOrderUseCase


class PlaceOrder(msgspec.Struct, frozen=True):
    """An order request on the ``orders`` topic."""

    __loom_message_type__ = "store.place_order"

    user_id: int
    address_id: int
    status: str = "created"
    payment_method: str = "card"


class OrderCreated(msgspec.Struct, frozen=True):
    """Emitted to ``order-events`` once the order row is committed."""

    __loom_message_type__ = "store.order_created"

    id: int
    user_id: int
    address_id: int
    status: str


orders = StreamFlow(
    name="orders",
    description="orders -> CreateOrderUseCase -> order-events (failures to orders-dlq)",
    source=FromTopic("orders", payload=PlaceOrder),
    process=Process(
        InvokeUseCase(
            CreateOrderUseCase,
            result=OrderCreated,
            retry=RetryPolicy(max_attempts=3, backoff_ms=50),
        ),
        IntoTopic("order-events", payload=OrderCreated),
    ),
    errors=[
        ErrorRoute(
            (ErrorKind.BUSINESS, ErrorKind.TASK, ErrorKind.WIRE, ErrorKind.ROUTING),
            IntoTopic("orders-dlq"),
        )
    ],
)

STREAM_FLOWS = [orders]
