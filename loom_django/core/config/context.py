"""``ConfigContext``: one loaded config with typed section access and object binding."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar, overload

from omegaconf import DictConfig, OmegaConf

from loom_django.core.config.binding import (
    ConfigBinder,
    ConfigBinding,
    DefaultConfigBinder,
    build_from_mapping,
)
from loom_django.core.config.loader import ConfigSource, load_config
from loom_django.core.config.resolvers import ConfigResolver
from loom_django.core.config.section import has_section, raw_section, section
from loom_django.core.errors import ConfigError

__all__ = ["ConfigContext"]

T = TypeVar("T")


class ConfigContext:
    """A loaded configuration, shared by every door, with typed accessors."""

    __slots__ = ("_binder", "_config")

    def __init__(self, config: DictConfig, *, binder: ConfigBinder | None = None) -> None:
        self._config = config
        self._binder: ConfigBinder = binder or DefaultConfigBinder()

    @classmethod
    def from_yaml(
        cls,
        *paths: ConfigSource,
        resolvers: Iterable[ConfigResolver] = (),
        binder: ConfigBinder | None = None,
    ) -> ConfigContext:
        """Load ``paths`` with :func:`load_config` (left-to-right merge, includes)."""
        return cls(load_config(*paths, resolvers=resolvers), binder=binder)

    @classmethod
    def from_dict(
        cls, mapping: Mapping[str, Any], *, binder: ConfigBinder | None = None
    ) -> ConfigContext:
        """Wrap an in-memory mapping with the YAML schema (interpolations allowed)."""
        try:
            config = OmegaConf.create(dict(mapping))
        except Exception as exc:
            raise ConfigError(f"Invalid configuration mapping: {exc}") from exc
        return cls(config, binder=binder)

    @property
    def config(self) -> DictConfig:
        """The underlying OmegaConf config (interpolations unresolved)."""
        return self._config

    def has(self, key: str) -> bool:
        """Whether the dotted ``key`` exists."""
        return has_section(self._config, key)

    def raw(self, key: str) -> Any:
        """The section at ``key`` as plain, fully resolved Python data."""
        return raw_section(self._config, key)

    @overload
    def section(self, key: str, tp: type[T]) -> T: ...
    @overload
    def section(self, key: str, tp: Any) -> Any: ...
    def section(self, key: str, tp: Any) -> Any:
        """The section at ``key`` converted to ``tp``; raises ``ConfigError`` when missing."""
        return section(self._config, key, tp)

    @overload
    def section_optional(self, key: str, tp: type[T]) -> T | None: ...
    @overload
    def section_optional(self, key: str, tp: Any) -> Any: ...
    def section_optional(self, key: str, tp: Any) -> Any:
        """The section at ``key`` converted to ``tp``, or ``None`` when it is absent."""
        return self.section(key, tp) if self.has(key) else None

    @overload
    def section_or_default(self, key: str, tp: type[T], default: T) -> T: ...
    @overload
    def section_or_default(self, key: str, tp: Any, default: Any) -> Any: ...
    def section_or_default(self, key: str, tp: Any, default: Any) -> Any:
        """The section at ``key`` converted to ``tp``, or ``default`` when it is absent."""
        return self.section(key, tp) if self.has(key) else default

    def bind(self, tp: type[T], path: str = "", **overrides: Any) -> T:
        """Build ``tp`` from the section at ``path`` (whole config if empty); overrides win.

        A missing section counts as empty, so a type with defaults still builds.
        """
        data = self.raw(path) if self.has(path) else {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"Config section '{path}' must be a mapping to bind {tp!r}.")
        result: T = build_from_mapping(tp, {**data, **overrides}, key=path)
        return result

    def resolve(self, binding: ConfigBinding) -> Any:
        """Build the object a :class:`ConfigBinding` describes, through this context's binder."""
        return self._binder.bind(self, binding)
