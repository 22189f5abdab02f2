"""Fixtures of the ETL suite: the real runtime (with the test use cases) and file roots."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from loom_django.runtime import get_runtime, reset_runtime


@pytest.fixture
def runtime(settings: Any) -> Iterator[Any]:
    """The real Django runtime discovering ``tests.etl.use_cases``."""
    settings.LOOM = {
        "CONFIG": {
            "app": {
                "discovery": {"mode": "modules", "modules": {"include": ["tests.etl.use_cases"]}}
            }
        }
    }
    reset_runtime()
    yield get_runtime()
    reset_runtime()


@pytest.fixture
def files_root(tmp_path: Any, settings: Any) -> Any:
    """Relative ETL file paths resolve under a fresh temporary directory."""
    settings.BASE_DIR = tmp_path
    return tmp_path


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One small local SparkSession for the whole test session (``local[1]``, no UI)."""
    pyspark_sql = pytest.importorskip("pyspark.sql")
    session = (
        pyspark_sql.SparkSession.builder.master("local[1]")
        .appName("loom-etl-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.ansi.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "512m")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
