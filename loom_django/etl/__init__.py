"""The ETL door: declare batch pipelines as typed classes, run them with ``manage.py loom_etl``.

Importing this package imports neither polars nor pyspark; the runner imports them lazily.
"""

from __future__ import annotations

from loom_django.etl.compiler import ETLCompiler
from loom_django.etl.config import EtlConfig
from loom_django.etl.declarative import (
    ClientStep,
    ETLParams,
    ETLPipeline,
    ETLProcess,
    ETLStep,
    Secret,
    StepSQL,
)
from loom_django.etl.errors import (
    DuplicateKeyError,
    ETLCompilationError,
    ETLCompilationErrorGroup,
    ETLErrorCode,
    HistorifyDateCollisionError,
    HistorifyKeyConflictError,
    HistorifyTemporalConflictError,
    InvalidStageError,
    PredicateViolationError,
    RejectThresholdExceeded,
    SchemaError,
)
from loom_django.etl.expr import col, params
from loom_django.etl.schema import (
    CsvReadOptions,
    CsvWriteOptions,
    Format,
    JsonReadOptions,
    JsonWriteOptions,
    ParquetReadOptions,
    ParquetWriteOptions,
    SchemaMode,
)
from loom_django.etl.sources import (
    FromFile,
    FromModel,
    FromQuery,
    FromTable,
    FromTemp,
    Sources,
    SourceSet,
)
from loom_django.etl.targets import (
    CheckpointScope,
    IntoClient,
    IntoFile,
    IntoHistory,
    IntoModel,
    IntoTable,
    IntoTemp,
    IntoUseCase,
    WriteMode,
)

__all__ = [
    "CheckpointScope",
    "ClientStep",
    "CsvReadOptions",
    "CsvWriteOptions",
    "DuplicateKeyError",
    "ETLCompilationError",
    "ETLCompilationErrorGroup",
    "ETLCompiler",
    "ETLErrorCode",
    "ETLParams",
    "ETLPipeline",
    "ETLProcess",
    "ETLStep",
    "EtlConfig",
    "Format",
    "FromFile",
    "FromModel",
    "FromQuery",
    "FromTable",
    "FromTemp",
    "IntoClient",
    "IntoFile",
    "IntoHistory",
    "IntoModel",
    "IntoTable",
    "IntoTemp",
    "IntoUseCase",
    "HistorifyDateCollisionError",
    "HistorifyKeyConflictError",
    "HistorifyTemporalConflictError",
    "InvalidStageError",
    "JsonReadOptions",
    "JsonWriteOptions",
    "ParquetReadOptions",
    "ParquetWriteOptions",
    "PredicateViolationError",
    "RejectThresholdExceeded",
    "SchemaError",
    "SchemaMode",
    "Secret",
    "SourceSet",
    "Sources",
    "StepSQL",
    "WriteMode",
    "col",
    "params",
]
