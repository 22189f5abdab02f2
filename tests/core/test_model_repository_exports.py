"""Acceptance criterion 1 for the model and repository modules: every kernel name imports."""

from __future__ import annotations

import importlib

import pytest

KERNEL_NAMES = {
    "loom_django.core.model": [
        "BaseModel",
        "TimestampedModel",
        "LoomStruct",
        "LoomFrozenStruct",
        "LoomStructMeta",
        "ColumnField",
        "column_field",
        "Field",
        "ColumnType",
        "ColumnFieldInfo",
        "String",
        "Integer",
        "BigInteger",
        "Float",
        "Boolean",
        "Text",
        "JSON",
        "DateTime",
        "Numeric",
        "JsonStr",
        "Postgres",
        "OnDelete",
        "ServerDefault",
        "ServerOnUpdate",
        "RelationField",
        "relation_field",
        "Relation",
        "Cardinality",
        "ProjectionField",
        "projection_field",
        "Projection",
        "get_column_fields",
        "get_id_attribute",
        "get_relations",
        "get_projections",
        "get_table_name",
    ],
    "loom_django.core.repository.abc.query": [
        "PaginationMode",
        "FilterOp",
        "FilterSpec",
        "FilterGroup",
        "SortSpec",
        "QuerySpec",
        "PageResult",
        "CursorResult",
        "PageParams",
        "FilterParams",
        "build_page_result",
    ],
    "loom_django.core.repository.abc": [
        "Readable",
        "Creatable",
        "Updatable",
        "Deletable",
        "Listable",
        "Countable",
        "RepoFor",
        "RepositoryRead",
        "RepositoryWrite",
        "Repository",
    ],
    "loom_django.core.repository": ["repository_for", "RepoFor", "PageResult", "QuerySpec"],
    "loom_django.core.response": ["Response"],
    "loom_django.core.projection": ["CountLoader", "ExistsLoader", "JoinFieldsLoader"],
    "loom_django.testing": ["InMemoryRepository"],
}


@pytest.mark.parametrize(
    ("module", "name"),
    [(module, name) for module, names in KERNEL_NAMES.items() for name in names],
)
def test_kernel_name_is_importable(module: str, name: str) -> None:
    assert getattr(importlib.import_module(module), name) is not None


@pytest.mark.parametrize("module", sorted(KERNEL_NAMES))
def test_every_listed_export_exists(module: str) -> None:
    imported = importlib.import_module(module)
    missing = [name for name in getattr(imported, "__all__", ()) if not hasattr(imported, name)]
    assert missing == []
