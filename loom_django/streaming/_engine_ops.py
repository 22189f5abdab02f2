"""The engine's third layer: the plan's ops over in-flight records (sinks, batches, drains),
``With`` scopes and the routing nodes (``Router``, ``Fork``, ``Broadcast``, expansions)."""

from __future__ import annotations

import threading
from contextlib import ExitStack
from typing import Any

from loom_django.streaming._encode import Emit
from loom_django.streaming._engine_steps import StepRunner
from loom_django.streaming._failures import StepFailure
from loom_django.streaming._records import Rec, complete_recs, flatten, wrap
from loom_django.streaming.errors import ErrorKind
from loom_django.streaming.messages import Message, message_type_of, message_version_of
from loom_django.streaming.model_sink import ModelSinkOp, write_rows
from loom_django.streaming.plan import (
    BroadcastOp,
    CollectOp,
    CompiledSink,
    DrainOp,
    ExpandRoutesOp,
    ExplodeOp,
    ForEachOp,
    Op,
    RouterOp,
    SinkOp,
    StepOp,
    WithOp,
)
from loom_django.streaming.sinks import CustomSinkOp, SinkPartitions
from loom_django.streaming.tracker import complete_all

__all__ = ["OpRunner"]


class OpRunner(StepRunner):
    """Runs a tuple of ops; each op kind dispatches to its method."""

    _contracts: dict[tuple[int, type[Any]], tuple[str, int] | None]
    sink_partitions: SinkPartitions
    _bridge: Any
    _stacks: list[ExitStack]
    _stacks_lock: threading.Lock
    _async_deps: dict[Any, dict[str, Any]]
    _lanes: dict[Any, Any]

    def _run(self, ops: tuple[Op, ...], items: list[Any], out: list[Emit]) -> list[Any]:
        """Run ``ops`` over ``items`` (records or batches); returns what reaches the end."""
        for op in ops:
            if not items:
                return items
            items = self._op(op, items, out)
        return items

    def _op(self, op: Op, items: list[Any], out: list[Emit]) -> list[Any]:
        if isinstance(op, StepOp):
            if op.kind == "batch":
                return self._batch_step(op, items, out, {})
            if op.kind == "singleton_batch":  # a BatchStep in a Router branch
                batches = self._batch_step(op, [[rec] for rec in items], out, {})
                return [rec for batch in batches for rec in batch]
            if op.kind == "batch_expand":
                return self._batch_expand(op, items, out)
            return self._record_step(op, items, out, {})
        if isinstance(op, SinkOp):
            self._emit_all(op.sink, items, out)
            return []
        if isinstance(op, CollectOp):
            return _collect(items, op.max_records)
        if isinstance(op, ForEachOp):
            return [rec for batch in items for rec in batch]
        if isinstance(op, DrainOp):
            for item in items:
                for rec in item if isinstance(item, list) else (item,):
                    rec.token.done()
            return []
        if isinstance(op, WithOp):
            return self._with(op, items, out)
        if isinstance(op, RouterOp):
            return self._router(op, items, out)
        if isinstance(op, BroadcastOp):
            return self._broadcast(op, items, out)
        if isinstance(op, ModelSinkOp):
            self._write_model(op, items, out)
            return []
        if isinstance(op, CustomSinkOp):
            self._write_sink(op, items, out)
            return []
        return self._expand_rows(op, items, out)

    def _write_model(self, op: ModelSinkOp, items: list[Rec], out: list[Emit]) -> None:
        """``IntoModel``: completes each written row after the commit (model_sink.py)."""
        try:
            rejected = dict(write_rows(op, [rec.message.payload for rec in items]))
        except Exception as exc:  # the database failed: nothing of the batch was written
            for rec in items:
                self._fail_exc(exc, rec, out, op.name)
            return
        for index, rec in enumerate(items):
            error = rejected.get(index)
            if error is None:
                rec.token.done()
            else:
                self._fail_exc(error, rec, out, op.name)

    def _write_sink(self, op: CustomSinkOp, items: list[Rec], out: list[Emit]) -> None:
        """An ``IntoSink``: completes the batch once ``write_batch`` returned (sinks.py)."""
        try:
            self.sink_partitions.get(op, self._bridge).write_batch([r.message for r in items])
        except Exception as exc:  # nothing of the batch counts as written
            for rec in items:
                self._fail_exc(exc, rec, out, op.name)
            return
        complete_all([rec.token for rec in items])

    def _emit(self, sink: CompiledSink, rec: Rec, out: list[Emit]) -> None:
        cls = type(rec.message.payload)
        contract = self._contract(sink, cls)
        if contract is None:
            self._wrong_payload(sink, cls, rec, out)
            return
        out.append(Emit(sink, rec.message, rec.token, contract[0], contract[1]))

    def _contract(self, sink: CompiledSink, cls: type[Any]) -> tuple[str, int] | None:
        """``(message_type, version)`` of ``cls`` written to ``sink``; ``None`` when the sink
        declares another payload class. Cached per sink and class."""
        key = (id(sink), cls)
        try:
            return self._contracts[key]
        except KeyError:
            pass
        want = sink.payload_type
        contract = (
            None
            if want is not None and not issubclass(cls, want)
            else (message_type_of(cls), message_version_of(cls))
        )
        self._contracts[key] = contract
        return contract

    def _wrong_payload(self, sink: CompiledSink, cls: type[Any], rec: Rec, out: list[Emit]) -> None:
        want = sink.payload_type
        exc = TypeError(
            f"IntoTopic({sink.ref}) expects {getattr(want, '__qualname__', want)}, "
            f"got {cls.__qualname__}"
        )
        self._fail(StepFailure(ErrorKind.TASK, exc, 1, f"IntoTopic({sink.ref})"), rec, out)

    def _to_output(self, items: list[Any], out: list[Emit]) -> None:
        sink = self.plan.output
        if sink is None:
            complete_all([rec.token for rec in flatten(items)])
            return
        self._emit_all(sink, items, out)

    def _emit_all(self, sink: CompiledSink, items: list[Any], out: list[Emit]) -> None:
        """:meth:`_emit` for every record of ``items`` (records, or batches of records)."""
        append = out.append
        contracts = self._contracts
        sink_id = id(sink)
        for item in items:
            for rec in item if type(item) is list else (item,):
                message = rec.message
                cls = type(message.payload)
                contract = contracts.get((sink_id, cls)) or self._contract(sink, cls)
                if contract is None:
                    self._wrong_payload(sink, cls, rec, out)
                else:
                    append(Emit(sink, message, rec.token, contract[0], contract[1]))

    def _with(self, op: WithOp, items: list[Any], out: list[Emit]) -> list[Any]:
        # Record input runs per micro-batch (one batch scope, one WithAsync window).
        batches = items if items and isinstance(items[0], list) else [items]
        if op.async_opts is not None:
            from loom_django.streaming._async import run_with_async  # anyio: the stream extra

            survivors = [rec for batch in batches for rec in run_with_async(self, op, batch, out)]
            return survivors if op.to_output else complete_recs(survivors)
        survivors = []
        for batch in batches:
            with ExitStack() as batch_stack:
                deps = dict(self._worker_deps(op))
                if op.scope == "batch":
                    for name, factory in op.factories.items():
                        deps[name] = batch_stack.enter_context(factory.create())
                survivors.extend(self._with_batch(op, batch, deps, out))
        return survivors if op.to_output else complete_recs(survivors)

    def _with_batch(
        self, op: WithOp, batch: list[Rec], deps: dict[str, Any], out: list[Emit]
    ) -> list[Rec]:
        """The inner process over the whole batch, step by step (a failure drops only its
        message), so a use-case step sees the batch at once (batch transaction, W4)."""
        current = batch
        for inner in op.ops:
            if not current:
                return []
            if isinstance(inner, StepOp):
                current = self._record_step(inner, current, out, deps)
            else:
                current = self._op(inner, current, out)
        return current

    def _worker_deps(self, op: WithOp) -> dict[str, Any]:
        local = self._local
        deps = local.deps.get(op.path)
        if deps is not None:
            return deps
        if local.stack is None:
            local.stack = ExitStack()
            with self._stacks_lock:
                self._stacks.append(local.stack)
        deps = dict(op.plain)
        for name, manager in op.managers.items():
            deps[name] = local.stack.enter_context(manager)
        if op.scope == "worker":
            for name, factory in op.factories.items():
                deps[name] = local.stack.enter_context(factory.create())
        local.deps[op.path] = deps
        return deps

    def _router(self, op: RouterOp, items: list[Rec], out: list[Emit]) -> list[Rec]:
        lanes: list[list[Rec]] = [[] for _ in op.branches]
        passed: list[tuple[int, Rec]] = []
        for position, rec in enumerate(items):
            try:
                index = _select(op, rec.message)
            except Exception as exc:
                self._fail(StepFailure(ErrorKind.ROUTING, exc, 1, op.name), rec, out)
                continue
            if index is None:
                if op.fork:
                    with self.metrics.lock:
                        self.metrics.unmatched[op.name] += 1
                    rec.token.done()
                else:
                    passed.append((position, rec))
                continue
            lanes[index].append(rec)
        rejoined: list[tuple[int, Rec]] = list(passed)
        order = {id(rec): i for i, rec in enumerate(items)}
        for branch, lane in zip(op.branches, lanes, strict=True):
            if not lane:
                continue
            result = self._run(branch.ops, lane, out)
            if not branch.terminal:
                rejoined.extend((order.get(id(r), len(items)), r) for r in result)
        rejoined.sort(key=lambda pair: pair[0])
        return [rec for _, rec in rejoined]

    def _broadcast(self, op: BroadcastOp, items: list[Any], out: list[Emit]) -> list[Any]:
        for rec in flatten(items):  # each input completes once per route
            rec.token.fork(len(op.routes))
        for route in op.routes:
            copies = [
                [Rec(r.message, r.token) for r in item]
                if isinstance(item, list)
                else Rec(item.message, item.token)
                for item in items
            ]
            complete_recs(flatten(self._run(route.ops, copies, out)))  # a discard route
        return []

    def _expand_rows(
        self, op: ExplodeOp | ExpandRoutesOp, items: list[Rec], out: list[Emit]
    ) -> list[Rec]:
        rows: list[tuple[int | None, Rec]] = []
        keyed = op.keyed if isinstance(op, ExpandRoutesOp) else {}
        default = op.default if isinstance(op, ExpandRoutesOp) else None
        for rec in items:
            try:
                groups = op.expander.expand(rec.message.payload)
                produced = [
                    (keyed.get(cls, default), value)
                    for cls, values in groups.items()
                    for value in values
                ]
            except Exception as exc:
                self._fail_exc(exc, rec, out, op.name)
                continue
            if isinstance(op, ExpandRoutesOp):  # rows of classes without a route are dropped
                produced = [(index, v) for index, v in produced if index is not None]
            rec.token.fork(len(produced))
            rows.extend((index, wrap(value, rec)) for index, value in produced)
        if isinstance(op, ExplodeOp):
            return [rec for _, rec in rows]
        for index, branch in enumerate(op.branches):
            lane = [rec for i, rec in rows if i == index]
            if lane:
                self._run(branch.ops, lane, out)
        return []


def _select(op: RouterOp, message: Message[Any]) -> int | None:
    if op.selector is not None:
        value = op.selector.select(message)
        index = op.keyed.get(value)
        if index is not None:
            return index
    for predicate, index in op.predicates:
        if predicate.matches(message):
            return index
    return op.default


def _collect(records: list[Rec], size: int) -> list[list[Rec]]:
    groups: dict[tuple[str | None, int | None], list[Rec]] = {}
    for rec in records:
        groups.setdefault((rec.message.meta.topic, rec.message.meta.partition), []).append(rec)
    batches: list[list[Rec]] = []
    for group in groups.values():
        batches.extend(group[i : i + size] for i in range(0, len(group), size))
    return batches
