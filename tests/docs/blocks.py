"""Extract the fenced code blocks of a Markdown page (the docs-as-tests harness)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
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


def shell_env() -> dict[str, str]:
    """The environment of a docs command: this venv first, no test-suite leftovers."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "PYTHONPATH")
        and not k.startswith(("CELERY_", "PYTEST_"))
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["CELERY_TASK_ALWAYS_EAGER"] = "1"
    env["CELERY_BROKER_URL"] = "memory://"
    return env


def run_shell(script: str, cwd: Path) -> None:
    """Run one ``bash`` block in ``cwd`` (``python`` is this interpreter); fail on error."""
    commands = script.replace("python ", f"{sys.executable} ")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", commands],
        cwd=cwd,
        env=shell_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"$ {script}\n{done.stdout}\n{done.stderr}"


def run_page(page: str, root: Path) -> None:
    """Run every block of ``docs/<page>`` in ``root``, in page order.

    A block opening with ``# <file>`` writes that file (``(append)``: appends to it); a
    ``bash`` block runs; ``bash skip`` blocks (installs, servers) and other blocks are shown
    only.
    """
    for block in blocks(page):
        if "skip" in block.flags:
            continue
        target = block.target
        if target is not None:
            name, append = target
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            body = block.text.split("\n", 1)[1]
            if append:
                with path.open("a") as handle:
                    handle.write("\n" + body)
            else:
                path.write_text(body)
        elif block.lang == "bash":
            run_shell(block.text, root)
