"""Commands: immutable msgspec input structs that remember which fields the caller sent."""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, Self, TypeVar

import msgspec

from loom_django.core.errors import ValidationError

__all__ = [
    "FIELDS_SET_ATTR",
    "Command",
    "CommandAdapter",
    "CommandField",
    "Computed",
    "Internal",
    "MsgspecCommandAdapter",
    "Patch",
    "fields_set_of",
    "get_calculated_fields",
    "get_command_fields",
    "get_input_fields",
    "get_internal_fields",
    "get_patch_fields",
    "is_patch_command",
    "known_shapes",
    "validation_error_from",
    "with_fields_set",
]

T = TypeVar("T")

FIELDS_SET_ATTR = "_loom_fields_set"
"""The ``__dict__`` key under which a decoded command keeps its ``fields_set``."""
_MAX_SHAPES = 256


@dataclass(frozen=True, slots=True)
class CommandField:
    """Metadata placed inside ``Annotated`` to mark patch, internal or computed fields."""

    calculated: bool = False
    internal: bool = False
    patch: bool = False
    default: Any = msgspec.UNSET


if typing.TYPE_CHECKING:
    Patch = Annotated[T | None, CommandField(patch=True)]
    Internal = Annotated[T | None, CommandField(internal=True)]
    Computed = Annotated[T | None, CommandField(calculated=True)]
else:

    class _Marker:
        def __init__(self, spec: CommandField) -> None:
            self._spec = spec

        def __getitem__(self, item: Any) -> Any:
            return Annotated[item | None, self._spec]

    Patch = _Marker(CommandField(patch=True))
    Internal = _Marker(CommandField(internal=True))
    Computed = _Marker(CommandField(calculated=True))


class _CommandInfo:
    """Per-class facts ``from_payload`` needs, computed once."""

    __slots__ = (
        "cls",
        "encoded_by_key",
        "fill_with_none",
        "markers",
        "python_by_encoded",
        "required",
        "shapes",
    )

    def __init__(self, cls: type[Command]) -> None:
        self.cls = cls
        hints = typing.get_type_hints(cls, include_extras=True)
        info = msgspec.structs.fields(cls)
        self.encoded_by_key: dict[str, str] = {}
        self.python_by_encoded: dict[str, str] = {}
        self.markers: dict[str, CommandField | None] = {}
        fill: list[str] = []
        required: list[str] = []
        for field in info:
            self.encoded_by_key[field.encode_name] = field.encode_name
            self.encoded_by_key[field.name] = field.encode_name
            self.python_by_encoded[field.encode_name] = field.name
            marker = _marker_of(hints.get(field.name))
            self.markers[field.name] = marker
            if marker is not None and field.required:
                fill.append(field.encode_name)
            elif field.required:
                required.append(field.encode_name)
        self.fill_with_none: tuple[str, ...] = tuple(fill)
        self.required: tuple[str, ...] = tuple(required)
        self.shapes: dict[tuple[str, ...], tuple[frozenset[str], dict[str, str]]] = {}

    def learn_shape(self, payload: dict[str, Any]) -> tuple[frozenset[str], dict[str, str]]:
        """The fields_set and snake→camel renames of a payload's key set, cached by keys.

        Payloads of one endpoint come in a handful of shapes, so decoding a known shape
        costs one dict lookup instead of a loop over its keys.
        """
        sent: set[str] = set()
        renames: dict[str, str] = {}
        for key in payload:
            encoded = self.encoded_by_key.get(key)
            if encoded is None:
                continue
            sent.add(self.python_by_encoded[encoded])
            if encoded != key:
                renames[key] = encoded
        shape = (frozenset(sent), renames)
        if len(self.shapes) < _MAX_SHAPES and all(type(k) is str for k in payload):
            self.shapes[tuple(payload)] = shape
        return shape

    def decoder(self, not_null: tuple[str, ...]) -> Callable[[Any], tuple[Any, frozenset[str]]]:
        """``decode`` that also refuses ``null`` for the ``not_null`` fields."""
        if not not_null:
            return self.decode
        decode = self.decode

        def decode_refusing_nulls(payload: Any) -> tuple[Any, frozenset[str]]:
            command, fields_set = decode(payload)
            refused = [n for n in not_null if n in fields_set and getattr(command, n) is None]
            if refused:
                raise ValidationError([(name, "may not be null") for name in refused])
            return command, fields_set

        return decode_refusing_nulls

    def every_violation(
        self, payload: dict[str, Any], data: dict[str, Any], exc: msgspec.ValidationError
    ) -> ValidationError:
        """Every bad field of a payload that failed to decode, named as the client sent it
        (a missing field by its camelCase wire name). Runs only on the error path."""
        sent_as = {self.encoded_by_key[k]: k for k in payload if k in self.encoded_by_key}
        violations: list[tuple[str, str]] = []
        for field in msgspec.structs.fields(self.cls):
            encoded = field.encode_name
            if encoded not in data:
                if encoded in self.required:
                    violations.append((encoded, "field required"))
                continue
            try:
                msgspec.convert(data[encoded], field.type, strict=True)
            except msgspec.ValidationError as bad:
                violations.append(_wire_violation(sent_as.get(encoded, encoded), bad))
            except TypeError:
                continue
        if violations:
            return ValidationError(violations)
        return validation_error_from(exc, {})

    def decode(self, payload: Any) -> tuple[Any, frozenset[str]]:
        """``from_payload`` for this class (the engine binds it once per plan)."""
        if not isinstance(payload, dict):
            raise ValidationError([("$", "payload must be a JSON object")])
        shape = self.shapes.get(tuple(payload))
        if shape is None:
            shape = self.learn_shape(payload)
        fields_set, renames = shape
        data = payload
        if renames:
            data = {renames.get(key, key): value for key, value in payload.items()}
        if self.fill_with_none:
            data = data if renames else dict(data)
            for encoded in self.fill_with_none:
                data.setdefault(encoded, None)
        try:
            command = msgspec.convert(data, self.cls)  # strict by default
        except msgspec.ValidationError as exc:
            raise self.every_violation(payload, data, exc) from exc
        command.__dict__[FIELDS_SET_ATTR] = fields_set
        return command, fields_set


