"""The error model: domain errors with a stable code and HTTP status, and startup errors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

__all__ = [
    "BootstrapError",
    "CompilationError",
    "ConfigError",
    "Conflict",
    "DomainError",
    "ErrorCode",
    "FilterPathError",
    "Forbidden",
    "InterfaceCompilationError",
    "JobFailedError",
    "JobTimeoutError",
    "LoomError",
    "MissingDependency",
    "NotFound",
    "ParameterBindingError",
    "ResolutionError",
    "RuleViolation",
    "RuleViolations",
    "SystemError",
    "UniqueConflict",
    "UnsafeFilterError",
    "ValidationError",
    "Violation",
    "BadRequest",
    "status_for_code",
]


class ErrorCode(StrEnum):
    """Stable machine-readable error codes shared by every door."""

    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"
    RULE_VIOLATION = "rule_violation"
    RULE_VIOLATIONS = "rule_violations"
    VALIDATION_ERROR = "validation_error"
    BAD_REQUEST = "bad_request"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    SYSTEM_ERROR = "system_error"
    JOB_TIMEOUT = "job_timeout"
    JOB_FAILED = "job_failed"


_STATUS_BY_CODE: dict[str, int] = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.CONFLICT: 409,
    ErrorCode.RULE_VIOLATION: 422,
    ErrorCode.RULE_VIOLATIONS: 422,
    ErrorCode.VALIDATION_ERROR: 422,
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.SYSTEM_ERROR: 500,
    ErrorCode.JOB_TIMEOUT: 500,
    ErrorCode.JOB_FAILED: 500,
}


def status_for_code(code: str) -> int:
    """Return the HTTP status of an error code (500 for codes nobody registered)."""
    return _STATUS_BY_CODE.get(code, 500)


class LoomError(Exception):
    """Base of every error a use case may raise on purpose; carries a code and a message.

    Every loom error keeps its constructor arguments in ``args`` (positional, JSON-safe
    values), so it is rebuilt with the same type, message and fields both by pickle and
    by Celery's JSON exception transport (``cls(*args)``). A subclass with another
    signature sets ``self.args`` to the arguments that rebuild it.
    """

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, code)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message

    @property
    def status_code(self) -> int:
        """HTTP status that transports use for this error."""
        return status_for_code(self.code)

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses may take other constructor arguments than ``args``; rebuild from
        # state so errors survive pickling (Celery result backends, multiprocessing).
        return (_restore_error, (type(self), self.args, self.__dict__.copy()))


def _restore_error(cls: type[LoomError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class DomainError(LoomError):
    """An expected business outcome (missing entity, broken rule, conflict)."""


class SystemError(LoomError):
    """An unexpected failure of infrastructure the caller cannot fix (HTTP 500)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=ErrorCode.SYSTEM_ERROR)
        self.args = (message,)


class NotFound(DomainError):
    """The entity looked up does not exist (HTTP 404)."""

    def __init__(self, entity: str, id: Any) -> None:
        super().__init__(f"{entity} with id={id!r} not found", code=ErrorCode.NOT_FOUND)
        self.entity = entity
        self.id = id
        self.args = (entity, id)


class Forbidden(DomainError):
    """The caller may not perform this action (HTTP 403)."""

    def __init__(self, message: str = "Forbidden") -> None:
        super().__init__(message, code=ErrorCode.FORBIDDEN)
        self.args = (message,)


class Conflict(DomainError):
    """The write clashes with existing data, e.g. a unique constraint (HTTP 409)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=ErrorCode.CONFLICT)
        self.args = (message,)


class UniqueConflict(Conflict):
    """A unique constraint refused the write; says which table and columns (HTTP 409).

    Repositories raise it instead of a bare :class:`Conflict` so the engine can turn the
    violation back into the rule that guards the same column (see
    ``core/engine/unique_guard.py``).
    """

    def __init__(
        self, message: str, *, table: str | None = None, columns: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.table = table
        self.columns = columns


class BadRequest(DomainError):
    """The request is malformed in a way no field-level violation describes (HTTP 400)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=ErrorCode.BAD_REQUEST)
        self.args = (message,)


