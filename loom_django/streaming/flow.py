"""``StreamFlow``: a named source, a process, an optional output and error routes."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal

from loom_django.streaming.errors import ErrorKind
from loom_django.streaming.nodes import ErrorRoute, FromTopic, IntoTopic, Process

__all__ = ["FLOW_NAME_RE", "StreamFlow"]

FLOW_NAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,99}$")
"""Valid flow names (checked by the compiler; the name is also the default group suffix)."""

ErrorsArg = (
    IntoTopic[Any] | ErrorRoute | Sequence[ErrorRoute] | Mapping[ErrorKind, IntoTopic[Any]] | None
)


class StreamFlow:
    """A declared flow. Nothing connects to Kafka or the database until it is compiled and run.

    Raises:
        ValueError: empty name, empty or conflicting error routes.
        TypeError: ``errors`` is a string or an unsupported object.
    """

    def __init__(
        self,
        name: str,
        source: FromTopic[Any],
        process: Process[Any, Any],
        output: IntoTopic[Any] | None = None,
        errors: ErrorsArg = None,
        *,
        unrouted_errors: Literal["drop", "fail"] = "drop",
        description: str = "",
    ) -> None:
        if not name:
            raise ValueError("StreamFlow requires a non-empty name")
        if unrouted_errors not in ("drop", "fail"):
            raise ValueError(
                f"StreamFlow {name}: unrouted_errors must be 'drop' or 'fail' "
                f"(got {unrouted_errors!r})"
            )
        self.name = name
        self.source = source
        self.process = process
        self.output = output
        self.unrouted_errors = unrouted_errors
        self.description = description
        self._errors = MappingProxyType(_normalise_errors(errors))

    @property
    def errors(self) -> Mapping[ErrorKind, IntoTopic[Any]]:
        """Read-only mapping of error kind to the topic its envelopes go to."""
        return self._errors

    def __repr__(self) -> str:
        return f"StreamFlow({self.name!r})"


def _normalise_errors(errors: ErrorsArg) -> dict[ErrorKind, IntoTopic[Any]]:
    if errors is None:
        return {}
    if isinstance(errors, str | bytes):
        raise TypeError("StreamFlow errors must be an IntoTopic, ErrorRoute(s) or a mapping")
    if isinstance(errors, IntoTopic):
        return dict.fromkeys(ErrorKind, errors)
    if isinstance(errors, ErrorRoute):
        errors = [errors]
    if isinstance(errors, Mapping):
        return {ErrorKind(k): v for k, v in errors.items()}
    routes = list(errors)
    if not routes:
        raise ValueError("StreamFlow errors: an empty list of error routes")
    merged: dict[ErrorKind, IntoTopic[Any]] = {}
    for route in routes:
        if not isinstance(route, ErrorRoute):
            raise TypeError(f"StreamFlow errors: expected ErrorRoute (got {type(route).__name__})")
        for kind in route.kinds:
            if kind in merged and merged[kind] != route.output:
                raise ValueError(f"error kind {kind.value!r} is declared more than once")
            merged[kind] = route.output
    return merged
