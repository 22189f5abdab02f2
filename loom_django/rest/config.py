"""The ``app.rest`` section of the loom configuration, typed."""

from __future__ import annotations

import logging
import warnings
from typing import Any, Literal

import msgspec

from loom_django.core.errors import ConfigError
from loom_django.core.repository.abc.query import PaginationMode
from loom_django.rest.constants import DEFAULT_LIMIT, MAX_LIMIT
from loom_django.rest.model import HandlerMode, RestApiDefaults

__all__ = ["RestConfig", "RestDefaultsConfig", "load_rest_config"]

_log = logging.getLogger("loom_django.rest")


class RestDefaultsConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``app.rest.defaults``: the API-wide route policies."""

    pagination_mode: PaginationMode = PaginationMode.OFFSET
    allow_pagination_override: bool = True
    profile_default: str = "default"
    allowed_profiles: list[str] = msgspec.field(default_factory=list)

    def to_defaults(self) -> RestApiDefaults:
        """The equivalent :class:`RestApiDefaults`."""
        return RestApiDefaults(
            pagination_mode=self.pagination_mode,
            allow_pagination_override=self.allow_pagination_override,
            profile_default=self.profile_default,
            allowed_profiles=tuple(self.allowed_profiles),
        )


class RestConfig(msgspec.Struct, kw_only=True):
    """``app.rest``: OpenAPI metadata, documentation URLs, limits and handler mode."""

    backend: str = "ninja"
    title: str = "Loom API"
    version: str = "0.1.0"
    description: str = ""
    docs_url: str | None = "/docs"
    redoc_url: str | None = "/redoc"
    openapi_url: str | None = "/openapi.json"
    defaults: RestDefaultsConfig = msgspec.field(default_factory=RestDefaultsConfig)
    default_limit: int = DEFAULT_LIMIT
    max_limit: int = MAX_LIMIT
    auto_delete_status: Literal[200, 204] = 200
    trailing_slash: Literal["both", "strict"] = "both"
    handler_mode: HandlerMode = "sync"
    max_body_size: int | None = None
    query_fields: Literal["all", "declared"] = "all"
    """``declared``: list routes filter and sort only on the fields their interface or
    route names in ``filterable``/``sortable`` (deny by default); ``all``: on every
    column the items show."""
    list_envelope: Literal["camel", "snake"] = "camel"


def load_rest_config(raw: Any = None) -> RestConfig:
    """Read ``app.rest`` from the project's loom config (or convert ``raw``).

    Raises:
        ConfigError: the section does not fit :class:`RestConfig`.
    """
    if raw is None:
        from omegaconf import OmegaConf

        from loom_django.conf import conf
        from loom_django.core.config import to_plain

        raw = to_plain(OmegaConf.select(conf.loom_config(), "app.rest", default=None)) or {}
    try:
        cfg = msgspec.convert(raw, RestConfig, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"Config section 'app.rest' is invalid: {exc}") from exc
    if cfg.backend == "fastapi":
        warnings.warn(
            "app.rest.backend 'fastapi' is a deprecated alias of 'ninja'.",
            DeprecationWarning,
            stacklevel=2,
        )
    elif cfg.backend != "ninja":
        raise ConfigError(f"app.rest.backend must be 'ninja', got {cfg.backend!r}.")
    if not 1 <= cfg.default_limit <= cfg.max_limit:
        raise ConfigError("app.rest.default_limit must be between 1 and app.rest.max_limit.")
    return cfg
