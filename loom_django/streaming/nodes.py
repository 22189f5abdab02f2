"""Process nodes: sources, sinks, shape adapters, scopes, routers and error routes."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from loom_django.streaming.binding import Configurable
from loom_django.streaming.errors import ErrorKind
from loom_django.streaming.steps import StreamShape

__all__ = [
    "CollectBatch",
    "ContextFactory",
    "Drain",
    "ErrorRoute",
    "ForEach",
    "Fork",
    "ForkRoute",
    "FromMultiTypeTopic",
    "FromTopic",
    "IntoTopic",
    "PartitionGuarantee",
    "PartitionPolicy",
    "Process",
    "ResourceScope",
    "RetryPolicy",
    "Route",
    "Router",
    "WindowStrategy",
    "With",
    "WithAsync",
]

In = TypeVar("In")
Out = TypeVar("Out")
P = TypeVar("P")


class Process(Generic[In, Out]):
    """An ordered, immutable sequence of nodes."""

    __slots__ = ("_nodes",)

    def __init__(self, *nodes: object) -> None:
        if not nodes:
            raise ValueError("Process requires at least one node")
        self._nodes: tuple[object, ...] = tuple(nodes)

    @property
    def nodes(self) -> tuple[object, ...]:
        """The nodes in order."""
        return self._nodes

    def __iter__(self) -> Iterator[object]:
        return iter(self._nodes)

    def __len__(self) -> int:
        return len(self._nodes)

    def __repr__(self) -> str:
        return f"Process({', '.join(_label(n) for n in self._nodes)})"


def _label(node: object) -> str:
    if isinstance(node, type):
        return node.__qualname__
    return type(node).__qualname__


@dataclass(frozen=True)
class FromTopic(Generic[P]):
    """Source: the records of a logical topic reference, decoded into ``Message[payload]``.

    ``name`` selects ``kafka.consumers.<name>``; without ``topics`` there, it is the topic.
    """

    name: str
    payload: type[P]
    shape: StreamShape = StreamShape.RECORD
    codec: str | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("FromTopic requires a name")


@dataclass(frozen=True)
class FromMultiTypeTopic(Generic[P]):
    """Source: one topic carrying several payload types, decoded by the envelope's message type.

    ``payloads`` lists payload classes, ``ErrorEnvelope[T]`` (error-topic records whose
    original payload is a ``T``) and ``DecodeError`` (WIRE error records).

    Raises:
        ValueError: empty name or fewer than two payload types.
    """

    name: str
    payloads: tuple[Any, ...]
    shape: StreamShape = StreamShape.RECORD
    codec: str | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("FromMultiTypeTopic requires a name")
        if len(self.payloads) < 2:
            raise ValueError(
                f"FromMultiTypeTopic needs at least two payload types (got {len(self.payloads)}); "
                "use FromTopic for one"
            )


class PartitionGuarantee(StrEnum):
    """Declarative ordering guarantee of a partition policy (shown by ``describe``)."""

    NONE = "none"
    BEST_EFFORT = "best_effort"
    ENTITY_STABLE = "entity_stable"


@dataclass(frozen=True)
class PartitionPolicy:
    """How an output key is chosen (§3.5).

    ``strategy`` is an object with ``partition_key(message)`` or a selector such as
    ``payload.order_id``; its value becomes the key when the input has none, or always when
    ``allow_repartition`` is set.
    """

    strategy: Any
    guarantee: PartitionGuarantee = PartitionGuarantee.BEST_EFFORT
    allow_repartition: bool = False

    def key_for(self, message: Any) -> bytes | str | None:
        """The strategy's key for ``message``."""
        fn = getattr(self.strategy, "partition_key", None)
        value = fn(message) if fn is not None else self.strategy.select(message)
        if value is None or isinstance(value, bytes | str):
            return value
        return str(value)


@dataclass(frozen=True)
class IntoTopic(Generic[P]):
    """Terminal sink: writes each message to a logical topic reference.

    ``payload`` (optional) is checked at compile time and at runtime. ``dlq`` receives the
    records whose *delivery* failed, with header ``x-dlq-error``. ``lineage_headers=False``
    writes the envelope alone: no trace, correlation, causation or content-type headers and
    no inbound headers passed through (the envelope carries the same metadata), for
    consumers that read the envelope; not with the ``json-raw`` codec, whose metadata
    travels only in headers.
    """

    name: str
    payload: type[P] | None = None
    shape: StreamShape = StreamShape.RECORD
    partitioning: PartitionPolicy | None = None
    dlq: str | None = None
    codec: str | None = None
    lineage_headers: bool = True

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("IntoTopic requires a name")


@dataclass(frozen=True)
class Drain:
    """Terminal: discards messages and completes them (their offsets commit)."""


class WindowStrategy(StrEnum):
    """Batch windows; only ``COLLECT`` (count or timeout) is executable."""

    COLLECT = "collect"
    TUMBLING = "tumbling"
    SESSION = "session"


