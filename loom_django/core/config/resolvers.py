"""Custom OmegaConf resolvers (``${name:key}``) and their idempotent registration."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from omegaconf import OmegaConf

from loom_django.core.errors import ConfigError

__all__ = [
    "ConfigResolver",
    "SecretsManagerResolver",
    "SsmResolver",
    "register_resolver",
    "register_resolvers",
]


@runtime_checkable
class ConfigResolver(Protocol):
    """A value source usable in YAML as ``${<name>:<key>}``."""

    @property
    def name(self) -> str:
        """Resolver name used in the interpolation, e.g. ``ssm``."""
        ...

    def resolve(self, key: str) -> Any:
        """Return the value stored under ``key``."""
        ...


def register_resolver(resolver: ConfigResolver) -> None:
    """Register ``resolver`` with OmegaConf; registering a name again replaces it (idempotent)."""
    name = resolver.name
    if not name or not isinstance(name, str):
        raise ConfigError(f"Config resolver {resolver!r} must have a non-empty string name.")
    if name.startswith("oc."):
        raise ConfigError(f"Config resolver name '{name}' is reserved by OmegaConf.")
    _REGISTER(name, resolver.resolve, replace=True)


def _registrar() -> Callable[..., None]:
    # OmegaConf 2.4 renamed register_new_resolver to register_resolver (which in 2.3 is the
    # legacy string-only API, without ``replace``).
    modern = OmegaConf.register_resolver
    if "replace" in inspect.signature(modern).parameters:
        return modern
    return OmegaConf.register_new_resolver


_REGISTER = _registrar()


def register_resolvers(resolvers: Iterable[ConfigResolver]) -> None:
    """Register each resolver in order."""
    for resolver in resolvers:
        register_resolver(resolver)


def _boto3_client(service: str, region_name: str | None) -> Any:
    try:
        import boto3  # type: ignore[import-not-found]
    except ImportError as exc:
        raise ConfigError(
            f"The '{service}' config resolver requires boto3 (pip install boto3)."
        ) from exc
    return boto3.client(service, region_name=region_name)


class SsmResolver:
    """``${ssm:/path/to/param}`` reads an AWS SSM parameter (decrypted); values are cached."""

    name = "ssm"

    def __init__(self, client: Any = None, *, region_name: str | None = None) -> None:
        self._client = client
        self._region_name = region_name
        self._cache: dict[str, Any] = {}

    def resolve(self, key: str) -> Any:
        """Return the parameter's value, fetching it once."""
        if key not in self._cache:
            if self._client is None:
                self._client = _boto3_client("ssm", self._region_name)
            response = self._client.get_parameter(Name=key, WithDecryption=True)
            self._cache[key] = response["Parameter"]["Value"]
        return self._cache[key]


class SecretsManagerResolver:
    """``${secretsmanager:secret-id}`` reads an AWS Secrets Manager secret string; cached."""

    name = "secretsmanager"

    def __init__(self, client: Any = None, *, region_name: str | None = None) -> None:
        self._client = client
        self._region_name = region_name
        self._cache: dict[str, Any] = {}

    def resolve(self, key: str) -> Any:
        """Return the secret string, fetching it once."""
        if key not in self._cache:
            if self._client is None:
                self._client = _boto3_client("secretsmanager", self._region_name)
            response = self._client.get_secret_value(SecretId=key)
            self._cache[key] = response["SecretString"]
        return self._cache[key]