def _wire_violation(name: str, exc: msgspec.ValidationError) -> tuple[str, str]:
    """``(field, message)`` of one field's error, its path in the client's spelling."""
    message, separator, where = str(exc).rpartition(" - at `")
    if not separator:
        message, where = str(exc), "$`"
    path = name + where.rstrip("`").removeprefix("$")
    if message.startswith("Object missing required field `"):
        path, message = f"{path}.{message.split('`')[1]}", "field required"
    return path, message


def _marker_of(annotation: Any) -> CommandField | None:
    if typing.get_origin(annotation) is Annotated:
        for meta in annotation.__metadata__:
            if isinstance(meta, CommandField):
                return meta
    return None


_INFOS: dict[type[Any], _CommandInfo] = {}


class Command(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, rename="camel", dict=True
):
    """Base of use-case inputs: frozen, camelCase on the wire, built with ``from_payload``.

    A command built from a payload remembers the Python names of the keys that were sent
    (``fields_set``) so partial updates can tell "absent" from "explicitly null".
    """

    @classmethod
    def _payload_decoder(
        cls, not_null: tuple[str, ...] = ()
    ) -> Callable[[Any], tuple[Self, frozenset[str]]]:
        """The bound decoder of this class; the engine calls it instead of ``from_payload``.

        ``not_null`` names ``Patch`` fields over NOT NULL columns: for them an explicit
        ``null`` is refused (a ``ValidationError`` naming the field) instead of reaching
        rules and the database.
        """
        return cls._command_info().decoder(not_null)

    @classmethod
    def _command_info(cls) -> _CommandInfo:
        info = _INFOS.get(cls)
        if info is None:
            info = _INFOS[cls] = _CommandInfo(cls)
        return info

    @classmethod
    def from_payload(cls, payload: Any) -> tuple[Self, frozenset[str]]:
        """Decode ``payload`` (camelCase or snake_case keys) into a command and its fields_set.

        Raises:
            ValidationError: the payload is not an object, misses a required field or
                holds a value of the wrong type (one violation per problem).
        """
        return (_INFOS.get(cls) or cls._command_info()).decode(payload)


def known_shapes(
    cls: type[Command],
) -> dict[tuple[str, ...], tuple[frozenset[str], dict[str, str]]] | None:
    """The payload shapes ``cls`` has decoded so far: key tuple → (fields_set, renames).

    The engine's generated pipelines look a payload's keys up here and, for a known shape
    that needs no renaming, convert the payload directly and attach ``fields_set`` under
    ``FIELDS_SET_ATTR``; a shape is only learned by ``from_payload``. ``None`` for classes
    whose missing marked fields must be filled with ``None`` (never a fast path).
    """
    info = cls._command_info()
    return None if info.fill_with_none else info.shapes