@dataclass(frozen=True)
class CollectBatch:
    """Groups records of one source partition into batches of at most ``max_records``.

    A batch never waits longer than ``timeout_ms``: the runtime closes partial batches at the
    end of each micro-batch it polled, which is sooner.
    """

    max_records: int
    timeout_ms: int
    window: WindowStrategy = WindowStrategy.COLLECT
    event_time: bool = False

    def __post_init__(self) -> None:
        if self.max_records < 1:
            raise ValueError(f"CollectBatch.max_records must be >= 1 (got {self.max_records})")
        if self.timeout_ms < 1:
            raise ValueError(f"CollectBatch.timeout_ms must be >= 1 (got {self.timeout_ms})")
        if self.event_time and self.window is WindowStrategy.COLLECT:
            raise ValueError("CollectBatch.event_time requires a window other than COLLECT")


@dataclass(frozen=True)
class ForEach:
    """Flattens a batch back into records."""


class ResourceScope(StrEnum):
    """How long a ``With`` dependency lives: the worker's life or one batch."""

    WORKER = "worker"
    BATCH = "batch"


class ContextFactory(Configurable):
    """A dependency built fresh (``factory()`` returns a context manager) each time it opens.

    Subclasses may be declared with ``from_config`` like steps."""

    __slots__ = ("factory",)

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory

    def create(self) -> Any:
        """A new context manager."""
        return self.factory()


class With:
    """Runs ``process`` (record steps, optionally ending in ``IntoTopic``) with dependencies.

    Dependencies are passed to each step's ``execute`` by keyword. A ``ContextFactory`` or a
    context manager is entered (per worker, or per batch with ``ResourceScope.BATCH``) and its
    ``__enter__`` value injected; other values are injected as they are.

    Raises:
        TypeError: a dependency is an async context manager (use ``WithAsync``).
    """

    def __init__(
        self,
        scope: ResourceScope = ResourceScope.WORKER,
        *,
        process: Process[Any, Any],
        retry: RetryPolicy | None = None,
        **dependencies: Any,
    ) -> None:
        self.scope = scope
        self.process = process
        self.retry = retry
        self.context_factories: dict[str, ContextFactory] = {}
        self.context_managers: dict[str, contextlib.AbstractContextManager[Any]] = {}
        self.plain_deps: dict[str, Any] = {}
        for name, value in dependencies.items():
            if isinstance(value, ContextFactory):
                self.context_factories[name] = value
            elif isinstance(value, contextlib.AbstractContextManager):
                self.context_managers[name] = value
            elif isinstance(value, contextlib.AbstractAsyncContextManager):
                raise TypeError(
                    f"With: dependency {name!r} is an async context manager; use WithAsync"
                )
            else:
                self.plain_deps[name] = value


class WithAsync(With):
    """Runs ``process`` for every message of a micro-batch as concurrent tasks on the async
    bridge; steps may define ``async def execute``.

    At most ``max_concurrency`` messages run at once; ``task_timeout_ms`` bounds one message's
    whole inner process (a TASK error when exceeded); ``preserve_key_order`` keeps at most one
    message per Kafka key in flight; ``ordered_output`` passes results on in input order
    instead of completion order. Use-case steps run on ``db_lanes`` threads that own their
    DB connections (default: ``streaming.runtime.db_lanes``, else ``min(max_concurrency,
    4)``). Async context managers and ``ContextFactory`` values are
    entered on the bridge's event loop: once per process with ``WORKER`` scope (the workers
    share the bridge), per micro-batch with ``BATCH``.

    Raises:
        ValueError: ``max_concurrency < 1`` or ``task_timeout_ms < 1``.
        TypeError: a dependency is a sync context manager (use ``With``).
    """

    def __init__(
        self,
        scope: ResourceScope = ResourceScope.WORKER,
        max_concurrency: int = 10,
        task_timeout_ms: int | None = None,
        *,
        process: Process[Any, Any],
        retry: RetryPolicy | None = None,
        preserve_key_order: bool = True,
        ordered_output: bool = False,
        db_lanes: int | None = None,
        **dependencies: Any,
    ) -> None:
        if db_lanes is not None and db_lanes < 1:
            raise ValueError(f"WithAsync.db_lanes must be >= 1 (got {db_lanes})")
        if max_concurrency < 1:
            raise ValueError(f"WithAsync.max_concurrency must be >= 1 (got {max_concurrency})")
        if task_timeout_ms is not None and task_timeout_ms < 1:
            raise ValueError(f"WithAsync.task_timeout_ms must be >= 1 (got {task_timeout_ms})")
        self.max_concurrency = max_concurrency
        self.task_timeout_ms = task_timeout_ms
        self.preserve_key_order = preserve_key_order
        self.ordered_output = ordered_output
        self.db_lanes = db_lanes
        self.async_managers: dict[str, contextlib.AbstractAsyncContextManager[Any]] = {}
        sync_deps: dict[str, Any] = {}
        for name, value in dependencies.items():
            if isinstance(value, contextlib.AbstractAsyncContextManager):
                self.async_managers[name] = value
            elif isinstance(value, contextlib.AbstractContextManager):
                raise TypeError(
                    f"WithAsync: dependency {name!r} is a sync context manager; use With, "
                    "or wrap it in a ContextFactory"
                )
            else:
                sync_deps[name] = value
        super().__init__(scope, process=process, retry=retry, **sync_deps)


