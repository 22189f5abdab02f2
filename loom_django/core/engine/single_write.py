"""Which custom use cases perform exactly one write, so they need no BEGIN/COMMIT.

A top-level execution is atomic. When the whole body of ``execute`` is one call to
``self.main_repo.create(...)`` or ``self.main_repo.update(...)`` and the main model uses the
built-in repository (one ``INSERT``/``UPDATE … RETURNING`` statement, atomic on its own), the
transaction adds two round trips and no guarantee: the plan runs in autocommit instead. Loads,
``Exists`` checks, computes and rules before the write only read, and a read followed by one
write in autocommit sees what the same read would see at READ COMMITTED inside a transaction.
Nested executions still get a savepoint of the caller's transaction (the executor decides
that at run time), and jobs dispatched "after commit" are sent once the statement committed.

The proof is made on the bytecode of ``execute`` with a whitelist: anything else (a second
call, a branch, a loop, a global, an attribute other than ``main_repo`` and the write method)
keeps the plan transactional.
"""

from __future__ import annotations

import dis
from collections.abc import Callable
from typing import Any

__all__ = ["SINGLE_STATEMENT_WRITES", "single_write_method"]

SINGLE_STATEMENT_WRITES = frozenset({"create", "update"})
"""Repository methods the built-in repositories run as one statement."""

_NEUTRAL = frozenset(
    {
        "CACHE",
        "COPY",
        "END_SEND",
        "EXTENDED_ARG",
        "GET_AWAITABLE",
        "KW_NAMES",
        "LOAD_CONST",
        "LOAD_FAST",
        "LOAD_FAST_CHECK",
        "LOAD_FAST_LOAD_FAST",
        "NOP",
        "POP_TOP",
        "PRECALL",
        "PUSH_NULL",
        "RERAISE",
        "RESUME",
        "RETURN_CONST",
        "RETURN_GENERATOR",
        "RETURN_VALUE",
        "SEND",
        "SWAP",
        "YIELD_VALUE",
        "JUMP_BACKWARD_NO_INTERRUPT",
    }
)
"""Opcodes that neither call, branch, loop nor touch anything but locals and constants."""

_STOP_ITERATION_INTRINSIC = 3


def single_write_method(execute: Callable[..., Any]) -> str | None:
    """``"create"``/``"update"`` when ``execute`` is provably one ``self.main_repo`` write."""
    code = getattr(execute, "__code__", None)
    if code is None or code.co_varnames[:1] != ("self",) or code.co_cellvars or code.co_freevars:
        return None
    attributes: list[str] = []
    calls = 0
    previous = ""
    for instruction in dis.get_instructions(code):
        name = instruction.opname
        if name in ("LOAD_ATTR", "LOAD_METHOD"):
            attributes.append(str(instruction.argval))
        elif name in ("CALL", "CALL_KW"):
            calls += 1
        elif name == "CALL_INTRINSIC_1":
            if instruction.arg != _STOP_ITERATION_INTRINSIC:
                return None
        elif name == "JUMP_BACKWARD":
            if previous != "CLEANUP_THROW":  # the await machinery's own jump, not a loop
                return None
        elif name != "CLEANUP_THROW" and name not in _NEUTRAL:
            return None
        previous = name
    if calls != 1 or len(attributes) != 2 or attributes[0] != "main_repo":
        return None
    method = attributes[1]
    return method if method in SINGLE_STATEMENT_WRITES else None
