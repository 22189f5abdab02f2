"""Engine overhead: a reference use case through the executor vs the same logic by hand.

The reference use case has an Input command of 3 fields, one LoadById, one Exists, two
chained Computes and two Rules over in-memory repositories. The hand-written baseline does
the same work as a plain function over the same repositories, measured in the same run:
it decodes the payload as strictly as the engine does (``"12"`` for an ``int`` is refused),
loads, checks existence, computes, checks both rules and returns. Its synchronous form
drives one coroutine per call, exactly as the engine does.

Method: every target runs in short chunks, the targets alternate within each round, and
each chunk is timed on the process CPU clock, so time the shared machine spends on other
work is not counted. A ratio is taken per round (target / its baseline in that same round)
and the median over the rounds is printed, with the median µs per call of every target.

    python bench/engine.py [--calls 2000] [--rounds 41]
    python bench/engine.py --instructions [--calls 2000]

``--instructions`` counts machine instructions per call under callgrind instead (valgrind
must be installed): each target runs in its own process for ``calls`` and ``2 * calls``
calls and the difference is divided by ``calls``, so start-up cost cancels out. The counts
do not move with the machine's load, which makes them the figure to compare on a busy box.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec

from loom_django.core.command import Command, Computed
from loom_django.core.engine import RuntimeExecutor, UseCaseCompiler
from loom_django.core.errors import NotFound, RuleViolation, RuleViolations
from loom_django.core.model import BaseModel, ColumnField
from loom_django.core.use_case import Compute, Exists, F, Input, LoadById, Rule, UseCase
from loom_django.testing import InMemoryRepository, build_test_runtime


class Customer(BaseModel):
    __tablename__ = "bench_customers"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    email: str = ColumnField(length=120)


class Quote(Command, frozen=True):
    unit_price: float
    quantity: int
    coupon: str
    subtotal: Computed[float] = None
    total: Computed[float] = None


def _subtotal(unit_price: float, quantity: int) -> float:
    return unit_price * quantity


def _total(subtotal: float, quantity: int) -> float:
    return subtotal * 0.9 if quantity > 10 else subtotal


def _positive_price(unit_price: float) -> str | None:
    return None if unit_price > 0 else "unit_price must be > 0"


def _known_coupon(coupon: str) -> bool:
    return coupon not in ("", "WELCOME", "SPRING")


class QuoteUseCase(UseCase[Customer, float]):
    computes = (
        Compute.set(F(Quote).subtotal).from_command(
            F(Quote).unit_price, F(Quote).quantity, via=_subtotal
        ),
        Compute.set(F(Quote).total).from_command(F(Quote).subtotal, F(Quote).quantity, via=_total),
    )
    rules = (
        Rule.check(F(Quote).unit_price, via=_positive_price),
        Rule.check(F(Quote).coupon, via=_known_coupon, message="unknown coupon"),
    )

    async def execute(
        self,
        customer_id: int,
        cmd: Quote = Input(),
        customer: Customer = LoadById(Customer, by="customer_id"),
        has_email: bool = Exists(Customer, from_param="customer_id", against="id"),
    ) -> float:
        assert cmd.total is not None
        return cmd.total


def _now(coro: Coroutine[Any, Any, Any]) -> Any:
    """Finish a coroutine that never suspends (the cheapest possible way to await it)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise RuntimeError("unexpected suspension")


class _Decoded(msgspec.Struct, frozen=True, rename="camel"):
    unit_price: float
    quantity: int
    coupon: str


def _check(cmd: _Decoded) -> None:
    violations = []
    problem = _positive_price(cmd.unit_price)
    if problem:
        violations.append(RuleViolation("unit_price", problem))
    if _known_coupon(cmd.coupon):
        violations.append(RuleViolation("coupon", "unknown coupon"))
    if violations:
        raise RuleViolations(violations)


async def handwritten_async(
    repo: InMemoryRepository, customer_id: Any, payload: dict[str, Any]
) -> float:
    """The reference logic by hand, for async callers."""
    # A path parameter: canonical ASCII digits only, like the engine ("1_0", " 1" refused).
    if type(customer_id) is not int:
        if not (type(customer_id) is str and customer_id.isascii() and customer_id.isdigit()):
            raise ValueError(f"invalid customer_id: {customer_id!r}")
        customer_id = int(customer_id)
    cmd = msgspec.convert(payload, _Decoded)  # strict by default, like the engine
    customer = await repo.get_by_id(customer_id)
    if customer is None:
        raise NotFound("Customer", id=customer_id)
    await repo.exists_by("id", customer_id)
    subtotal = _subtotal(cmd.unit_price, cmd.quantity)
    total = _total(subtotal, cmd.quantity)
    _check(cmd)
    return total


def handwritten_sync(repo: InMemoryRepository, customer_id: Any, payload: dict[str, Any]) -> float:
    """The reference logic by hand, for synchronous callers: one coroutine driven once."""
    return _now(handwritten_async(repo, customer_id, payload))  # type: ignore[no-any-return]


def _time_sync(fn: Callable[[], Any], calls: int) -> float:
    started = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - started) / calls * 1e6


async def _time_async(fn: Callable[[], Coroutine[Any, Any, Any]], calls: int) -> float:
    started = time.process_time()
    for _ in range(calls):
        await fn()
    return (time.process_time() - started) / calls * 1e6


