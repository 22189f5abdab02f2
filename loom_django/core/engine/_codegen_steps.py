"""Source lines of a pipeline body's steps: loads, ``Exists`` checks, computes and rules.

``codegen`` puts them after the lines ``_codegen_inputs`` writes for the parameters and the
payload, and before the call of ``execute``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msgspec.structs import force_setattr

from loom_django.core.engine.fastpath import make_outcome, plain_refs, rule_field
from loom_django.core.engine.plan import ExecutionPlan
from loom_django.core.engine.unique_guard import settle_deferred
from loom_django.core.use_case.compute import ComputeSpec
from loom_django.core.use_case.field_ref import FieldRef
from loom_django.core.use_case.markers import LookupKind, OnMissing, SourceKind
from loom_django.core.use_case.rule import RuleSpec

__all__ = ["Slots", "StepWriter", "inline_compute", "inline_rule", "slot_names", "store"]


class Slots:
    """Where the generated code keeps the arguments of ``execute``.

    Plain locals (``slot_0`` ...) when every step was written inline, so the final call
    passes them by keyword with no dict to build and unpack; the ``bound`` dict when a
    step needs the whole context (raw or predicate steps, deferred ``Exists`` checks).
    """

    def __init__(self, names: tuple[str, ...], as_dict: bool, command: str | None) -> None:
        self.as_dict = as_dict
        self._local = {name: f"slot_{index}" for index, name in enumerate(names)}
        if command is not None:
            self._local[command] = "command"  # the decoded command is its own slot

    def ref(self, name: str) -> str:
        """The expression reading ``name``."""
        return f"bound[{name!r}]" if self.as_dict else self._local[name]

    def call(self) -> str:
        """The call of ``execute`` with every slot."""
        if self.as_dict:
            return "instance.execute(**bound)"
        return "instance.execute({})".format(
            ", ".join(f"{name}={local}" for name, local in self._local.items())
        )

    def unpack(self, names: tuple[str, ...], source: str) -> list[str]:
        """Lines copying ``names`` from the dict ``source`` into their slots."""
        if self.as_dict:
            return []
        return [f"{self._local[name]} = {source}[{name!r}]" for name in names]


def slot_names(plan: ExecutionPlan) -> tuple[str, ...]:
    """The names of ``execute``'s arguments the pipeline fills: parameters, the command,
    then the loads and ``Exists`` checks, in plan order."""
    names = [param.name for param in plan.param_bindings]
    if plan.input_binding is not None:
        names.append(plan.input_binding.name)
    names += [load.name for load in plan.load_steps]
    names += [check.name for check in plan.exists_steps]
    return tuple(names)


def store(slots: Slots, name: str, value: str) -> list[str]:
    """The line writing ``value`` into ``name``'s slot; none when it is already there."""
    target = slots.ref(name)
    return [] if target == value else [f"    {target} = {value}"]