class RuleViolation(DomainError):
    """One business rule failed for one field; ``str()`` is ``"<field>: <message>"``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, code=ErrorCode.RULE_VIOLATION)
        self.field = field
        self.args = (field, message)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"

    def __repr__(self) -> str:
        return f"RuleViolation({self.field!r}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RuleViolation):
            return NotImplemented
        return (self.field, self.message) == (other.field, other.message)

    def __hash__(self) -> int:
        return hash((self.field, self.message))


class RuleViolations(DomainError):
    """Every rule that failed in one execution, in declaration order (HTTP 422).

    ``violations`` may be ``RuleViolation`` objects or ``(field, message)`` pairs (the
    form ``args`` keeps them in).
    """

    def __init__(self, violations: Iterable[RuleViolation | Sequence[str]]) -> None:
        self.violations: tuple[RuleViolation, ...] = tuple(
            v if isinstance(v, RuleViolation) else RuleViolation(str(v[0]), str(v[1]))
            for v in violations
        )
        super().__init__("; ".join(str(v) for v in self.violations), code=ErrorCode.RULE_VIOLATIONS)
        self.args = ([[v.field, v.message] for v in self.violations],)


class Violation(tuple[str, str]):
    """A ``(field, message)`` pair describing one invalid input value."""

    __slots__ = ()

    def __new__(cls, field: str, message: str) -> Violation:
        return super().__new__(cls, (field, message))

    def __getnewargs__(self) -> tuple[str, str]:
        return (self[0], self[1])

    @property
    def field(self) -> str:
        """Offending path in Python naming (``price``, ``items[0].qty``)."""
        return self[0]

    @property
    def message(self) -> str:
        """Human-readable reason."""
        return self[1]


class ValidationError(DomainError, ValueError):
    """Input did not decode into the declared types; one violation per problem (HTTP 422)."""

    def __init__(self, violations: Sequence[Sequence[str]], message: str | None = None) -> None:
        self.violations: tuple[Violation, ...] = tuple(Violation(f, m) for f, m in violations)
        summary = message or "; ".join(f"{v.field}: {v.message}" for v in self.violations)
        super().__init__(summary or "Invalid input", code=ErrorCode.VALIDATION_ERROR)
        self.args = ([[v.field, v.message] for v in self.violations], message)


class ParameterBindingError(ValidationError):
    """A primitive ``execute`` parameter could not be converted to its annotation."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__([(param, message)], message)
        self.param = param
        self.args = (message, param)


class JobTimeoutError(LoomError):
    """Waiting for a job's result took longer than allowed."""

    def __init__(self, job_id: str, timeout: float | None = None) -> None:
        suffix = f" after {timeout}s" if timeout is not None else ""
        super().__init__(f"Job '{job_id}' timed out{suffix}", code=ErrorCode.JOB_TIMEOUT)
        self.job_id = job_id
        self.timeout = timeout
        self.args = (job_id, timeout)


class JobFailedError(LoomError):
    """A job ended in failure; ``cause`` is the worker's error text when known."""

    def __init__(self, job_id: str, cause: str | None = None) -> None:
        suffix = f": {cause}" if cause else ""
        super().__init__(f"Job '{job_id}' failed{suffix}", code=ErrorCode.JOB_FAILED)
        self.job_id = job_id
        self.cause = cause
        self.args = (job_id, cause)


class CompilationError(Exception):
    """A use case, job or interface is structurally invalid; raised at startup."""


class InterfaceCompilationError(CompilationError):
    """A REST interface declaration is invalid."""


class BootstrapError(Exception):
    """Startup failed; chains the underlying cause."""


class ResolutionError(Exception):
    """The DI container cannot provide a requested dependency."""


class ConfigError(Exception):
    """Configuration files or sections are missing, malformed or invalid."""


class MissingDependency(ImportError):
    """An optional package a door needs is not installed; names the pip extra to add."""

    def __init__(self, package: str, extra: str) -> None:
        message = (
            f"{package!r} is not installed; install loom-django with the {extra!r} extra "
            f"(pip install -e '.[{extra}]' from a checkout)"
        )
        super().__init__(message)
        self.package = package
        self.extra = extra
        self.args = (package, extra)
        self.msg = message

    def __str__(self) -> str:
        return str(self.msg)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_missing, (self.package, self.extra))


def _rebuild_missing(package: str, extra: str) -> MissingDependency:
    return MissingDependency(package, extra=extra)


class FilterPathError(ValueError):
    """A filter or sort names a field path the model does not have (HTTP 400)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path

    def __str__(self) -> str:
        return f"Unknown filter field path: '{self.path}'"


class UnsafeFilterError(ValueError):
    """A filter or sort names a field outside the repository's allow-list (HTTP 400)."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field

    def __str__(self) -> str:
        return f"Filtering on field '{self.field}' is not allowed by this repository."
