"""Every ``python`` block of docs/etl.md runs, in order, in one namespace."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "etl.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_docs_have_python_blocks():
    assert len(_blocks()) >= 3


@pytest.mark.django_db
def test_docs_python_blocks_run(tmp_path):
    module = types.ModuleType("docs_etl")
    module.files_root = str(tmp_path)  # type: ignore[attr-defined]
    sys.modules["docs_etl"] = module
    try:
        for block in _blocks():
            exec(compile(block, str(DOC), "exec"), module.__dict__)
    finally:
        del sys.modules["docs_etl"]
