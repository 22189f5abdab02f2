"""Extract the fenced code blocks of a Markdown page (the docs-as-tests harness)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
_FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```\s*$", re.M | re.S)
_TARGET = re.compile(r"^# ([\w./-]+)( \(append\))?\n")


@dataclass(frozen=True)
class Block:
    """One fenced block: its language, the words after it, and its text."""

    lang: str
    flags: tuple[str, ...]
    text: str

    @property
    def target(self) -> tuple[str, bool] | None:
        """``(file, append)`` when the block opens with ``# <file>`` (a file's content)."""
        match = _TARGET.match(self.text)
        return (match.group(1), bool(match.group(2))) if match else None


def blocks(page: str) -> list[Block]:
    """Every fenced block of ``docs/<page>``, in order."""
    text = (DOCS / page).read_text()
    found = []
    for match in _FENCE.finditer(text):
        lang, *flags = match.group(1).split() or [""]
        found.append(Block(lang, tuple(flags), match.group(2)))
    return found
