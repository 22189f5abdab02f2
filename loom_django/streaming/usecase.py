"""Use-case steps: a message becomes a command run by the shared compiled engine."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from loom_django.streaming.expr import Expr
from loom_django.streaming.messages import Message
from loom_django.streaming.nodes import RetryPolicy
from loom_django.streaming.steps import RecordStep

__all__ = ["MODES", "TRANSACTIONS", "InvokeUseCase", "UseCaseStep"]

MODES = ("auto", "inline", "bridged")
"""The execution modes of a use-case step (spec §7.3)."""

TRANSACTIONS = ("message", "batch")
"""What one transaction of a use-case step spans: a message, or a whole batch (spec §2.7)."""

_NOT_GIVEN: Any = object()


class UseCaseStep(RecordStep[Any, Any]):
    """A record step that executes ``use_case`` through the process runtime's executor.

    Override ``params`` (path/query parameters), ``command`` (the ``Input()`` command, a
    struct or a dict; default: the payload) and ``result`` (the payload emitted downstream,
    ``None`` filters). Runs in one transaction per message (``transaction = "batch"``: one
    per batch, all or nothing), committed before the result moves on. ``DomainError`` and
    ``IntegrityError`` become BUSINESS errors.
    """

    use_case: ClassVar[type[Any] | None] = None
    param_names: ClassVar[tuple[str, ...] | None] = None
    """Parameters ``params`` supplies, for the compile-time check (``None``: not checked)."""
    command_from_payload: ClassVar[bool] = True
    """Whether ``command`` returns the payload (enables the compile-time field check)."""
    result_type: ClassVar[type[Any] | None] = None
    """The payload class ``result`` builds, for the compile-time check (``None``: not checked)."""
    mode: ClassVar[str] = "auto"
    """``"inline"``, ``"bridged"`` or ``"auto"`` (inline, bridged once a run needs a loop)."""
    transaction: ClassVar[str] = "message"
    """``"message"``: one transaction per message; ``"batch"``: one for the whole micro-batch
    (or ``CollectBatch`` batch), where any failure rolls back and fails every message of it."""
    idempotency: ClassVar[str | None] = None
    """``"message"``: record each message id in the stream inbox (see ``idempotency_key``)."""

    def idempotency_key(self, message: Message[Any]) -> str | None:
        """The inbox key of ``message`` (``None``: no idempotency); override for business keys.

        With a key, the use case's writes and the inbox record commit together, and a key
        seen before re-emits the stored result without executing again.
        """
        if self.idempotency == "message":
            return message.meta.message_id
        return None

    def params(self, message: Message[Any]) -> dict[str, Any]:
        """Parameters of the use case's ``execute`` other than the command."""
        return {}

    def command(self, message: Message[Any]) -> Any:
        """The command (``Input()``) for ``message``; default: its payload."""
        return message.payload

    def result(self, value: Any, message: Message[Any]) -> Any:
        """What goes downstream for the use case's result ``value`` (``None``: nothing)."""
        return value


def _evaluate(spec: Any, message: Message[Any]) -> Any:
    if isinstance(spec, Expr):
        return spec.select(message)
    return spec


def InvokeUseCase(
    use_case: type[Any],
    *,
    params: Mapping[str, Any] | Callable[[Message[Any]], dict[str, Any]] | None = None,
    command: Any = _NOT_GIVEN,
    result: type[Any] | Callable[[Any, Message[Any]], Any] | None = None,
    mode: str = "auto",
    idempotency: str | Callable[[Message[Any]], str] | None = None,
    transaction: str = "message",
    retry: RetryPolicy | None = None,
    name: str = "",
) -> UseCaseStep:
    """Build a :class:`UseCaseStep` for ``use_case`` without writing a class.

    Args:
        use_case: a loom ``UseCase`` subclass.
        params: a mapping of parameter name to an expression (``payload.x``) or constant,
            or a callable ``message -> dict``.
        command: an expression, a callable ``message -> command``, or omitted (the payload).
        result: a payload class built from the result's attributes (by field name), a
            callable ``(value, message) -> payload | None``, or ``None`` (the result itself).
        mode: ``"auto"`` (default), ``"inline"`` or ``"bridged"`` (see the streaming guide).
        idempotency: ``"message"`` (the message id), a callable ``message -> key``, or
            ``None``: with a key, a redelivered message re-emits its stored result.
        transaction: ``"message"`` (default: one transaction per message) or ``"batch"``
            (one transaction per micro-batch or ``CollectBatch`` batch; a failure rolls the
            whole batch back and becomes an error for each of its messages).
        retry: retry policy for TASK failures.
        name: the step name (default ``invoke_<UseCase>``).

    Raises:
        ValueError: ``mode`` is not one of auto, inline, bridged, ``transaction`` not one of
            message, batch, or ``idempotency`` is a string other than ``"message"``.
    """
    if mode not in MODES:
        raise ValueError(f"InvokeUseCase.mode must be one of {', '.join(MODES)} (got {mode!r})")
    if transaction not in TRANSACTIONS:
        raise ValueError(
            f"InvokeUseCase.transaction must be one of {', '.join(TRANSACTIONS)} "
            f"(got {transaction!r})"
        )
    if isinstance(idempotency, str) and idempotency != "message":
        raise ValueError(
            f"InvokeUseCase.idempotency must be 'message' or a callable (got {idempotency!r})"
        )
    key_fn = idempotency if callable(idempotency) else None
    from_payload = command is _NOT_GIVEN
    static_params = dict(params) if isinstance(params, Mapping) else None
    params_fn = params if callable(params) else None

    def _params(self: UseCaseStep, message: Message[Any]) -> dict[str, Any]:
        if params_fn is not None:
            return dict(params_fn(message))
        if static_params is None:
            return {}
        return {k: _evaluate(v, message) for k, v in static_params.items()}

    def _command(self: UseCaseStep, message: Message[Any]) -> Any:
        if from_payload:
            return message.payload
        if isinstance(command, Expr):
            return command.select(message)
        if callable(command):
            return command(message)
        return command

    result_cls = result if isinstance(result, type) else None

    def _result(self: UseCaseStep, value: Any, message: Message[Any]) -> Any:
        if value is None:
            return None
        if result_cls is not None:
            return _build_result(result_cls, value)
        if callable(result):
            return result(value, message)
        return value

    attrs: dict[str, Any] = {
        "use_case": use_case,
        "name": name or f"invoke_{use_case.__name__}",
        "retry": retry,
        "param_names": tuple(static_params)
        if static_params is not None
        else (None if params_fn is not None else ()),
        "command_from_payload": from_payload,
        "result_type": result_cls,
        "mode": mode,
        "transaction": transaction,
        "idempotency": "message" if idempotency == "message" else None,
        "params": _params,
        "command": _command,
        "result": _result,
        "__module__": getattr(use_case, "__module__", __name__),
    }
    if key_fn is not None:

        def _key(self: UseCaseStep, message: Message[Any]) -> str | None:
            return str(key_fn(message))

        attrs["idempotency_key"] = _key
    cls = type(f"Invoke{use_case.__name__}", (UseCaseStep,), attrs)
    step: UseCaseStep = cls()
    return step


def _build_result(cls: type[Any], value: Any) -> Any:
    import msgspec

    fields = getattr(cls, "__struct_fields__", None)
    if fields is None:
        return cls(value)
    data = {f: getattr(value, f) for f in fields if hasattr(value, f)}
    return msgspec.convert(data, cls, from_attributes=True)
