"""Pipeline params from the command line: ``KEY=VALUE``, ``KEY:=JSON`` and ``--params-json``."""

from __future__ import annotations

import json
from typing import Any

import msgspec

__all__ = ["parse_params"]


def parse_params(params_type: type[Any], pairs: list[str], params_json: str | None) -> Any:
    """Params from ``KEY=VALUE`` / ``KEY:=JSON`` pairs and ``--params-json``.

    Raises:
        ValueError: unknown name, missing required field or unparsable value (message lists
            the valid fields).
    """
    fields = {f.name: f for f in msgspec.structs.fields(params_type)}
    valid = ", ".join(f"{n}: {getattr(f.type, '__name__', f.type)}" for n, f in fields.items())
    data: dict[str, Any] = json.loads(params_json) if params_json else {}
    for pair in pairs:
        if ":=" in pair:
            key, raw = pair.split(":=", 1)
            value: Any = json.loads(raw)
        elif "=" in pair:
            key, value = pair.split("=", 1)
        else:
            raise ValueError(f"--param {pair!r} is not KEY=VALUE (valid fields: {valid})")
        data[key.strip()] = value
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"unknown param(s) {unknown} (valid fields: {valid})")
    try:
        return msgspec.convert(data, params_type, strict=False)
    except msgspec.ValidationError as exc:
        raise ValueError(f"invalid params: {exc} (valid fields: {valid})") from None
