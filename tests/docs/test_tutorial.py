"""docs/tutorial.md is executed: its project is built in a temp dir, checked, migrated and tested."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .blocks import ROOT, blocks

BIN = Path(sys.executable).parent


def _env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "PYTHONPATH")
        and not k.startswith(("CELERY_", "PYTEST_"))
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["CELERY_TASK_ALWAYS_EAGER"] = "1"
    env["CELERY_BROKER_URL"] = "memory://"
    return env


def _run_shell(script: str, cwd: Path) -> None:
    commands = script.replace("python ", f"{sys.executable} ")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", commands],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"$ {script}\n{done.stdout}\n{done.stderr}"


def build_tutorial_project(root: Path) -> None:
    """Run every block of docs/tutorial.md in ``root``, in page order."""
    for block in blocks("tutorial.md"):
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
            _run_shell(block.text, root)
        else:
            pytest.fail(f"tutorial block neither a file nor a command:\n{block.text}")


def test_tutorial_project_builds_checks_migrates_and_passes_its_tests(tmp_path):
    build_tutorial_project(tmp_path)
    assert (tmp_path / "library" / "migrations" / "0001_initial.py").exists()
    assert (tmp_path / "db.sqlite3").exists()


def test_tutorial_shows_install_from_a_checkout_or_git_not_pypi():
    text = (ROOT / "docs" / "tutorial.md").read_text()
    assert "not published on PyPI" in text
    assert "git+" in text
    assert "django_celery_results" in text
