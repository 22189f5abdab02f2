"""Which execute bodies are provably one write (core/engine/single_write.py)."""

from __future__ import annotations

from typing import Any

import pytest

from loom_django.core.engine.single_write import single_write_method


class Bodies:
    async def create(self, cmd: Any = None) -> Any:
        return await self.main_repo.create(cmd)  # type: ignore[attr-defined]

    async def update(self, user_id: int, cmd: Any = None) -> Any:
        return await self.main_repo.update(user_id, cmd, profile="x")  # type: ignore[attr-defined]

    def sync_create(self, cmd: Any = None) -> Any:
        return self.main_repo.create(cmd)  # type: ignore[attr-defined]

    async def two_writes(self, cmd: Any = None) -> Any:
        await self.main_repo.create(cmd)  # type: ignore[attr-defined]
        return await self.main_repo.create(cmd)  # type: ignore[attr-defined]

    async def loop(self, cmd: Any = None) -> Any:
        while True:
            await self.main_repo.create(cmd)  # type: ignore[attr-defined]

    async def branch(self, cmd: Any = None, flag: bool = False) -> Any:
        if flag:
            return await self.main_repo.create(cmd)  # type: ignore[attr-defined]
        return None

    async def other_repo(self, cmd: Any = None) -> Any:
        return await self.orders.create(cmd)  # type: ignore[attr-defined]

    async def global_call(self, cmd: Any = None) -> Any:
        return await self.main_repo.create(dict(cmd))  # type: ignore[attr-defined]

    async def delete(self, item_id: int) -> Any:
        return await self.main_repo.delete(item_id)  # type: ignore[attr-defined]

    async def dict_literal(self, cmd: Any = None) -> Any:
        return await self.main_repo.create({"name": cmd.name})  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "expected"),
    [("create", "create"), ("update", "update"), ("sync_create", "create")],
)
def test_one_main_repo_write_is_recognised(body, expected):
    assert single_write_method(getattr(Bodies, body)) == expected


@pytest.mark.parametrize(
    "body",
    ["two_writes", "loop", "branch", "other_repo", "global_call", "delete", "dict_literal"],
)
def test_anything_else_is_not_a_single_write(body):
    assert single_write_method(getattr(Bodies, body)) is None
