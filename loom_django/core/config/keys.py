"""Names of the top-level configuration sections every door agrees on."""

from __future__ import annotations

from typing import Final

__all__ = ["ConfigKey"]


class ConfigKey:
    """Top-level YAML keys, as constants so a typo is a NameError rather than a silent miss."""

    APP: Final = "app"
    DATABASE: Final = "database"
    CELERY: Final = "celery"
    KAFKA: Final = "kafka"
    MONGO: Final = "mongo"
    STORAGE: Final = "storage"
    STREAMING: Final = "streaming"
    OBSERVABILITY: Final = "observability"
    LOGGER: Final = "logger"
    METRICS: Final = "metrics"
    JOBS: Final = "jobs"
    TRACE: Final = "trace"
    ETL: Final = "etl"
