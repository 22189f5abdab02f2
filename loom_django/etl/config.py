"""The typed ``etl:`` configuration section, built once and passed around as an object."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec

__all__ = [
    "DEFAULT_ENGINE",
    "AuditColumn",
    "AuditConfig",
    "DjangoIOConfig",
    "DjangoRoute",
    "EtlConfig",
    "FileRoute",
    "HistoryConfig",
    "LockConfig",
    "ObservabilityConfig",
    "PrometheusConfig",
    "StorageConfig",
    "StorageDefaults",
    "TableRoute",
    "TempConfig",
    "load_config",
]

DEFAULT_ENGINE = "polars"
DEFAULT_READ_BATCH = 50_000
DEFAULT_WRITE_BATCH = 10_000


class _Struct(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    pass


class DjangoRoute(_Struct, frozen=True):
    """A logical table routed to a Django model (``app_label.Model``) or a raw table."""

    model: str | None = None
    table: str | None = None
    database: str = "default"


class FilePath(_Struct, frozen=True):
    """The location of a file alias or of a Delta table."""

    uri: str


class TableRoute(_Struct, frozen=True):
    """``storage.tables[]``: one logical name and its destination (a Django model, or a
    Delta table ``path`` with the ``delta`` extra)."""

    name: str
    django: DjangoRoute | None = None
    path: FilePath | None = None

    def __post_init__(self) -> None:
        if (self.django is None) == (self.path is None):
            raise ValueError(f"table route {self.name!r} needs exactly one of django, path")


class StorageDefaults(_Struct, frozen=True):
    """``storage.defaults``: ``table_path`` roots Delta tables (``raw.orders`` →
    ``<uri>/raw/orders``)."""

    table_path: FilePath | None = None


class FileRoute(_Struct, frozen=True):
    """``storage.files[]``: a file alias."""

    name: str
    path: FilePath


class TempConfig(_Struct, frozen=True):
    """Where intermediates live (a local path; ``None`` = the system temp dir)."""

    root: str | None = None


class AuditColumn(_Struct, frozen=True):
    """A custom audit column: a literal ``value`` or ``str(params.<from_param>)``."""

    name: str
    value: str | None = None
    from_param: str | None = None

    def __post_init__(self) -> None:
        if (self.value is None) == (self.from_param is None):
            raise ValueError(f"audit column {self.name!r} needs exactly one of value, from_param")


class AuditConfig(_Struct, frozen=True):
    """Audit columns written into table targets (``{prefix}run_id``, ``step``, ``attempt``,
    ``process_run_id`` and the ``custom`` ones); only into fields the model declares."""

    enabled: bool = False
    prefix: str = "_loom_"
    custom: tuple[AuditColumn, ...] = ()


class StorageConfig(_Struct, frozen=True):
    """Routes of logical tables and file aliases."""

    django_autoroute: bool = True
    tables: tuple[TableRoute, ...] = ()
    files: tuple[FileRoute, ...] = ()
    temp: TempConfig = msgspec.field(default_factory=TempConfig)
    audit: AuditConfig = msgspec.field(default_factory=AuditConfig)
    defaults: StorageDefaults = msgspec.field(default_factory=StorageDefaults)
    missing_table_policy: Literal["schema_mode", "create", "error"] = "schema_mode"


class DjangoIOConfig(_Struct, frozen=True):
    """Batch sizes and fast paths of Django table reads and writes."""

    read_batch_size: int = DEFAULT_READ_BATCH
    write_batch_size: int = DEFAULT_WRITE_BATCH
    server_side_cursors: bool = True
    copy: str = "auto"


class SparkConfig(_Struct, frozen=True):
    """The SparkSession the runner builds when none is given."""

    master: str = "local[*]"
    app_name: str = "loom-etl"
    conf: dict[str, str] = msgspec.field(default_factory=dict)


class HistoryConfig(_Struct, frozen=True):
    """Run history in the Django database."""

    enabled: bool = True
    database: str = "default"
    retention_days: int = 90
    heartbeat_seconds: float = 30


class LockConfig(_Struct, frozen=True):
    """The per-pipeline run lock."""

    enabled: bool = True
    stale_after_seconds: int = 3600


class PrometheusConfig(_Struct, frozen=True):
    """ETL metrics: recorded when enabled, pushed at the end of each run when a URL is set."""

    enabled: bool = False
    pushgateway_url: str | None = None


class ObservabilityConfig(_Struct, frozen=True):
    """Optional observers of every run."""

    prometheus: PrometheusConfig = msgspec.field(default_factory=PrometheusConfig)


class EtlConfig(_Struct, frozen=True):
    """The ``etl:`` section of the loom configuration."""

    engine: str = DEFAULT_ENGINE
    files_root: str | None = None
    max_workers: int | None = None
    storage: StorageConfig = msgspec.field(default_factory=StorageConfig)
    django: DjangoIOConfig = msgspec.field(default_factory=DjangoIOConfig)
    spark: SparkConfig = msgspec.field(default_factory=SparkConfig)
    history: HistoryConfig = msgspec.field(default_factory=HistoryConfig)
    lock: LockConfig = msgspec.field(default_factory=LockConfig)
    observability: ObservabilityConfig = msgspec.field(default_factory=ObservabilityConfig)

    def file_alias(self, name: str) -> str | None:
        """The configured URI of a file alias, or ``None``."""
        for route in self.storage.files:
            if route.name == name:
                return route.path.uri
        return None

    def table_route(self, name: str) -> DjangoRoute | None:
        """The explicit route of a logical table name, or ``None``."""
        for route in self.storage.tables:
            if route.name == name:
                return route.django
        return None

    def delta_uri(self, name: str) -> str | None:
        """The Delta location of a logical table: its ``path`` route, else under
        ``storage.defaults.table_path`` when no Django route names it; or ``None``."""
        for route in self.storage.tables:
            if route.name == name:
                return route.path.uri if route.path is not None else None
        root = self.storage.defaults.table_path
        if root is None:
            return None
        return f"{root.uri.rstrip('/')}/{name.replace('.', '/')}"

    def root(self) -> Path:
        """Relative file paths resolve against this directory."""
        if self.files_root:
            return Path(self.files_root)
        from django.conf import settings

        return Path(getattr(settings, "BASE_DIR", Path.cwd()))


def load_config(
    overrides: Mapping[str, Any] | None = None,
    *,
    files: Sequence[str] = (),
    dotlist: Sequence[str] = (),
) -> EtlConfig:
    """The ``etl`` section of the merged loom config, lowest precedence first: YAML
    ``CONFIG_FILES``, ``LOOM['CONFIG']``, ``files`` (``--config``, left to right), then
    ``dotlist`` (``--set etl.key=value``; the ``etl.`` prefix may be left out).

    Raises:
        ValueError: a ``dotlist`` item without ``=``.
        ConfigError: a file is missing, unparsable or includes itself.
        msgspec.ValidationError: an unknown key or a wrong type, named by path.
    """
    from omegaconf import OmegaConf

    from loom_django.conf import conf
    from loom_django.core.config import load_config as load_files
    from loom_django.core.config import merge_configs

    cfg = conf.loom_config()
    if files or dotlist:
        parts: list[Any] = [cfg]
        if files:
            parts.append(load_files(*files))
        if dotlist:
            parts.append(OmegaConf.from_dotlist([_etl_key(item) for item in dotlist]))
        cfg = merge_configs(parts)
    raw = OmegaConf.select(cfg, "etl", default=None)
    data: dict[str, Any] = {}
    if raw is not None:
        data = OmegaConf.to_container(raw, resolve=True)  # type: ignore[assignment]
    if overrides:
        data = _merge(data, dict(overrides))
    return msgspec.convert(data, EtlConfig, strict=False)


def _etl_key(item: str) -> str:
    key, sep, _ = item.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--set expects dotted.key=value, got {item!r}")
    return item if item.startswith("etl.") else f"etl.{item}"


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), dict(value))
        else:
            out[key] = value
    return out
