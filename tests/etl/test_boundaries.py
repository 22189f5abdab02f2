"""Architecture rules of the ETL door: no other door, no runtime import (runtime comes
through the provider), and no heavy package at import time."""

from __future__ import annotations

import ast
from pathlib import Path

import loom_django.etl

PACKAGE = Path(loom_django.etl.__file__).parent
FORBIDDEN = (
    "loom_django.rest",
    "loom_django.celery",
    "loom_django.streaming",
    "loom_django.runtime",
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_etl_imports_no_other_door_and_not_the_runtime():
    offenders = {
        f"{path.name}: {name}"
        for path in PACKAGE.rglob("*.py")
        for name in _imports(path)
        if name.startswith(FORBIDDEN)
    }
    assert offenders == set()
