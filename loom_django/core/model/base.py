"""Struct bases (LoomStruct, LoomFrozenStruct, BaseModel, TimestampedModel) and their metaclass."""

from __future__ import annotations

import copy
import datetime as _dt
import re
import sys
import typing
from typing import Annotated, Any, ClassVar, dataclass_transform

import msgspec
from msgspec import UNSET, UnsetType

import loom_django.core.model.hooks as hooks
from loom_django.core.model.field import (
    ColumnField,
    ColumnSpec,
    Field,
    ServerDefault,
    ServerOnUpdate,
)
from loom_django.core.model.relation import Projection, Relation
from loom_django.core.model.types import ColumnType

__all__ = ["BaseModel", "LoomFrozenStruct", "LoomStruct", "LoomStructMeta", "TimestampedModel"]

_CLASSVAR_RE = re.compile(r"^\s*((typing|t)\.)?ClassVar\b")
_DEFAULTS_ATTR = "__loom_struct_defaults__"


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return bool(_CLASSVAR_RE.match(annotation))
    return annotation is ClassVar or typing.get_origin(annotation) is ClassVar


def _struct_defaults(bases: tuple[type, ...], namespace: dict[str, Any]) -> dict[str, Any]:
    if _DEFAULTS_ATTR in namespace:
        return dict(namespace[_DEFAULTS_ATTR])
    for base in bases:
        found = getattr(base, _DEFAULTS_ATTR, None)
        if found is not None:
            return dict(found)
    return {}


def _own_annotations(namespace: dict[str, Any]) -> dict[str, Any]:
    if "__annotations__" not in namespace and "__annotate__" in namespace:  # Python 3.14+
        import annotationlib  # type: ignore[import-not-found,unused-ignore]

        namespace["__annotations__"] = annotationlib.call_annotate_function(
            namespace.pop("__annotate__"), annotationlib.Format.FORWARDREF
        )
    annotations: dict[str, Any] = namespace.setdefault("__annotations__", {})
    return annotations


def _resolve_annotated(annotation: Any, namespace: dict[str, Any]) -> Any:
    """Evaluate a string annotation mentioning ``Annotated`` (best effort, else ``None``)."""
    if not isinstance(annotation, str):
        return annotation
    if "Annotated" not in annotation and "JsonStr" not in annotation:
        return None
    module = sys.modules.get(str(namespace.get("__module__", "")))
    try:
        return eval(annotation, dict(getattr(module, "__dict__", {})), dict(namespace))
    except Exception:
        return None


def _spec_from_annotated(annotation: Any) -> ColumnSpec | None:
    """A ColumnSpec built from ``Annotated[T, ColumnType(...), Field(...)]`` metadata."""
    if typing.get_origin(annotation) is not Annotated:
        return None
    field: Field | None = None
    column_type: ColumnType | None = None
    for meta in annotation.__metadata__:
        if isinstance(meta, ColumnSpec):
            return meta
        if isinstance(meta, Field):
            field = meta
        elif isinstance(meta, ColumnType):
            column_type = meta
    if field is None and column_type is None:
        return None
    options = {k: getattr(field, k) for k in Field.__dataclass_fields__} if field else {}
    return ColumnSpec(column_type=column_type, **options)


def _runtime_default(spec: ColumnSpec) -> Any:
    """The struct default for a column; ``msgspec.NODEFAULT`` means required."""
    if spec.has_default:
        value = spec.default
        if isinstance(value, list | dict | set) and value:
            return msgspec.field(default_factory=lambda: copy.deepcopy(value))
        return value
    if spec.autoincrement or spec.server_generated:
        return None
    return msgspec.NODEFAULT


def _widen(annotation: Any) -> Any:
    """``annotation | UnsetType``, keeping string annotations lazily resolvable."""
    if isinstance(annotation, str):
        annotation = typing.ForwardRef(annotation, is_argument=False, is_class=True)
    return typing.Union[annotation, UnsetType]  # noqa: UP007 - must accept ForwardRef