def fields_set_of(command: object) -> frozenset[str] | None:
    """Return the fields a command was built from, or ``None`` if it was built directly."""
    namespace = getattr(command, "__dict__", None)
    if namespace is None:
        return None
    value = namespace.get(FIELDS_SET_ATTR)
    return value if isinstance(value, frozenset) else None


def with_fields_set(command: T, fields_set: frozenset[str]) -> T:
    """Attach ``fields_set`` to ``command`` (used when a compute replaces the command)."""
    namespace = getattr(command, "__dict__", None)
    if namespace is not None:
        namespace[FIELDS_SET_ATTR] = fields_set
    return command


def validation_error_from(
    exc: msgspec.ValidationError, python_by_encoded: dict[str, str] | None = None
) -> ValidationError:
    """Convert msgspec's error text (``... - at `$.priceCents` ``) into a ValidationError.

    The field path is reported in Python naming (``price_cents``, ``items[0].qty``).
    """
    text = str(exc)
    message, separator, where = text.rpartition(" - at `")
    if not separator:
        message, where = text, "$`"
    path = where.rstrip("`")
    field = _python_path(path, python_by_encoded or {})
    if message.startswith("Object missing required field `"):
        missing = message.split("`")[1]
        missing = (python_by_encoded or {}).get(missing, _snake(missing))
        field = f"{field}.{missing}" if field else missing
        message = "field required"
    return ValidationError([(field or "$", message)])


def _python_path(path: str, python_by_encoded: dict[str, str]) -> str:
    parts = path.removeprefix("$").lstrip(".")
    if not parts:
        return ""
    out: list[str] = []
    for index, segment in enumerate(parts.split(".")):
        name, bracket, rest = segment.partition("[")
        mapped = python_by_encoded.get(name, _snake(name)) if index == 0 else _snake(name)
        out.append(mapped + (bracket + rest if bracket else ""))
    return ".".join(out)


def _snake(name: str) -> str:
    chars: list[str] = []
    for char in name:
        if char.isupper():
            chars.append("_")
            chars.append(char.lower())
        else:
            chars.append(char)
    return "".join(chars)


def get_command_fields(cls: type[Command]) -> dict[str, CommandField | None]:
    """Return every field of ``cls`` with its marker (``None`` for plain input fields)."""
    return dict(cls._command_info().markers)


def get_input_fields(cls: type[Command]) -> tuple[str, ...]:
    """Fields a client may send: everything except internal and computed ones."""
    return tuple(
        name
        for name, marker in cls._command_info().markers.items()
        if marker is None or not (marker.internal or marker.calculated)
    )


def get_calculated_fields(cls: type[Command]) -> tuple[str, ...]:
    """Fields marked ``Computed[...]``."""
    return tuple(n for n, m in cls._command_info().markers.items() if m and m.calculated)


def get_internal_fields(cls: type[Command]) -> tuple[str, ...]:
    """Fields marked ``Internal[...]``."""
    return tuple(n for n, m in cls._command_info().markers.items() if m and m.internal)


def get_patch_fields(cls: type[Command]) -> tuple[str, ...]:
    """Fields marked ``Patch[...]``."""
    return tuple(n for n, m in cls._command_info().markers.items() if m and m.patch)


def is_patch_command(cls: type[Command]) -> bool:
    """True when the command declares at least one ``Patch`` field."""
    return bool(get_patch_fields(cls))


class CommandAdapter(Protocol):
    """Transport hook turning raw input into commands (and describing their schema)."""

    def compile_schema(self, command_cls: type[Any]) -> type[Any]:
        """Return the schema object a transport documents for ``command_cls``."""
        ...

    def parse(self, command_cls: type[Any], raw: Any) -> tuple[Any, frozenset[str]]:
        """Build a command and its fields_set from ``raw``."""
        ...


class MsgspecCommandAdapter:
    """The default adapter: the schema is the command type, parsing is ``from_payload``."""

    def compile_schema(self, command_cls: type[Any]) -> type[Any]:
        """msgspec types are their own schema."""
        return command_cls

    def parse(self, command_cls: type[Any], raw: Any) -> tuple[Any, frozenset[str]]:
        """Delegate to ``command_cls.from_payload``."""
        result: tuple[Any, frozenset[str]] = command_cls.from_payload(raw)
        return result
