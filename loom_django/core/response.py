"""Response: the base of output DTOs (frozen, keyword-only, camelCase JSON)."""

from __future__ import annotations

from typing import Any, ClassVar, dataclass_transform

import msgspec

from loom_django.core.model.base import LoomFrozenStruct

__all__ = ["Response"]


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(msgspec.field,))
class Response(LoomFrozenStruct, frozen=True, rename="camel"):
    """Base for use-case results that are not models; every field is always encoded."""

    __loom_struct_defaults__: ClassVar[dict[str, Any]] = {
        "frozen": True,
        "kw_only": True,
        "rename": "camel",
        "omit_defaults": False,
    }
