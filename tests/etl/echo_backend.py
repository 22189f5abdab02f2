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


class BatchOnlyProvider:
    """A backend that cannot stream: the Polars functions without ``read_streaming``."""

    name = "batch-only"

    def load(self, config: Any, spark: Any = None) -> Any:
        import types

        from loom_django.etl import _polars_backend as pb

        return types.SimpleNamespace(
            read_source=pb.read_source,
            run_sql=pb.run_sql,
            run_client_step=pb.run_client_step,
            write_target=pb.write_target,
            write_rejects=pb.write_rejects,
        )