class StepWriter:
    """The steps of one plan's pipeline body, written for one of two callers.

    ``lines(entry=False)`` serves the executor's paths, where ``dependencies`` and
    ``load_overrides`` may be given; ``lines(entry=True)`` serves the invoker entries,
    which pass neither, so their lookups and the branches they guard are left out.
    """

    def __init__(
        self,
        plan: ExecutionPlan,
        slots: Slots,
        names: dict[str, Any],
        deferred: set[str],
        inline_computes: list[str | None],
        inline_rules: list[list[str] | None],
    ) -> None:
        self.plan = plan
        self.slots = slots
        self.names = names
        self.deferred = deferred
        self.inline_computes = inline_computes
        self.inline_rules = inline_rules

    def lines(self, entry: bool) -> list[str]:
        """The lines of every step (four-space indent), after the command is decoded and
        up to the call of ``execute``."""
        plan, slots, names = self.plan, self.slots, self.names
        lines: list[str] = []
        shared = _shared_repos(plan, self.deferred)
        if entry:
            shared = {
                entity: local
                for entity, local in shared.items()
                if not _back_to_back(plan, self.deferred, entity)
            }
        else:
            lines += [f"    {local} = None" for local in shared.values()]
        seen: list[type[Any]] = []  # the model of every step so far, in order
        for index, load in enumerate(plan.load_steps):
            lines += self._load(index, load, shared, seen, entry)
        for index, check in enumerate(plan.exists_steps):
            lines += self._exists(index, check, shared, seen, entry)
        if plan.compute_fns:
            lines += _compute_lines(plan, self.inline_computes, slots, names)
        if plan.rule_fns:
            lines += _rule_lines(plan, self.inline_rules, names)
            lines.append("    if violations:")
            if self.deferred:
                names["settle_deferred"] = settle_deferred
                deps = "None" if entry else "dependencies"
                lines.append(
                    "        await settle_deferred(executor, plan, command, fields_set, bound, "
                    f"{deps})"
                )
            else:
                lines.append("        raise RuleViolations(violations)")
        return lines

    def _target(self, name: str) -> str:
        """Where a step writes its value: its own local, or ``found`` before ``bound``."""
        return "found" if self.slots.as_dict else self.slots.ref(name)

    def _load(
        self,
        index: int,
        load: Any,
        shared: dict[type[Any], str],
        seen: list[type[Any]],
        entry: bool,
    ) -> list[str]:
        entity = f"load_entity_{index}"
        self.names[entity] = load.entity_type
        value = _source(self.slots, load.source_kind, load.source_name)
        target = self._target(load.name)
        if entry:
            indent, lines = "    ", []
        else:
            indent = "        "
            lines = [
                f"    if load_overrides is not None and {entity} in load_overrides:",
                f"        {target} = load_overrides[{entity}]",
                "    else:",
            ]
        lines += self._repo(entity, "LoadById", load.entity_type, shared, seen, indent, entry)
        if load.lookup_kind is LookupKind.BY_ID:
            found = f"await repo.get_by_id({value}, profile={load.profile!r})"
        else:
            self.names[f"load_step_{index}"] = load
            found = f"await executor._get_by(repo, load_step_{index}, {value})"
        lines.append(f"{indent}{target} = {found}")
        if load.on_missing is OnMissing.RAISE:
            missing = f"raise NotFound({entity}.__name__, id={value})"
        elif load.on_missing is OnMissing.RETURN_NONE:
            missing = None
        else:
            missing = f"{target} = False"
        if missing is not None:
            lines += [f"{indent}if {target} is None:", f"{indent}    {missing}"]
        return lines + store(self.slots, load.name, target)

    def _exists(
        self,
        index: int,
        check: Any,
        shared: dict[type[Any], str],
        seen: list[type[Any]],
        entry: bool,
    ) -> list[str]:
        if check.name in self.deferred:
            return store(self.slots, check.name, "False")
        entity = f"exists_entity_{index}"
        self.names[entity] = check.entity_type
        value = _source(self.slots, check.source_kind, check.source_name)
        target = self._target(check.name)
        lines = self._repo(entity, "Exists", check.entity_type, shared, seen, "    ", entry)
        lines += [
            "    try:",
            f"        pending = repo.exists_by({check.against!r}, {value})",
            "    except AttributeError:",
            "        if hasattr(repo, 'exists_by'):",
            "            raise",
            f"        executor._exists_by(repo, {entity})  # names the repository and raises",
            f"    {target} = True if await pending else False",
        ]
        if check.on_missing is OnMissing.RAISE:
            missing = f"raise NotFound({entity}.__name__, id={value})"
            lines += [f"    if not {target}:", f"        {missing}"]
        return lines + store(self.slots, check.name, target)

    def _repo(
        self,
        entity: str,
        label: str,
        entity_type: type[Any],
        shared: dict[type[Any], str],
        seen: list[type[Any]],
        indent: str,
        entry: bool,
    ) -> list[str]:
        """Lines setting ``repo`` for one step (see ``_repo_lines``). In an entry every
        load runs, so a shared repository found by an earlier step is simply read."""
        local = shared.get(entity_type)
        first = entity_type not in seen
        previous = seen[-1] if seen else None
        seen.append(entity_type)
        if entry and previous is entity_type:
            return []  # every step of an entry runs: ``repo`` still holds it
        if entry and local is not None and not first:
            return [f"{indent}repo = {local}"]
        if entry:
            return _repo_lines(entity, label, local, indent, first=True, dependencies=False)
        return _repo_lines(entity, label, local, indent, first=first)


def _shared_repos(plan: ExecutionPlan, deferred: set[str]) -> dict[type[Any], str]:
    """A local per entity whose repository more than one step needs, so it is found once."""
    entities = [load.entity_type for load in plan.load_steps] + [
        check.entity_type for check in plan.exists_steps if check.name not in deferred
    ]
    shared = [entity for entity in dict.fromkeys(entities) if entities.count(entity) > 1]
    return {entity: f"repo_{index}" for index, entity in enumerate(shared)}


def _back_to_back(plan: ExecutionPlan, deferred: set[str], entity: type[Any]) -> bool:
    """Whether every step that needs ``entity``'s repository follows another one that does,
    so ``repo`` still holds it (in an entry, where every step runs)."""
    entities = [load.entity_type for load in plan.load_steps] + [
        check.entity_type for check in plan.exists_steps if check.name not in deferred
    ]
    positions = [index for index, used in enumerate(entities) if used is entity]
    return positions == list(range(positions[0], positions[0] + len(positions)))


def _repo_lines(
    entity: str,
    label: str,
    shared: str | None,
    indent: str,
    first: bool = False,
    dependencies: bool = True,
) -> list[str]:
    """Lines setting ``repo``: the dependencies first (unless the caller passes none),
    then the executor's cache and resolver. A ``shared`` local is read, except by the step
    that uses it ``first``."""
    deps = "dependencies" if dependencies else "None"
    resolve = [
        f"repo = executor._repo_cache.get({entity})",
        "if repo is None:",
        "    resolve = executor._repo_resolver",
        f"    repo = resolve({entity}) if resolve is not None else None",
        "    if repo is None:",
        f"        repo = executor._repository({entity}, {deps}, {label!r})",
    ]
    if dependencies:
        lines = [
            f"{indent}repo = dependencies.get({entity}) if dependencies is not None else None",
            f"{indent}if repo is None:",
            *[f"{indent}    {line}" for line in resolve],
        ]
    else:
        lines = [f"{indent}{line}" for line in resolve]
    if shared is None:
        return lines
    if first:
        return [*lines, f"{indent}{shared} = repo"]
    nested = [f"    {line}" for line in lines]
    return [
        f"{indent}repo = {shared}",
        f"{indent}if repo is None:",
        *nested,
        f"{indent}    {shared} = repo",
    ]


