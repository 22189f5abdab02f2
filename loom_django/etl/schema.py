"""Formats, read/write options and schema modes shared by sources and targets."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "CsvReadOptions",
    "CsvWriteOptions",
    "Format",
    "JsonReadOptions",
    "JsonWriteOptions",
    "ParquetReadOptions",
    "ParquetWriteOptions",
    "ReadOptions",
    "SchemaMode",
    "WriteOptions",
    "options_match",
]


class Format(StrEnum):
    """File formats (``JSON`` is newline-delimited)."""

    DELTA = "delta"
    CSV = "csv"
    JSON = "json"
    XLSX = "xlsx"
    PARQUET = "parquet"


class SchemaMode(StrEnum):
    """How a frame is aligned to an existing table before a write."""

    STRICT = "strict"
    EVOLVE = "evolve"
    OVERWRITE = "overwrite"


@dataclass(frozen=True)
class CsvReadOptions:
    """CSV reading, passed to the Polars scanner."""

    separator: str = ","
    has_header: bool = True
    null_values: tuple[str, ...] = ()
    encoding: str = "utf8"
    infer_schema_length: int | None = 100
    skip_rows: int = 0


@dataclass(frozen=True)
class JsonReadOptions:
    """NDJSON reading."""

    infer_schema_length: int | None = 100


@dataclass(frozen=True)
class ParquetReadOptions:
    """Parquet is self-describing: no options."""


@dataclass(frozen=True)
class CsvWriteOptions:
    """CSV writing; ``kwargs`` are extra ``(name, value)`` writer arguments."""

    separator: str = ","
    has_header: bool = True
    kwargs: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class ParquetWriteOptions:
    """Parquet writing."""

    compression: str = "zstd"
    kwargs: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class JsonWriteOptions:
    """NDJSON writing."""

    kwargs: tuple[tuple[str, Any], ...] = ()


ReadOptions = CsvReadOptions | JsonReadOptions | ParquetReadOptions
WriteOptions = CsvWriteOptions | ParquetWriteOptions | JsonWriteOptions

_MATCHING: dict[Format, tuple[type[Any], ...]] = {
    Format.CSV: (CsvReadOptions, CsvWriteOptions),
    Format.JSON: (JsonReadOptions, JsonWriteOptions),
    Format.PARQUET: (ParquetReadOptions, ParquetWriteOptions),
}


def options_match(fmt: Format, options: object) -> bool:
    """Whether ``options`` is the options class of ``fmt``."""
    return isinstance(options, _MATCHING.get(fmt, ()))
