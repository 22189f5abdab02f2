"""Load YAML files into one OmegaConf config: left-to-right merge, recursive ``includes``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from loom_django.core.config.resolvers import ConfigResolver, register_resolvers
from loom_django.core.config.section import to_plain
from loom_django.core.errors import ConfigError

__all__ = ["CLOUD_SCHEMES", "load_config", "merge_configs"]

CLOUD_SCHEMES: tuple[str, ...] = (
    "s3://",
    "gs://",
    "gcs://",
    "abfss://",
    "abfs://",
    "az://",
    "r2://",
)
"""URI prefixes read through fsspec; such files may not declare ``includes``."""

_INCLUDES = "includes"

ConfigSource = str | os.PathLike[str]


def load_config(*files: ConfigSource, resolvers: Iterable[ConfigResolver] = ()) -> DictConfig:
    """Load and merge YAML ``files`` left to right (later files win).

    Interpolations such as ``${oc.env:VAR,default}`` stay lazy: they resolve on access
    (see :func:`~loom_django.core.config.section`).

    Raises:
        ConfigError: no file given, a file is missing or unparsable, or includes loop.
    """
    if not files:
        raise ConfigError("load_config() requires at least one configuration file.")
    register_resolvers(resolvers)
    return merge_configs(_load_source(source, ()) for source in files)


def merge_configs(configs: Iterable[DictConfig | Mapping[str, Any]]) -> DictConfig:
    """Deep-merge configs left to right (mappings merge, lists and scalars are replaced)."""
    merged: DictConfig = OmegaConf.create({})
    for cfg in configs:
        try:
            result = OmegaConf.merge(merged, cfg)
        except OmegaConfBaseException as exc:
            raise ConfigError(f"Failed to merge configuration: {exc}") from exc
        assert isinstance(result, DictConfig)
        merged = result
    return merged


def _is_cloud(source: str) -> bool:
    return source.startswith(CLOUD_SCHEMES)


def _load_source(source: ConfigSource, stack: tuple[Path, ...]) -> DictConfig:
    text = os.fspath(source)
    if _is_cloud(text):
        return _load_cloud(text)
    return _load_local(Path(text).expanduser().resolve(), stack)


def _load_local(path: Path, stack: tuple[Path, ...]) -> DictConfig:
    if path in stack:
        raise ConfigError(f"Circular include detected: '{path}' is already being loaded.")
    if not path.is_file():
        raise ConfigError(f"Configuration file not found: '{path}'")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Failed to parse configuration file '{path}': {exc}") from exc
    cfg = _parse(text, str(path))
    includes = _pop_includes(cfg, str(path))
    if not includes:
        return cfg
    inner = (*stack, path)
    parts = [_load_source(_relative_to(path.parent, item), inner) for item in includes]
    return merge_configs([*parts, cfg])


def _load_cloud(uri: str) -> DictConfig:
    try:
        import fsspec  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:
        raise ConfigError(
            f"Reading configuration from '{uri}' requires fsspec and the protocol's "
            "filesystem package (e.g. pip install fsspec s3fs)."
        ) from exc
    try:
        with fsspec.open(uri, "r", encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError as exc:
        raise ConfigError(f"Configuration file not found: '{uri}'") from exc
    except Exception as exc:
        raise ConfigError(f"Failed to parse configuration file '{uri}': {exc}") from exc
    cfg = _parse(text, uri)
    if _INCLUDES in cfg:
        raise ConfigError(
            f"Configuration file '{uri}' declares includes; remote files may not use includes."
        )
    return cfg


def _parse(text: str, where: str) -> DictConfig:
    try:
        cfg = OmegaConf.create(text) if text.strip() else OmegaConf.create({})
    except (yaml.YAMLError, OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(f"Failed to parse configuration file '{where}': {exc}") from exc
    if not isinstance(cfg, DictConfig):
        raise ConfigError(
            f"Failed to parse configuration file '{where}': the top level must be a mapping."
        )
    return cfg


def _pop_includes(cfg: DictConfig, where: str) -> list[str]:
    if _INCLUDES not in cfg:
        return []
    try:
        value = cfg[_INCLUDES]
        raw = to_plain(value) if isinstance(value, ListConfig) else value
    except OmegaConfBaseException as exc:
        raise ConfigError(f"Failed to parse configuration file '{where}': {exc}") from exc
    del cfg[_INCLUDES]
    if raw is None:
        return []
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ConfigError(
            f"Failed to parse configuration file '{where}': 'includes' must be a list of paths."
        )
    return items


def _relative_to(base: Path, item: str) -> str:
    if _is_cloud(item):
        return item
    path = Path(item).expanduser()
    return str(path if path.is_absolute() else base / path)