@dataclass(frozen=True)
class Route:
    """A predicate route of a :class:`Router`."""

    when: Any
    process: Process[Any, Any]


ForkRoute = Route
"""A predicate route of a :class:`Fork` (same shape as :class:`Route`)."""


class Router:
    """In place, first match: keyed routes by ``selector``, then predicate routes, then default.

    No match and no default: the message continues unchanged. A branch ending in a terminal
    writes there and does not rejoin.
    """

    def __init__(
        self,
        *,
        selector: Any = None,
        routes: Mapping[object, Process[Any, Any]] | None = None,
        predicate_routes: Sequence[Route] = (),
        default: Process[Any, Any] | None = None,
    ) -> None:
        if selector is None and not predicate_routes:
            raise ValueError("Router requires a selector or predicate routes")
        if selector is not None and not routes:
            raise ValueError("Router with a selector requires at least one keyed route")
        self.selector = selector
        self.routes: dict[object, Process[Any, Any]] = dict(routes or {})
        self.predicate_routes: tuple[Route, ...] = tuple(predicate_routes)
        self.default = default

    @classmethod
    def by(
        cls,
        selector: Any,
        routes: Mapping[object, Process[Any, Any]],
        *,
        default: Process[Any, Any] | None = None,
    ) -> Router:
        """Route by the value of ``selector`` (an expression or an object with ``select``)."""
        return cls(selector=selector, routes=routes, default=default)

    @classmethod
    def when(cls, routes: Sequence[Route], *, default: Process[Any, Any] | None = None) -> Router:
        """Route to the first :class:`Route` whose predicate matches."""
        if not routes:
            raise ValueError("Router.when requires at least one route")
        return cls(predicate_routes=routes, default=default)

    def branches(self) -> list[tuple[str, Process[Any, Any]]]:
        """``(label, process)`` per branch in path order: keyed, predicate, default."""
        out = [(repr(k), p) for k, p in self.routes.items()]
        out += [(f"when[{i}]", r.process) for i, r in enumerate(self.predicate_routes)]
        if self.default is not None:
            out.append(("default", self.default))
        return out


class Fork(Router):
    """Terminal split: each message goes to the first matching branch (or default, else is
    completed and counted as unmatched). Every branch must end in a terminal."""

    def __init__(
        self,
        *,
        selector: Any = None,
        routes: Mapping[object, Process[Any, Any]] | None = None,
        predicate_routes: Sequence[Route] = (),
        default: Process[Any, Any] | None = None,
    ) -> None:
        if selector is not None and not routes:
            raise ValueError("Fork requires at least one branch")
        if selector is None and not predicate_routes:
            raise ValueError("Fork requires at least one route")
        super().__init__(
            selector=selector, routes=routes, predicate_routes=predicate_routes, default=default
        )

    @classmethod
    def by(
        cls,
        selector: Any,
        routes: Mapping[object, Process[Any, Any]],
        *,
        default: Process[Any, Any] | None = None,
    ) -> Fork:
        """Fork by the value of ``selector``."""
        return cls(selector=selector, routes=routes, default=default)

    @classmethod
    def when(cls, routes: Sequence[Route], *, default: Process[Any, Any] | None = None) -> Fork:
        """Fork to the first matching route."""
        if not routes:
            raise ValueError("Fork.when requires at least one route")
        return cls(predicate_routes=routes, default=default)


@dataclass(frozen=True)
class ErrorRoute:
    """Routes errors of the given kinds to ``output``."""

    kinds: tuple[ErrorKind, ...]
    output: IntoTopic[Any]

    def __post_init__(self) -> None:
        if not self.kinds:
            raise ValueError("ErrorRoute requires at least one kind")


@dataclass(frozen=True)
class RetryPolicy:
    """In-place retries of a failing step (BUSINESS and WIRE errors are never retried).

    The delay before attempt ``n+1`` is ``backoff_ms * multiplier**(n-1)``, capped at
    ``max_backoff_ms``, with up to 50 % random jitter when ``jitter`` is set.
    """

    max_attempts: int = 1
    backoff_ms: int = 200
    max_backoff_ms: int = 10_000
    multiplier: float = 2.0
    jitter: bool = True
    retry_on: tuple[ErrorKind, ...] = (ErrorKind.TASK,)
    retry_if: Callable[[BaseException], bool] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"RetryPolicy.max_attempts must be >= 1 (got {self.max_attempts})")
        if self.backoff_ms < 0:
            raise ValueError(f"RetryPolicy.backoff_ms must be >= 0 (got {self.backoff_ms})")

    def delay_s(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based), before jitter."""
        delay = self.backoff_ms * self.multiplier ** (attempt - 1)
        return min(delay, self.max_backoff_ms) / 1000.0