def _compute_lines(
    plan: ExecutionPlan, inline: list[str | None], slots: Slots, names: dict[str, Any]
) -> list[str]:
    """Computes in order; the command keeps its fields_set when one replaces it."""
    assert plan.input_binding is not None
    if all(line is not None for line in inline):
        # Inline computes write in place: the command is never replaced.
        return [line for line in inline if line is not None]
    lines = ["    original = command", "    computed = None"]
    for index, fn in enumerate(plan.compute_fns):
        line = inline[index]
        if line is not None:
            lines.append(line)
            continue
        names[f"compute_{index}"] = fn
        lines += [
            f"    new = compute_{index}(command, fields_set, bound)",
            "    if new is not command:",
        ]
        if isinstance(fn, ComputeSpec):
            lines.append(f"        computed = (computed or set()) | {{{fn.target.leaf!r}}}")
        lines.append("        command = new")
        lines += [f"    {line}" for line in store(slots, plan.input_binding.name, "command")]
    return [
        *lines,
        "    if computed:",
        "        with_fields_set(command, fields_set | computed)",
        "    elif command is not original:",
        "        with_fields_set(command, fields_set)",
    ]


def _rule_lines(
    plan: ExecutionPlan, inline: list[list[str] | None], names: dict[str, Any]
) -> list[str]:
    """Every rule in order, their violations collected in ``violations``."""
    lines = ["    violations = None"]
    for index, fn in enumerate(plan.rule_fns):
        inline_lines = inline[index]
        if inline_lines is not None:
            lines += inline_lines
            continue
        names[f"rule_{index}"] = fn
        lines += [
            "    try:",
            f"        outcome = rule_{index}(command, fields_set, bound)",
            "    except RuleViolation as violation:",
            "        outcome = violation",
            "    if outcome is not None and isinstance(outcome, RuleViolation):",
            "        if violations is None:",
            "            violations = []",
            "        violations.append(outcome)",
        ]
    return lines


Ref = Callable[[str], str]
"""Maps a slot name to the expression reading it in the generated code."""


def _args(refs: tuple[FieldRef, ...], params: tuple[str, ...], ref: Ref) -> str:
    return ", ".join([f"command.{r.path[0]}" for r in refs] + [ref(p) for p in params])


def inline_compute(index: int, spec: Any, fn: Any, names: dict[str, Any], ref: Ref) -> str | None:
    """One line for a built-in compute the fast path writes in place, else None."""
    if not isinstance(spec, ComputeSpec) or fn is spec or not plain_refs(spec.sources):
        return None
    names["force_setattr"] = force_setattr
    leaf = repr(spec.target.leaf)
    if spec.via is None:
        return f"    force_setattr(command, {leaf}, command.{spec.sources[0].path[0]})"
    names[f"compute_via_{index}"] = spec.via
    if spec.whole_command:
        args = ", ".join(["command"] + [ref(p) for p in spec.from_param_names])
    else:
        args = _args(spec.sources, spec.from_param_names, ref)
    return f"    force_setattr(command, {leaf}, compute_via_{index}({args}))"


def inline_rule(
    index: int, spec: Any, command_type: type[Any] | None, names: dict[str, Any], ref: Ref
) -> list[str] | None:
    """Lines for a check/forbid rule without presence gate, else None."""
    if not isinstance(spec, RuleSpec) or spec.kind == "require_present" or spec.fn is None:
        return None
    if spec.predicate is not None:
        return None
    refs = spec.targets or (spec.command_refs if spec.uses_command_refs else ())
    if refs and not plain_refs(refs):
        return None
    names[f"rule_via_{index}"] = spec.fn
    names[f"rule_outcome_{index}"] = make_outcome(rule_field(spec, command_type), spec.message)
    if refs:
        args = _args(refs, spec.param_names, ref)
    else:
        args = ", ".join(["command", "fields_set"] + [ref(p) for p in spec.param_names])
    return [
        "    try:",
        f"        outcome = rule_via_{index}({args})",
        "    except RuleViolation as violation:",
        "        outcome = violation",
        "    if outcome is not None and outcome is not False:",
        f"        outcome = rule_outcome_{index}(outcome)",
        "        if outcome is not None:",
        "            if violations is None:",
        "                violations = []",
        "            violations.append(outcome)",
    ]


def _source(slots: Slots, kind: SourceKind, name: str) -> str:
    if kind is SourceKind.PARAM:
        return slots.ref(name)
    return f"getattr(command, {name!r})"
