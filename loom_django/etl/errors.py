"""Error types of the ETL door: compile errors with codes, and run-time data errors.

Each maps to one exit code of ``manage.py loom_etl`` (see :mod:`loom_django.etl.command`).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

__all__ = [
    "DuplicateKeyError",
    "ETLCompilationError",
    "ETLCompilationErrorGroup",
    "ETLErrorCode",
    "HistorifyDateCollisionError",
    "HistorifyKeyConflictError",
    "HistorifyTemporalConflictError",
    "InvalidStageError",
    "LockHeldError",
    "PredicateViolationError",
    "RejectThresholdExceeded",
    "RunInterrupted",
    "SchemaError",
    "SchemaNotFoundError",
]


class ETLErrorCode(StrEnum):
    """Stable codes of compile and pre-flight errors (names kept from loom-kernel)."""

    MISSING_GENERIC_PARAM = "MISSING_GENERIC_PARAM"
    INVALID_PARAMS_TYPE = "INVALID_PARAMS_TYPE"
    INVALID_PARAMS_NAME = "INVALID_PARAMS_NAME"
    MISSING_SOURCE_PARAMS = "MISSING_SOURCE_PARAMS"
    EXTRA_SOURCE_PARAMS = "EXTRA_SOURCE_PARAMS"
    MISSING_PARAMS_FIELDS = "MISSING_PARAMS_FIELDS"
    UNKNOWN_SOURCE_TABLE = "UNKNOWN_SOURCE_TABLE"
    UNKNOWN_TARGET_TABLE = "UNKNOWN_TARGET_TABLE"
    TEMP_NOT_PRODUCED = "TEMP_NOT_PRODUCED"
    DUPLICATE_TEMP_NAME = "DUPLICATE_TEMP_NAME"
    INVALID_TEMP_APPEND_MIX = "INVALID_TEMP_APPEND_MIX"
    UPSERT_NO_KEYS = "UPSERT_NO_KEYS"
    UPSERT_EXCLUDE_INCLUDE_CONFLICT = "UPSERT_EXCLUDE_INCLUDE_CONFLICT"
    UPSERT_KEY_IN_EXCLUDE = "UPSERT_KEY_IN_EXCLUDE"
    MISSING_TARGET = "MISSING_TARGET"
    INVALID_TARGET_TYPE = "INVALID_TARGET_TYPE"
    INVALID_SOURCES_TYPE = "INVALID_SOURCES_TYPE"
    INVALID_PROCESS_ITEM = "INVALID_PROCESS_ITEM"
    INVALID_STEP_ITEM = "INVALID_STEP_ITEM"
    UNKNOWN_PARAM_FIELD = "UNKNOWN_PARAM_FIELD"
    UNKNOWN_COLUMN = "UNKNOWN_COLUMN"
    UPSERT_KEYS_NOT_UNIQUE = "UPSERT_KEYS_NOT_UNIQUE"
    SCHEMA_OWNED_BY_MIGRATIONS = "SCHEMA_OWNED_BY_MIGRATIONS"
    ENGINE_MISMATCH = "ENGINE_MISMATCH"
    UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT"
    UNSUPPORTED_TYPE = "UNSUPPORTED_TYPE"
    INVALID_READ_OPTIONS = "INVALID_READ_OPTIONS"
    UNKNOWN_FILE_ALIAS = "UNKNOWN_FILE_ALIAS"
    NO_ROUTE = "NO_ROUTE"
    FEATURE_UNAVAILABLE = "FEATURE_UNAVAILABLE"
    USE_CASE_INVALID = "USE_CASE_INVALID"
    RESERVED_NAME = "RESERVED_NAME"
    UNKNOWN_BACKEND = "UNKNOWN_BACKEND"
    ATOMIC_UNSUPPORTED = "ATOMIC_UNSUPPORTED"
    ATOMIC_HISTORY_CONFLICT = "ATOMIC_HISTORY_CONFLICT"


class ETLCompilationError(Exception):
    """A declaration cannot run: ``component`` is the class, ``field`` the alias involved."""

    def __init__(
        self, code: ETLErrorCode, component: str, message: str, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.component = component
        self.message = message
        self.field = field


class ETLCompilationErrorGroup(ETLCompilationError):
    """Several compile errors of one pipeline, reported together (``errors``)."""

    def __init__(self, errors: Sequence[ETLCompilationError]) -> None:
        first = errors[0]
        lines = "\n".join(f"  [{e.code}] {e.component}: {e.message}" for e in errors)
        super().__init__(
            first.code, first.component, f"{len(errors)} ETL compile errors:\n{lines}", first.field
        )
        self.errors = tuple(errors)


class SchemaNotFoundError(ETLCompilationError):
    """A Delta table target does not exist and ``storage.missing_table_policy`` forbids
    creating it (reported at pre-flight, before anything runs)."""

    def __init__(self, component: str, location: str, field: str | None = "target") -> None:
        super().__init__(
            ETLErrorCode.UNKNOWN_TARGET_TABLE,
            component,
            f"Delta table {location} does not exist: declare the target with "
            "schema=SchemaMode.OVERWRITE, or set etl.storage.missing_table_policy='create'",
            field,
        )
        self.location = location


class InvalidStageError(ValueError):
    """``include`` names a step or process the pipeline does not have."""


class SchemaError(ValueError):
    """The frame does not fit the target's schema (extra or missing required columns)."""


class PredicateViolationError(ValueError):
    """Rows of a ``replace_where`` frame fall outside the predicate; nothing was deleted."""


class DuplicateKeyError(ValueError):
    """An upsert frame holds the same key more than once; nothing was written."""


class HistorifyKeyConflictError(ValueError):
    """An ``IntoHistory`` snapshot holds one entity (key) more than once; nothing was written."""


class HistorifyDateCollisionError(ValueError):
    """Two ``IntoHistory`` log events of one entity share a date; nothing was written."""


class HistorifyTemporalConflictError(ValueError):
    """An ``IntoHistory`` snapshot is older than open versions and ``allow_temporal_rerun`` is
    off; nothing was written."""


class RejectThresholdExceeded(RuntimeError):
    """More rows were rejected by a use case than ``max_rejects`` allows."""


class LockHeldError(RuntimeError):
    """Another run holds the pipeline's lock."""


class RunInterrupted(BaseException):
    """The run was cancelled: a signal (``signum``) or ``--timeout`` (``signum`` is ``None``)."""

    def __init__(self, signum: int | None, reason: str = "") -> None:
        super().__init__(reason or f"interrupted by signal {signum}")
        self.signum = signum
