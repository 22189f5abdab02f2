"""Fan-out nodes: ``Broadcast`` (every message to every route), ``Explode`` (one event into
typed rows, followed by a ``Router``) and ``ExpandRoutes`` (typed rows each to its own process).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from loom_django.streaming.nodes import IntoTopic, Process

__all__ = ["Broadcast", "BroadcastRoute", "Explode", "ExpandRoutes", "PayloadExpander"]


@runtime_checkable
class PayloadExpander(Protocol):
    """Turns one event into rows grouped by class; must be pure (no I/O, no state)."""

    outputs: ClassVar[tuple[type[Any], ...]]

    @classmethod
    def expand(cls, event: Any) -> Mapping[type[Any], list[Any]]:
        """The rows derived from ``event``, by row class, in emission order."""
        ...


@dataclass(frozen=True)
class BroadcastRoute:
    """One route of a :class:`Broadcast`: its process, and the topic written with what
    reaches its end (none: the route ends in its own terminal, or discards)."""

    process: Process[Any, Any]
    output: IntoTopic[Any] | None = None


class Broadcast:
    """Terminal: every message goes to every route. Its offset commits once every route
    wrote (or discarded) what it derived from it.

    Raises:
        ValueError: no routes.
    """

    def __init__(self, *routes: BroadcastRoute) -> None:
        if not routes:
            raise ValueError("Broadcast requires at least one route")
        for route in routes:
            if not isinstance(route, BroadcastRoute):
                raise TypeError(f"Broadcast routes must be BroadcastRoute (got {route!r})")
        self.routes: tuple[BroadcastRoute, ...] = routes


@dataclass(frozen=True)
class Explode:
    """Emits every row ``exploder.expand(payload)`` produces as its own message (same
    metadata); must be followed directly by a ``Router`` that handles every output class."""

    exploder: type[PayloadExpander]


class ExpandRoutes:
    """Terminal: expands each event once and sends each row class to its own process
    (``default`` receives classes without a route; without one they are dropped).

    Raises:
        ValueError: neither routes nor a default.
    """

    def __init__(
        self,
        *,
        expander: type[PayloadExpander],
        routes: Mapping[type[Any], Process[Any, Any]],
        default: Process[Any, Any] | None = None,
    ) -> None:
        if not routes and default is None:
            raise ValueError("ExpandRoutes requires at least one route or a default")
        self.expander = expander
        self.routes: dict[type[Any], Process[Any, Any]] = dict(routes)
        self.default = default

    def branches(self) -> list[tuple[str, Process[Any, Any]]]:
        """``(label, process)`` per route in path order, then the default."""
        out = [(cls.__qualname__, p) for cls, p in self.routes.items()]
        if self.default is not None:
            out.append(("default", self.default))
        return out
