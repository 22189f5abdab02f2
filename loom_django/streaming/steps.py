"""Step base classes: record, batch and expand steps a flow's process is made of."""

from __future__ import annotations

from abc import ABC
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar

from loom_django.streaming.binding import Configurable

__all__ = [
    "BatchExpandStep",
    "BatchStep",
    "ExpandStep",
    "RecordStep",
    "Step",
    "StreamShape",
]

In = TypeVar("In")
Out = TypeVar("Out")


class StreamShape(StrEnum):
    """What travels between two nodes: one record, a batch, many records, or nothing."""

    RECORD = "record"
    BATCH = "batch"
    MANY = "many"
    NONE = "none"


class Step(Configurable, ABC, Generic[In, Out]):
    """A unit of user logic; subclasses define ``execute``.

    ``Step.from_config(path, **overrides)`` builds the step at compile time from YAML.

    ``retry`` (a :class:`~loom_django.streaming.nodes.RetryPolicy`) makes failures of kind
    TASK retry in place. ``resource`` is reserved: setting it is a compile error.
    """

    name: ClassVar[str] = ""
    input_shape: ClassVar[StreamShape] = StreamShape.RECORD
    output_shape: ClassVar[StreamShape] = StreamShape.RECORD
    retry: ClassVar[Any] = None
    resource: ClassVar[Any] = None

    @classmethod
    def step_name(cls) -> str:
        """``name`` when set, else the class's qualified name."""
        return cls.name or cls.__qualname__


class RecordStep(Step[In, Out]):
    """1:1: ``execute(message, **deps) -> Out | Message[Out] | None`` (``None`` filters)."""


class BatchStep(Step[In, Out]):
    """Batch to batch: ``execute(messages, **deps) -> list`` of the same length."""

    input_shape = StreamShape.BATCH
    output_shape = StreamShape.BATCH


class ExpandStep(Step[In, Out]):
    """1:N (N ≥ 0): ``execute(message, **deps) -> Iterable[Out | Message[Out]]``."""


class BatchExpandStep(Step[In, Out]):
    """Batch to records: ``execute(messages, **deps) -> Iterable[Out | Message[Out]]``.

    The batch's offsets commit once every produced record was written (all of them at once
    when it produces none).
    """

    input_shape = StreamShape.BATCH
