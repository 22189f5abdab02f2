"""Optional extras stay optional: Delta without deltalake is a compile error naming the extra,
and the door imports without deltalake, pyspark or psycopg (spec §7.6, §12 item 29)."""

from __future__ import annotations

import subprocess
import sys
import types
from typing import Any

import polars as pl
import pytest

from loom_django.etl import (
    ETLCompilationError,
    ETLCompiler,
    ETLParams,
    ETLStep,
    Format,
    FromFile,
    IntoFile,
)
from loom_django.etl import _bindings as binding_module

BLOCKER = """
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"deltalake", "pyspark", "psycopg", "psycopg2"}:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None

sys.meta_path.insert(0, Block())
"""


class P(ETLParams):
    pass


def _write(self: Any, params: P) -> pl.LazyFrame:
    return pl.LazyFrame({"a": [1]})


def _read(self: Any, params: P, *, orders: pl.LazyFrame) -> pl.LazyFrame:
    return orders


@pytest.mark.parametrize(
    "attrs",
    [
        {"target": IntoFile("lake/orders", format=Format.DELTA), "execute": _write},
        {
            "orders": FromFile("lake/orders", format=Format.DELTA),
            "target": IntoFile("o.csv", format=Format.CSV),
            "execute": _read,
        },
    ],
    ids=["target", "source"],
)
def test_delta_without_deltalake_is_feature_unavailable_naming_the_extra(monkeypatch, attrs):
    """etl §12.29"""
    real = binding_module.find_spec
    monkeypatch.setattr(
        binding_module, "find_spec", lambda name: None if name == "deltalake" else real(name)
    )
    step = types.new_class("DeltaStep", (ETLStep[P],), exec_body=lambda d: d.update(attrs))
    with pytest.raises(ETLCompilationError) as info:
        ETLCompiler().compile_step(step)
    assert info.value.code == "FEATURE_UNAVAILABLE"
    assert "loom-django[delta]" in info.value.message


def test_the_door_imports_without_deltalake_pyspark_or_psycopg():
    """etl §12.29"""
    code = BLOCKER + (
        "import loom_django.etl, loom_django.etl.door\n"
        "print(sorted(m for m in ('deltalake', 'pyspark', 'psycopg') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_delta_route_without_deltalake_is_feature_unavailable(monkeypatch, tmp_path):
    """etl §12.29"""
    from loom_django.etl import IntoTable
    from loom_django.etl.config import EtlConfig, FilePath, StorageConfig, StorageDefaults

    real = binding_module.find_spec
    monkeypatch.setattr(
        binding_module, "find_spec", lambda name: None if name == "deltalake" else real(name)
    )
    storage = StorageConfig(defaults=StorageDefaults(table_path=FilePath(uri=str(tmp_path))))
    step = types.new_class(
        "DeltaStep",
        (ETLStep[P],),
        exec_body=lambda d: d.update(target=IntoTable("raw.orders").append(), execute=_write),
    )
    with pytest.raises(ETLCompilationError) as info:
        ETLCompiler(EtlConfig(storage=storage)).compile_step(step)
    assert info.value.code == "FEATURE_UNAVAILABLE"
    assert "loom-django[delta]" in info.value.message
