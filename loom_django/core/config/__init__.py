"""YAML configuration: loading with includes, typed sections, binding and database URLs."""

from __future__ import annotations

from loom_django.core.config.binding import ConfigBinder, ConfigBinding, DefaultConfigBinder
from loom_django.core.config.context import ConfigContext
from loom_django.core.config.database import database_from_url, databases_from_yaml
from loom_django.core.config.keys import ConfigKey
from loom_django.core.config.loader import CLOUD_SCHEMES, load_config, merge_configs
from loom_django.core.config.observability import (
    MetricsSettings,
    app_name,
    metrics_settings,
    trace_enabled,
)
from loom_django.core.config.resolvers import (
    ConfigResolver,
    SecretsManagerResolver,
    SsmResolver,
    register_resolver,
    register_resolvers,
)
from loom_django.core.config.section import has_section, section, to_plain
from loom_django.core.errors import ConfigError

__all__ = [
    "CLOUD_SCHEMES",
    "ConfigBinder",
    "ConfigBinding",
    "ConfigContext",
    "ConfigError",
    "ConfigKey",
    "ConfigResolver",
    "DefaultConfigBinder",
    "MetricsSettings",
    "SecretsManagerResolver",
    "SsmResolver",
    "app_name",
    "database_from_url",
    "databases_from_yaml",
    "has_section",
    "load_config",
    "merge_configs",
    "metrics_settings",
    "register_resolver",
    "register_resolvers",
    "section",
    "to_plain",
    "trace_enabled",
]
