"""Architecture rules of the streaming package: exports, no other door, no Bytewax needed to
author, compile, list, check or describe."""

from __future__ import annotations

import ast
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

import loom_django.streaming as streaming
from loom_django.streaming.registry import registry

PACKAGE = Path(streaming.__file__).parent
ROOT = PACKAGE.parents[1]


def test_public_names_are_exported_and_resolve():
    assert sorted(streaming.__all__) == sorted(set(streaming.__all__))
    for name in streaming.__all__:
        assert getattr(streaming, name) is not None
    for module in PACKAGE.glob("*.py"):
        tree = ast.parse(module.read_text())
        names = [
            n
            for n in tree.body
            if isinstance(n, ast.Assign)
            and any(getattr(t, "id", "") == "__all__" for t in n.targets)
        ]
        assert names, f"{module.name} has no __all__"


def test_streaming_imports_no_other_door_and_not_the_runtime_module():
    forbidden = ("loom_django.rest", "loom_django.celery", "loom_django.etl", "loom_django.runtime")
    for module in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(forbidden), f"{module.name}: {node.module}"


def test_authoring_and_compiling_do_not_import_bytewax():
    code = (
        "import sys; sys.modules['bytewax'] = None\n"
        "from loom_django.streaming import *\n"
        "import loom_django.streaming.door, loom_django.streaming.command\n"
        "from tests.streaming.flows import Order, Validate, kafka_config\n"
        "flow = StreamFlow('f', FromTopic('in', payload=Order), Process(Validate, Drain()))\n"
        "compile_flow(flow, config=kafka_config())\n"
        "assert 'bytewax.dataflow' not in sys.modules\n"
    )
    env_code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='tests.settings'; django.setup()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", env_code + code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_run_without_bytewax_exits_3_naming_the_python_constraint(monkeypatch, settings):
    from loom_django.runtime import get_runtime
    from loom_django.streaming import Drain, FromTopic, Process, StreamFlow
    from tests.streaming.flows import Order, kafka_config

    saved = (registry._entries, registry.duplicates, registry.provider, registry.config)
    registry.load(
        [StreamFlow("nb", FromTopic("in", payload=Order), Process(Drain()))],
        config=kafka_config(),
        provider=get_runtime,
    )
    settings.LOOM = {"CONFIG": kafka_config()}
    monkeypatch.setitem(sys.modules, "bytewax", None)
    try:
        with pytest.raises(CommandError) as info:
            call_command("loom_stream", "run", "nb", stdout=StringIO())
        assert info.value.returncode == 3
        assert "3.12" in str(info.value)
        call_command("loom_stream", "describe", "nb", stdout=StringIO())
    finally:
        registry._entries, registry.duplicates, registry.provider, registry.config = saved
