"""The authoring classes: ``ETLParams``, ``ETLStep``, ``StepSQL``, ``ClientStep``,
``ETLProcess`` and ``ETLPipeline``.

Only what can be checked without the compiler is checked here, when the class is defined
(mixed source forms, ``streaming`` type, list-typed ``steps``/``processes``).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, ClassVar, Generic, TypeVar, get_args, get_origin

import msgspec

from loom_django.etl.sources import SOURCE_TYPES, Sources, SourceSet
from loom_django.etl.targets import IntoClient

__all__ = [
    "ClientStep",
    "ETLParams",
    "ETLPipeline",
    "ETLProcess",
    "ETLStep",
    "Secret",
    "StepSQL",
    "params_type_of",
]

ParamsT = TypeVar("ParamsT")
FrameT = TypeVar("FrameT")
T = TypeVar("T")


class ETLParams(msgspec.Struct, frozen=True):
    """Typed, immutable parameters of one run; subclasses declare the fields."""


class _SecretMarker:
    """Metadata marking a params field whose value is rendered as ``***``."""


SECRET = _SecretMarker()
Secret = Annotated[T, SECRET]
"""``Secret[str]``: a params field redacted in events, history and ``plan`` output."""

_RESERVED = frozenset({"sources", "target", "streaming", "execute", "ctx"})


def params_type_of(cls: type[Any], root: type[Any]) -> type[Any] | None:
    """The params type given to ``root`` (``ETLStep[P]``) by ``cls`` or an ancestor."""
    for klass in cls.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            origin = get_origin(base)
            if isinstance(origin, type) and issubclass(origin, root):
                args = get_args(base)
                if args and isinstance(args[0], type):
                    return args[0]
    return None


class ETLStep(Generic[ParamsT]):
    """One unit of work: read sources, ``execute(params, **frames)``, write one target."""

    sources: ClassVar[Sources | type[SourceSet[Any]] | None] = None
    target: ClassVar[Any] = None
    streaming: ClassVar[bool] = False
    params_type: ClassVar[type[Any] | None] = None
    inline_sources: ClassVar[tuple[tuple[str, Any], ...]] = ()
    logger: ClassVar[logging.Logger]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not isinstance(cls.__dict__.get("streaming", cls.streaming), bool):
            raise TypeError(f"{cls.__qualname__}: 'streaming' must be bool")
        inline = tuple(
            (name, value)
            for klass in reversed(cls.__mro__)
            for name, value in vars(klass).items()
            if isinstance(value, SOURCE_TYPES) and name not in _RESERVED
        )
        cls.inline_sources = tuple(dict(inline).items())
        if cls.inline_sources and cls.sources is not None:
            raise TypeError(
                f"{cls.__qualname__}: inline source attributes and 'sources = ...' cannot be "
                "mixed; declare the sources in one form"
            )
        cls.params_type = params_type_of(cls, ETLStep)
        cls.logger = logging.getLogger(f"{cls.__module__}.{cls.__qualname__}")

    def execute(self, params: ParamsT, **frames: Any) -> Any:
        """Transform the source frames into the frame written to the target."""
        raise NotImplementedError(f"{type(self).__qualname__} must define execute()")


class StepSQL(ETLStep[ParamsT], Generic[ParamsT, FrameT]):
    """A step whose body is SQL over its sources (registered as views under their aliases).

    ``sql`` is a string with ``{{ params.x }}`` placeholders, or a staticmethod
    ``(params) -> str``. Portable across backends when it stays in the common SQL subset.
    """

    sql: ClassVar[Any] = ""


class ClientStep(ETLStep[ParamsT]):
    """A step that receives the Django connection of ``database`` as ``client``."""

    database: ClassVar[str] = "default"
    target: ClassVar[Any] = IntoClient()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not isinstance(cls.target, IntoClient):
            raise TypeError(f"{cls.__qualname__}: a ClientStep's target must be IntoClient()")


def _check_list(cls: type[Any], attr: str) -> None:
    value = cls.__dict__.get(attr)
    if value is not None and not isinstance(value, list):
        raise TypeError(f"{cls.__qualname__}.{attr} must be a list, not {type(value).__name__}")


class ETLProcess(Generic[ParamsT]):
    """An ordered list of steps; a nested list is a parallel group."""

    steps: ClassVar[list[Any]] = []
    params_type: ClassVar[type[Any] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _check_list(cls, "steps")
        cls.params_type = params_type_of(cls, ETLProcess)


class ETLPipeline(Generic[ParamsT]):
    """An ordered list of processes (nested list = parallel group): the thing you run."""

    processes: ClassVar[list[Any]] = []
    name: ClassVar[str | None] = None
    engines: ClassVar[tuple[str, ...] | None] = None
    description: ClassVar[str | None] = None
    params_type: ClassVar[type[Any] | None] = None
    atomic: ClassVar[bool] = False
    """Run every step in one transaction: a failing step rolls back the earlier ones too.
    Needs every table target on one Django alias, no parallel group, and run history on
    another database (or off)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _check_list(cls, "processes")
        cls.params_type = params_type_of(cls, ETLPipeline)