def _inherited(bases: tuple[type, ...], attr: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for base in reversed(bases):
        for klass in reversed(base.__mro__):
            merged.update(klass.__dict__.get(attr, {}))
    return merged


class LoomStructMeta(msgspec.StructMeta):
    """Metaclass of loom structs: applies default struct options and intercepts field specs.

    Struct options come from the nearest ``__loom_struct_defaults__`` unless passed as
    class keywords (msgspec does not inherit ``kw_only``, so it is re-applied per class).
    ``ColumnField``/``Annotated`` specs go to ``__loom_columns__``, relations and
    projections to ``__loom_relations__``/``__loom_projections__`` (their default becomes
    ``UNSET`` and their type ``T | UnsetType``). A ``BaseModel`` subclass declaring
    ``__tablename__`` in its own body is a mapped model and is passed to the model hooks.
    """

    def __new__(
        mcls,
        name: str,
        bases: tuple[type, ...],
        namespace: dict[str, Any],
        **kwargs: Any,
    ) -> LoomStructMeta:
        for key, value in _struct_defaults(bases, namespace).items():
            kwargs.setdefault(key, value)
        annotations = _own_annotations(namespace)
        columns = _inherited(bases, "__loom_columns__")
        relations = _inherited(bases, "__loom_relations__")
        projections = _inherited(bases, "__loom_projections__")
        for attr, annotation in list(annotations.items()):
            if _is_classvar(annotation):
                continue
            value = namespace.get(attr, msgspec.NODEFAULT)
            if isinstance(value, Relation | Projection):
                (relations if isinstance(value, Relation) else projections)[attr] = value
                namespace[attr] = UNSET
                annotations[attr] = _widen(annotation)
                continue
            spec = value if isinstance(value, ColumnSpec) else None
            if spec is None:
                spec = _spec_from_annotated(_resolve_annotated(annotation, namespace))
                if spec is not None and value is not msgspec.NODEFAULT:
                    spec = _with_default(spec, value)
            if spec is None:
                continue
            columns[attr] = spec
            default = _runtime_default(spec)
            if default is msgspec.NODEFAULT:
                namespace.pop(attr, None)
            else:
                namespace[attr] = default
        namespace["__loom_columns__"] = columns
        namespace["__loom_relations__"] = relations
        namespace["__loom_projections__"] = projections
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        if "__tablename__" in namespace and _base_model_subclass(cls):
            hooks.register_model(cls)
        return cls


def _with_default(spec: ColumnSpec, value: Any) -> ColumnSpec:
    options = {k: getattr(spec, k) for k in ColumnSpec.__dataclass_fields__}
    options["default"] = value
    return ColumnSpec(**options)


def _base_model_subclass(cls: type) -> bool:
    base_model = globals().get("BaseModel")
    return base_model is not None and issubclass(cls, base_model) and cls is not base_model


def _message_type(cls: type) -> str:
    declared = cls.__dict__.get("__loom_message_type__")
    if isinstance(declared, str):
        return declared
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclass_transform(kw_only_default=True, field_specifiers=(msgspec.field,))
class LoomStruct(msgspec.Struct, metaclass=LoomStructMeta):
    """Mutable keyword-only loom struct (messages, DTOs)."""

    __loom_struct_defaults__: ClassVar[dict[str, Any]] = {"kw_only": True}

    @classmethod
    def loom_message_type(cls) -> str:
        """``__loom_message_type__`` when declared, else ``"<module>.<qualname>"``."""
        return _message_type(cls)


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(msgspec.field,))
class LoomFrozenStruct(msgspec.Struct, frozen=True, metaclass=LoomStructMeta):
    """Immutable keyword-only loom struct; base of models and responses.

    A sibling of :class:`LoomStruct` rather than a subclass, because type checkers
    reject a frozen dataclass inheriting from a mutable one. Test for "any loom struct"
    with ``isinstance(cls, LoomStructMeta)``.
    """

    __loom_struct_defaults__: ClassVar[dict[str, Any]] = {"frozen": True, "kw_only": True}

    @classmethod
    def loom_message_type(cls) -> str:
        """``__loom_message_type__`` when declared, else ``"<module>.<qualname>"``."""
        return _message_type(cls)


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(msgspec.field,))
class BaseModel(LoomFrozenStruct, frozen=True):
    """Base of persisted models: frozen, keyword-only, camelCase JSON.

    Encoding always includes every column (also defaults and nulls: ``omit_defaults`` is
    off); unloaded relations and projections are ``UNSET`` and therefore omitted.
    """

    __loom_struct_defaults__: ClassVar[dict[str, Any]] = {
        "frozen": True,
        "kw_only": True,
        "omit_defaults": False,
        "rename": "camel",
    }


class TimestampedModel(BaseModel, frozen=True):
    """A model with database-managed ``created_at`` and ``updated_at`` columns."""

    created_at: _dt.datetime | None = ColumnField(nullable=True, server_default=ServerDefault.NOW)
    updated_at: _dt.datetime | None = ColumnField(
        nullable=True, server_default=ServerDefault.NOW, server_onupdate=ServerOnUpdate.NOW
    )
