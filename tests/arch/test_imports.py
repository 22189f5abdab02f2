"""ARCHITECTURE: no import cycle in the package; no door imports another door."""

from __future__ import annotations

from tests.arch.imports import PACKAGE, cycles, import_graph

DOORS = ("orm", "celery", "rest", "etl", "streaming")
"""The door packages (``loom_django/<door>/``)."""

MAY_USE = {"rest": {"orm"}, "celery": {"orm"}}
"""Doors another door may import (ARCHITECTURE.md: rest and celery may use orm)."""

PUBLIC_FACADES = (PACKAGE, f"{PACKAGE}.admin", f"{PACKAGE}.models")
"""Public import paths that re-export door helpers: ``loom_django/__init__.py`` (lazily)
``loom_django/admin.py`` (Django's admin autodiscovery imports ``<app>.admin``) and
``loom_django/models.py`` (Django imports ``<app>.models`` while it loads models)."""


def _door(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in DOORS:
        return parts[1]
    if parts[1:3] == ["management", "commands"] and len(parts) > 3:
        # ``manage.py loom_<door>`` shims (``loom_etl``, ``loom_stream``) belong to their door.
        command = parts[3].removeprefix("loom_")
        owners = [door for door in DOORS if door.startswith(command) or command.startswith(door)]
        return owners[0] if owners else "management"
    return None


def test_the_package_has_no_import_cycle():
    found = cycles(import_graph())
    assert not found, "import cycles (every import counts, function-level too):\n" + "\n".join(
        " <-> ".join(cycle) for cycle in found
    )


def test_no_door_imports_another_door_and_no_other_module_names_a_door():
    graph = import_graph()
    bad = []
    for module, edges in sorted(graph.items()):
        if module in PUBLIC_FACADES:
            continue
        own = _door(module)
        for target, line in edges.items():
            door = _door(target)
            if door is None or door == own or door in MAY_USE.get(own or "", set()):
                continue
            if module == f"{PACKAGE}.doors" and target == f"{PACKAGE}.{door}.door":
                continue  # the hub lists every door's contract module, and only that
            bad.append(f"{module}:{line} imports {target}")
    assert not bad, "\n".join(bad)


def test_the_graph_sees_function_level_and_dynamic_imports():
    graph = import_graph()
    assert f"{PACKAGE}.orm.door" in graph[f"{PACKAGE}.doors"]
    assert f"{PACKAGE}.orm.integration" in graph[f"{PACKAGE}.orm.door"]


def test_the_cycle_finder_sees_a_cycle_through_three_modules():
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_management_command_shims_belong_to_their_door():
    assert _door(f"{PACKAGE}.management.commands.loom_etl") == "etl"
    assert _door(f"{PACKAGE}.management.commands.loom_stream") == "streaming"
    assert _door(f"{PACKAGE}.management.commands.other") == "management"
