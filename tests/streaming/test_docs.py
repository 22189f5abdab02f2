"""The python blocks of docs/streaming.md run, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "streaming.md"


def test_streaming_doc_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 3
    namespace: dict[str, object] = {"__name__": "docs_streaming"}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102
