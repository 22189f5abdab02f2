"""Typed access to one dotted section of a config: navigate, resolve, convert with msgspec."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, overload

import msgspec
from omegaconf import Container, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from loom_django.core.errors import ConfigError

__all__ = ["convert", "has_section", "raw_section", "section", "to_plain", "type_name"]

T = TypeVar("T")

_ABSENT = object()


def type_name(tp: Any) -> str:
    """Readable name of a type or type expression, for error messages."""
    return getattr(tp, "__qualname__", None) or getattr(tp, "__name__", None) or repr(tp)


def to_plain(value: Any) -> Any:
    """Turn OmegaConf nodes into plain dicts/lists with every interpolation resolved."""
    if isinstance(value, Container):
        return OmegaConf.to_container(value, resolve=True)
    return value


def _child(node: Any, part: str) -> Any:
    if isinstance(node, DictConfig):
        if part not in node or OmegaConf.is_missing(node, part):
            return _ABSENT
        return node[part]
    if isinstance(node, Mapping):
        return node.get(part, _ABSENT)
    return _ABSENT


def _lookup(cfg: DictConfig | Mapping[str, Any], key: str) -> Any:
    """Return the raw node at ``key``, or raise the 'section not found' ConfigError."""
    node: Any = cfg
    for part in key.split(".") if key else ():
        try:
            node = _child(node, part)
        except OmegaConfBaseException as exc:
            raise ConfigError(f"Failed to resolve config section '{key}': {exc}") from exc
        if node is _ABSENT:
            raise ConfigError(f"Config section not found: '{key}' (failed at segment '{part}')")
    return node


def has_section(cfg: DictConfig | Mapping[str, Any], key: str) -> bool:
    """Whether ``key`` (dotted) exists and is not an OmegaConf ``???`` placeholder."""
    try:
        _lookup(cfg, key)
    except ConfigError:
        return False
    return True


def convert(data: Any, tp: type[T] | Any, *, key: str = "") -> Any:
    """Convert plain ``data`` to ``tp`` with msgspec (non-strict: ``"5"`` → ``5``).

    Raises:
        ConfigError: ``Config section '<key>' failed validation as '<Type>': ...``.
    """
    try:
        return msgspec.convert(data, tp, strict=False)
    except (msgspec.ValidationError, TypeError) as exc:
        raise ConfigError(
            f"Config section '{key}' failed validation as '{type_name(tp)}': {exc}"
        ) from exc


def raw_section(cfg: DictConfig | Mapping[str, Any], key: str) -> Any:
    """The section at ``key`` as plain Python data with interpolations resolved."""
    node = _lookup(cfg, key)
    try:
        return to_plain(node)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"Failed to resolve config section '{key}': {exc}") from exc


@overload
def section(cfg: DictConfig | Mapping[str, Any], key: str, tp: type[T]) -> T: ...
@overload
def section(cfg: DictConfig | Mapping[str, Any], key: str, tp: Any) -> Any: ...
def section(cfg: DictConfig | Mapping[str, Any], key: str, tp: Any) -> Any:
    """Return the dotted section ``key`` of ``cfg`` converted to ``tp``.

    ``key=""`` selects the whole config. Interpolations are resolved first.

    Raises:
        ConfigError: the section is missing, cannot be resolved, or does not convert.
    """
    return convert(raw_section(cfg, key), tp, key=key)
