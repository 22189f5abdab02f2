"""Plain-data views of registered flows and compiled plans (``list`` and ``describe``).

Secrets are redacted: nothing here prints a password, a secret or a token.
"""

from __future__ import annotations

from typing import Any, Union, get_args, get_origin

from loom_django.streaming.lanes import database_summary
from loom_django.streaming.plan import CompiledPlan, CompiledSink
from loom_django.streaming.registry import FlowEntry
from loom_django.streaming.settings import redact

__all__ = ["as_text", "describe", "summary", "type_name"]


def summary(entry: FlowEntry) -> dict[str, Any]:
    """One ``list`` row: name, description, source topics, group, outputs, status."""
    plan = entry.plan
    return {
        "name": entry.flow.name,
        "description": entry.flow.description,
        "source_topics": list(plan.source.topics) if plan else [entry.flow.source.name],
        "group": plan.source.group_id if plan else None,
        "outputs": sorted({s.topic for s in plan.producer_sinks}) if plan else [],
        "status": "ok" if plan else "error",
        "errors": list(entry.errors),
    }


def _sink(sink: CompiledSink) -> dict[str, Any]:
    return {
        "topic": sink.topic,
        "codec": sink.codec,
        "payload": sink.payload_type.__qualname__ if sink.payload_type else None,
        "dlq": sink.dlq_topic,
        "partitioning": repr(sink.partitioning) if sink.partitioning else None,
        "producer": redact(sink.settings.to_confluent_config()),
    }


def type_name(tp: Any) -> str:
    """``Order``, ``Order | Refund``, ``ErrorEnvelope[Order]``: a payload type for people."""
    if tp is Any or tp is None:
        return "Any"
    origin = get_origin(tp)
    if origin is Union:
        return " | ".join(type_name(arg) for arg in get_args(tp))
    if origin is not None:
        return f"{type_name(origin)}[{', '.join(type_name(a) for a in get_args(tp))}]"
    return str(getattr(tp, "__qualname__", tp))


def describe(plan: CompiledPlan) -> dict[str, Any]:
    """The plan as plain data: nodes with shapes and types, topics, codecs, settings."""
    src = plan.source
    return {
        "name": plan.name,
        "description": plan.description,
        "source": {
            "topics": list(src.topics),
            "group": src.group_id,
            "codec": src.codec,
            "payload": type_name(src.payload_type),
            "consumer": redact(
                src.settings.to_confluent_config(
                    group_id=src.group_id, auto_commit=plan.runtime.commit_mode == "auto"
                )
            ),
        },
        "nodes": [
            {
                "path": path,
                "node": node,
                "in": shape_in,
                "out": shape_out,
                "payload": type_name(plan.payload_types.get(path)),
            }
            for path, node, shape_in, shape_out in plan.shapes
        ],
        "output": _sink(plan.output) if plan.output else None,
        "sinks": {path: _sink(s) for path, s in plan.sinks.items()},
        "errors": {kind.value: _sink(s) for kind, s in plan.error_routes.items()},
        "unrouted_errors": plan.unrouted_errors,
        "use_cases": {
            path: {
                "use_case": uc.use_case_type.__qualname__,
                "params": [b.name for b in uc.param_bindings],
            }
            for path, uc in plan.use_cases.items()
        },
        "database": database_summary(plan),  # lanes.py
        "runtime": redact(_runtime(plan)),
        "warnings": list(plan.warnings),
    }


def _runtime(plan: CompiledPlan) -> dict[str, Any]:
    import msgspec

    data: dict[str, Any] = msgspec.structs.asdict(plan.runtime)
    return data


def as_text(data: dict[str, Any], indent: int = 0) -> str:
    """``data`` as an indented ``key: value`` tree."""
    pad = "  " * indent
    lines: list[str] = []
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"{pad}{key}:")
            lines.append(as_text(value, indent + 1))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            lines.append(f"{pad}{key}:")
            lines.extend(
                f"{pad}  - " + ", ".join(f"{k}={v}" for k, v in v2.items()) for v2 in value
            )
        else:
            lines.append(f"{pad}{key}: {value}")
    return "\n".join(line for line in lines if line)
