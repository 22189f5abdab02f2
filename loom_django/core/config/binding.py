"""Deferred construction from config: ``ConfigBinding`` and the binder that builds objects."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import msgspec.inspect as msgspec_inspect

from loom_django.core.config.section import convert, type_name
from loom_django.core.errors import ConfigError

__all__ = [
    "ConfigBinder",
    "ConfigBinding",
    "ConfigSections",
    "DefaultConfigBinder",
    "build_from_mapping",
]


class ConfigSections(Protocol):
    """What a binder reads: sections of a loaded config (``ConfigContext`` is one)."""

    def raw(self, key: str) -> Any:
        """The section at ``key`` as plain, fully resolved Python data."""
        ...


@dataclass(frozen=True)
class ConfigBinding:
    """Build ``target`` later from the config section at ``path``; ``overrides`` win over YAML."""

    target: type[Any]
    path: str = ""
    overrides: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class ConfigBinder(Protocol):
    """Turns a :class:`ConfigBinding` into an object from a :class:`ConfigContext`."""

    def bind(self, context: ConfigSections, binding: ConfigBinding) -> Any:
        """Build the object ``binding`` describes."""
        ...


class DefaultConfigBinder:
    """Decodes the bound section into the target's constructor arguments (msgspec-typed)."""

    def bind(self, context: ConfigSections, binding: ConfigBinding) -> Any:
        """Build ``binding.target`` from its section merged with its overrides."""
        data = context.raw(binding.path) if binding.path else {}
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"Config section '{binding.path}' must be a mapping to build "
                f"{type_name(binding.target)}."
            )
        return build_from_mapping(binding.target, {**data, **binding.overrides}, key=binding.path)


def _required_fields(target: type[Any]) -> list[str] | None:
    info = msgspec_inspect.type_info(target)
    if isinstance(info, msgspec_inspect.StructType | msgspec_inspect.DataclassType):
        return [f.name for f in info.fields if f.required]
    return None


def _check_required(target: type[Any], data: Mapping[str, Any], required: list[str]) -> None:
    for name in required:
        if name not in data:
            raise ConfigError(f"{type_name(target)} requires config field '{name}'")


def build_from_mapping(target: type[Any], data: Mapping[str, Any], *, key: str = "") -> Any:
    """Instantiate ``target`` from ``data``.

    msgspec-native targets (Struct, dataclass, TypedDict, ...) are converted directly; any
    other class gets its ``__init__`` keyword arguments converted to their annotations.

    Raises:
        ConfigError: a required field is missing or a value does not convert.
    """
    required = _required_fields(target)
    if required is not None:
        _check_required(target, data, required)
        return convert(dict(data), target, key=key)
    if not isinstance(msgspec_inspect.type_info(target), msgspec_inspect.CustomType):
        return convert(dict(data), target, key=key)
    return _construct(target, data, key)


def _construct(target: type[Any], data: Mapping[str, Any], key: str) -> Any:
    signature = inspect.signature(target)
    try:
        hints = typing.get_type_hints(target.__init__)
    except Exception:
        hints = {}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    kwargs: dict[str, Any] = {}
    for name, param in signature.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if name not in data:
            if param.default is param.empty:
                raise ConfigError(f"{type_name(target)} requires config field '{name}'")
            continue
        tp = hints.get(name, Any)
        kwargs[name] = convert(data[name], tp, key=f"{key}.{name}" if key else name)
    if takes_any:
        kwargs.update({k: v for k, v in data.items() if k not in signature.parameters})
    return target(**kwargs)
