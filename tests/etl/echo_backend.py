"""A third-party ETL backend for the entry-point tests: Polars, counting its loads."""

from __future__ import annotations

from typing import Any

LOADS: list[str] = []


class EchoProvider:
    """Registered as ``echo`` in ``loom.etl.backends`` by a test distribution."""

    name = "echo"

    def load(self, config: Any, spark: Any = None) -> Any:
        from loom_django.etl import _polars_backend

        LOADS.append(self.name)
        return _polars_backend


class OtherEchoProvider(EchoProvider):
    """A second distribution's provider under the same name."""

    name = "echo-other"