class _Targets:
    """The runtime, the repositories and every timed target, built once per process."""

    def __init__(self) -> None:
        runtime = build_test_runtime(
            models=[Customer], use_cases=[QuoteUseCase], transactional=False
        )
        repo: InMemoryRepository = runtime.container.resolve_repo(Customer)
        _now(repo.create({"email": "ada@example.com"}))
        executor = RuntimeExecutor(UseCaseCompiler())
        instance = QuoteUseCase(repo)
        deps = {Customer: repo}
        params = {"customer_id": "1"}
        payload = {"unitPrice": 12.5, "quantity": 12, "coupon": "WELCOME"}
        expected = handwritten_sync(repo, "1", payload)
        assert (
            executor.execute_sync(instance, params=params, payload=payload, dependencies=deps)
            == runtime.invoke_sync(QuoteUseCase, params=params, payload=payload)
            == expected
        )
        app = runtime.app
        self.sync: dict[str, Callable[[], Any]] = {
            "hand-written (sync)": lambda: handwritten_sync(repo, "1", payload),
            "executor.execute_sync": lambda: executor.execute_sync(
                instance, params=params, payload=payload, dependencies=deps
            ),
            "runtime.invoke_sync (factory + executor)": lambda: runtime.invoke_sync(
                QuoteUseCase, params=params, payload=payload
            ),
        }
        self.async_: dict[str, Callable[[], Coroutine[Any, Any, Any]]] = {
            "hand-written (async)": lambda: handwritten_async(repo, "1", payload),
            "await executor.execute": lambda: executor.execute(
                instance, params=params, payload=payload, dependencies=deps
            ),
            "await app.invoke (factory + executor)": lambda: app.invoke(
                QuoteUseCase, params=params, payload=payload
            ),
        }

    def names(self) -> list[str]:
        """Every target, sync ones first."""
        return [*self.sync, *self.async_]


_ROWS = (
    ("sync  executor / hand-written", "executor.execute_sync", "hand-written (sync)"),
    ("async executor / hand-written", "await executor.execute", "hand-written (async)"),
    (
        "sync  incl. factory build",
        "runtime.invoke_sync (factory + executor)",
        "hand-written (sync)",
    ),
    ("async incl. factory build", "await app.invoke (factory + executor)", "hand-written (async)"),
)


def _run_only(targets: _Targets, name: str, calls: int) -> None:
    """Call one target ``calls`` times (the body of an ``--instructions`` measurement)."""
    if name in targets.sync:
        fn = targets.sync[name]
        for _ in range(calls):
            fn()
        return
    afn = targets.async_[name]

    async def loop() -> None:
        for _ in range(calls):
            await afn()

    runner = asyncio.new_event_loop()
    try:
        runner.run_until_complete(loop())
    finally:
        runner.close()


def _instructions(name: str, calls: int) -> int:
    """Instructions callgrind counts for this script calling ``name`` ``calls`` times."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--only",
        name,
        "--calls",
        str(calls),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    match = re.search(r"Collected : (\d+)", done.stderr)
    if match is None:
        raise RuntimeError(f"no callgrind total in: {done.stderr[-500:]}")
    return int(match.group(1))


def _main_instructions(names: list[str], calls: int) -> None:
    """Instructions per call of every target (callgrind, two call counts differenced)."""
    per_call: dict[str, float] = {}
    for name in names:
        low = _instructions(name, calls)
        high = _instructions(name, 2 * calls)
        per_call[name] = (high - low) / calls
    print(f"engine overhead, instructions per call (callgrind, {calls} vs {2 * calls} calls)")
    for name, value in per_call.items():
        print(f"  {name:<44} {value:10.0f}")
    print("ratios (target <= 1.2x):")
    for label, target, baseline in _ROWS:
        print(f"  {label + ':':<38} {per_call[target] / per_call[baseline]:.2f}x")


def main() -> None:
    """Run every target for several alternating rounds and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per call under callgrind (valgrind) instead of timing",
    )
    parser.add_argument("--only", help=argparse.SUPPRESS)
    args = parser.parse_args()

    targets = _Targets()
    if args.only is not None:
        _run_only(targets, args.only, args.calls)
        return
    if args.instructions:
        _main_instructions(targets.names(), args.calls)
        return
    results: dict[str, list[float]] = {name: [] for name in targets.names()}

    async def async_round() -> None:
        for name, afn in targets.async_.items():
            results[name].append(await _time_async(afn, args.calls))

    loop = asyncio.new_event_loop()
    try:
        for _ in range(args.rounds):
            for name, fn in targets.sync.items():
                results[name].append(_time_sync(fn, args.calls))
            loop.run_until_complete(async_round())
    finally:
        loop.close()

    def ratio(target: str, baseline: str) -> float:
        pairs = zip(results[target], results[baseline], strict=True)
        return statistics.median(t / b for t, b in pairs)

    print(
        f"engine overhead, {args.calls} calls x {args.rounds} alternating rounds "
        "(median CPU µs per call)"
    )
    for name, values in results.items():
        print(f"  {name:<44} {statistics.median(values):8.2f} µs")
    print("median of per-round ratios (target <= 1.2x):")
    for label, target, baseline in _ROWS:
        print(f"  {label + ':':<38} {ratio(target, baseline):.2f}x")


if __name__ == "__main__":
    main()
