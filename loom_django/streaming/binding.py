"""Config bindings: ``Step.from_config("streaming.bindings.x", **overrides)`` declares a step (or a
``ContextFactory``) built at compile time from a YAML section (spec §4.5).

The section is decoded into the constructor's keyword arguments with msgspec (nested structs
included) by the core binder, and explicit overrides win over YAML.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loom_django.core.config.binding import ConfigBinding, DefaultConfigBinder
from loom_django.core.config.section import raw_section
from loom_django.core.errors import ConfigError

__all__ = ["ConfigBinding", "Configurable", "resolve_binding"]


class Configurable:
    """Mixin giving a class the deferred constructors ``from_config`` and ``configure``."""

    __slots__ = ()

    @classmethod
    def from_config(cls, path: str, **overrides: Any) -> ConfigBinding:
        """Build this class at compile time from the config section at ``path``.

        ``overrides`` are keyword arguments that win over the section's values.
        """
        return ConfigBinding(target=cls, path=path, overrides=dict(overrides))

    @classmethod
    def configure(cls, **overrides: Any) -> ConfigBinding:
        """Build this class at compile time from ``overrides`` alone (no config section)."""
        return ConfigBinding(target=cls, path="", overrides=dict(overrides))


class _Sections:
    """The core binder's view of an already resolved, plain configuration mapping."""

    __slots__ = ("_config",)

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._config = config

    def raw(self, key: str) -> Any:
        return raw_section(self._config, key)


def resolve_binding(binding: ConfigBinding, config: Mapping[str, Any]) -> Any:
    """The object ``binding`` describes, built from ``config``.

    Raises:
        ConfigError: the section is missing (the message names its path), a required
            constructor field is missing (``requires config field '<name>'``) or a value does
            not convert (msgspec's message, e.g. ``Expected `float`, got `str```).
    """
    try:
        return DefaultConfigBinder().bind(_Sections(config), binding)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:  # the constructor itself rejected the values
        raise ConfigError(f"{binding.target.__qualname__}: {exc}") from exc
