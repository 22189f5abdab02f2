"""Generates one straight-line pipeline function per plan, so a call runs no step loops.

The generated coroutine does exactly what ``RuntimeExecutor`` documents (bind, command,
loads, exists, computes, rules, execute) with every decision that depends only on the plan
taken at compile time. Slow paths (error reporting, repository resolution) call back into
the executor.
"""

from __future__ import annotations

from asyncio import _get_running_loop
from collections.abc import Callable, Coroutine
from typing import Any, NamedTuple

import msgspec
from msgspec.structs import force_setattr

from loom_django.core.command import (
    FIELDS_SET_ATTR,
    Command,
    get_patch_fields,
    known_shapes,
    with_fields_set,
)
from loom_django.core.engine.coercion import CoercionFailed
from loom_django.core.engine.driver import (
    drive_suspended,
    ensure_no_running_loop,
    raise_loop_required,
)
from loom_django.core.engine.entries import Entries, EntryBinder, entry_source
from loom_django.core.engine.fastpath import make_outcome, plain_refs, rule_field
from loom_django.core.engine.plan import NO_DEFAULT, ExecutionPlan, ParamBinding
from loom_django.core.engine.unique_guard import settle_deferred, unique_violation
from loom_django.core.errors import (
    NotFound,
    RuleViolation,
    RuleViolations,
    UniqueConflict,
    ValidationError,
)
from loom_django.core.model.introspection import get_column_fields
from loom_django.core.uow import get_active_uow
from loom_django.core.use_case.compute import ComputeSpec
from loom_django.core.use_case.field_ref import FieldRef
from loom_django.core.use_case.markers import LookupKind, OnMissing, SourceKind
from loom_django.core.use_case.rule import RuleSpec
from loom_django.core.use_case.use_case import use_case_model

__all__ = ["Pipeline", "Pipelines", "generate_pipeline", "input_decoder"]

Pipeline = Callable[..., Coroutine[Any, Any, Any]]


class _Slots:
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


class Pipelines(NamedTuple):
    """The generated coroutine functions of one plan, one body in three wrappings.

    All take ``(executor, instance, params, payload, dependencies, load_overrides, out)``.
    ``run`` returns the result (callers handle failures and transactions themselves).
    ``quiet_sync`` stores the result in ``out[0]`` and returns ``None``, so a synchronous
    driver finishes it without a ``StopIteration`` carrying a value. ``quiet_async`` returns
    the result and reports its own failure (``executor._failed``), so ``execute`` can hand
    it to the caller to await with no wrapper coroutine.
    """

    run: Pipeline
    quiet_sync: Pipeline
    quiet_async: Pipeline
    bind: EntryBinder


def generate_pipeline(plan: ExecutionPlan) -> Pipelines:
    """Build the pipeline coroutine functions of ``plan`` (see ``Pipelines``)."""
    names: dict[str, Any] = {
        "NotFound": NotFound,
        "RuleViolation": RuleViolation,
        "RuleViolations": RuleViolations,
        "ValidationError": ValidationError,
        "ComputeSpec": ComputeSpec,
        "with_fields_set": with_fields_set,
        "plan": plan,
    }
    binding = plan.input_binding
    command_type = binding.command_type if binding is not None else None
    deferred = {guard.name for guard in plan.deferred_exists}
    inline = all(
        _inline_compute(index, step.fn, fn, {}, repr) is not None
        for index, (step, fn) in enumerate(zip(plan.compute_steps, plan.compute_fns, strict=True))
    ) and all(
        _inline_rule(index, step.fn, command_type, {}, repr) is not None
        for index, step in enumerate(plan.rule_steps)
    )
    slots = _Slots(
        _slot_names(plan),
        as_dict=bool(deferred) or not inline,
        command=binding.name if binding is not None else None,
    )
    inline_computes = [
        _inline_compute(index, step.fn, fn, names, slots.ref)
        for index, (step, fn) in enumerate(zip(plan.compute_steps, plan.compute_fns, strict=True))
    ]
    inline_rules = [
        _inline_rule(index, step.fn, command_type, names, slots.ref)
        for index, step in enumerate(plan.rule_steps)
    ]
    body = _Body(plan, slots, names, deferred, inline_computes, inline_rules)
    lines = body.lines(entry=False)
    call = _call(plan, slots)
    value = f"await {call}" if plan.is_async else call
    if deferred:
        names["UniqueConflict"] = UniqueConflict
        names["unique_violation"] = unique_violation

    def finish(statement: str) -> list[str]:
        if not deferred:
            return [f"    {statement}"]
        return [
            "    try:",
            f"        {statement}",
            "    except UniqueConflict as conflict:",
            "        unique_violation(plan, conflict, command, fields_set, bound)",
            "        raise",
        ]

    header = (
        "async def {}(executor, instance, params, payload, dependencies, load_overrides, out=None):"
    )
    guarded = [f"    {line}" for line in [*lines, *finish(f"return {value}")]]
    source = "\n".join(
        [
            header.format("pipeline"),
            *lines,
            *finish(f"return {value}"),
            header.format("quiet_sync"),
            *lines,
            *finish(f"out[0] = {value}"),
            header.format("quiet_async"),
            "    try:",
            *guarded,
            "    except BaseException as exc:",
            "        executor._failed(plan, exc, 0.0)",
            "        raise",
        ]
    )
    source += "\n" + entry_source(body.lines(entry=True), finish, value, plan.read_only)
    names.update(
        Entries=Entries,
        drive_suspended=drive_suspended,
        ensure_no_running_loop=ensure_no_running_loop,
        get_active_uow=get_active_uow,
        get_running_loop=_get_running_loop,
        new=object.__new__,
        raise_loop_required=raise_loop_required,
        use_case_type=plan.use_case_type,
    )
    code = compile(source, f"<loom pipeline {plan.name}>", "exec")
    exec(code, names)
    for variant in ("pipeline", "quiet_sync", "quiet_async", "bind"):
        names[variant].__loom_source__ = source
    return Pipelines(names["pipeline"], names["quiet_sync"], names["quiet_async"], names["bind"])


class _Body:
    """The pipeline body of one plan, written for one of two callers.

    ``lines(entry=False)`` serves the executor's paths, where ``dependencies`` and
    ``load_overrides`` may be given; ``lines(entry=True)`` serves the invoker entries,
    which pass neither, so their lookups and the branches they guard are left out.
    """

    def __init__(
        self,
        plan: ExecutionPlan,
        slots: _Slots,
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
        """Every line of the body (four-space indent), up to the call of ``execute``."""
        plan, slots, names = self.plan, self.slots, self.names
        self._previous: type[Any] | None = None
        lines: list[str] = ["    bound = {}"] if slots.as_dict else []
        lines += _bind_section(plan, slots, names)
        binding = plan.input_binding
        if binding is not None:
            names["from_payload"] = input_decoder(plan)
            lines += _decode_lines(plan, names)
            lines += _store(slots, binding.name, "command")
        shared = _shared_repos(plan, self.deferred)
        if entry:
            shared = {
                entity: local
                for entity, local in shared.items()
                if not _back_to_back(plan, self.deferred, entity)
            }
        else:
            lines += [f"    {local} = None" for local in shared.values()]
        seen: set[type[Any]] = set()
        for index, load in enumerate(plan.load_steps):
            lines += self._load(index, load, shared, seen, entry)
        for index, check in enumerate(plan.exists_steps):
            lines += self._exists(index, check, shared, seen, entry)
        if plan.compute_fns:
            assert binding is not None
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
        seen: set[type[Any]],
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
        return lines + _store(self.slots, load.name, target)

    def _exists(
        self,
        index: int,
        check: Any,
        shared: dict[type[Any], str],
        seen: set[type[Any]],
        entry: bool,
    ) -> list[str]:
        if check.name in self.deferred:
            return _store(self.slots, check.name, "False")
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
        return lines + _store(self.slots, check.name, target)

    def _repo(
        self,
        entity: str,
        label: str,
        entity_type: type[Any],
        shared: dict[type[Any], str],
        seen: set[type[Any]],
        indent: str,
        entry: bool,
    ) -> list[str]:
        """Lines setting ``repo`` for one step (see ``_repo_lines``). In an entry every
        load runs, so a shared repository found by an earlier step is simply read."""
        local = shared.get(entity_type)
        first = entity_type not in seen
        seen.add(entity_type)
        previous, self._previous = self._previous, entity_type
        if entry and previous is entity_type:
            return []  # every step of an entry runs: ``repo`` still holds it
        if entry and local is not None and not first:
            return [f"{indent}repo = {local}"]
        if entry:
            return _repo_lines(entity, label, local, indent, first=True, dependencies=False)
        return _repo_lines(entity, label, local, indent, first=first)


def _call(plan: ExecutionPlan, slots: _Slots) -> str:
    """The call of ``execute``: positional when its parameters are exactly the slots."""
    names = _positional_order(plan.use_case_type, set(_slot_names(plan)))
    if names is None or slots.as_dict:
        return slots.call()
    return "instance.execute({})".format(", ".join(slots.ref(name) for name in names))


def _positional_order(cls: type[Any], slots: set[str]) -> tuple[str, ...] | None:
    """``execute``'s parameter names in order, when a positional call is safe.

    Only for a plain function (no wrapper that could read its keyword arguments) whose
    parameters are all positional-or-keyword and are exactly the plan's slots.
    """
    execute = getattr(cls, "execute", None)
    code = getattr(execute, "__code__", None)
    if code is None or hasattr(execute, "__wrapped__"):
        return None
    if code.co_kwonlyargcount or code.co_posonlyargcount or code.co_flags & 0x0C:
        return None  # keyword-only, positional-only, *args or **kwargs
    names = tuple(code.co_varnames[1 : code.co_argcount])
    return names if set(names) == slots and len(names) == len(slots) else None


def _slot_names(plan: ExecutionPlan) -> tuple[str, ...]:
    names = [param.name for param in plan.param_bindings]
    if plan.input_binding is not None:
        names.append(plan.input_binding.name)
    names += [load.name for load in plan.load_steps]
    names += [check.name for check in plan.exists_steps]
    return tuple(names)


def _store(slots: _Slots, name: str, value: str) -> list[str]:
    """The line writing ``value`` into ``name``'s slot; none when it is already there."""
    target = slots.ref(name)
    return [] if target == value else [f"    {target} = {value}"]


def _bind_section(plan: ExecutionPlan, slots: _Slots, names: dict[str, Any]) -> list[str]:
    """Parameter binding: the fast conversions inline, the full report on any problem."""
    if not plan.param_bindings:
        return []
    names["CoercionFailed"] = CoercionFailed
    names["NO_DEFAULT"] = NO_DEFAULT
    lines = ["    if params is None:", "        params = {}", "    try:"]
    for index, param in enumerate(plan.param_bindings):
        lines += _bind_lines(index, param, slots.ref(param.name), names)
    lines.append("    except (KeyError, CoercionFailed, ValueError):")
    if slots.as_dict:
        return [*lines, "        executor._bind_params(plan, params, bound)"]
    lines += ["        checked = {}", "        executor._bind_params(plan, params, checked)"]
    bound_names = tuple(param.name for param in plan.param_bindings)
    return lines + [f"        {line}" for line in slots.unpack(bound_names, "checked")]


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
    plan: ExecutionPlan, inline: list[str | None], slots: _Slots, names: dict[str, Any]
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
        lines += [f"    {line}" for line in _store(slots, plan.input_binding.name, "command")]
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


def _decode_lines(plan: ExecutionPlan, names: dict[str, Any]) -> list[str]:
    """Decode the payload: a payload shape seen before that needs no renaming is
    converted here directly; anything else (and every error) goes through the decoder."""
    assert plan.input_binding is not None
    command_type = plan.input_binding.command_type
    call = ["    command, fields_set = from_payload(payload)"]
    missing = ["    if payload is None:", "        executor._missing_payload(plan)"]
    if not (isinstance(command_type, type) and issubclass(command_type, Command)):
        return missing + call
    if names["from_payload"] != command_type._command_info().decode:
        return missing + call  # the decoder also refuses nulls: keep it whole
    shapes = known_shapes(command_type)
    if shapes is None:
        return missing + call
    info = command_type._command_info()
    names.update(
        known_shapes=shapes,
        command_type=command_type,
        convert=msgspec.convert,
        DecodeError=msgspec.ValidationError,
        required_fields=frozenset(info.python_by_encoded[name] for name in info.required),
    )
    convert = [
        "        try:",
        "            command = convert(payload, command_type)  # strict by default",
        "        except DecodeError:",
        *[f"        {line}" for line in call],
        "        else:",
    ]
    attach = f"            command.__dict__[{FIELDS_SET_ATTR!r}] = fields_set"
    # A payload with exactly as many keys as the command has required fields, that
    # converts, holds those fields and nothing else: its fields_set is known without
    # looking at its keys. Other payloads look their key tuple up among known shapes.
    return [
        f"    if type(payload) is dict and len(payload) == {len(info.required)}:",
        *convert,
        "            fields_set = required_fields",
        attach,
        "    else:",
        *[f"    {line}" for line in missing],
        "        shape = known_shapes.get(tuple(payload)) if type(payload) is dict else None",
        "        if shape is None or shape[1]:",
        *[f"        {line}" for line in call],
        "        else:",
        *[f"    {line}" for line in convert],
        "                fields_set = shape[0]",
        f"    {attach}",
    ]


def input_decoder(plan: ExecutionPlan) -> Callable[[Any], tuple[Any, frozenset[str]]]:
    """The payload decoder of ``plan``'s input command.

    ``Patch`` fields over NOT NULL columns of the use case's model refuse an explicit
    ``null`` here, so it is a 422 naming the field rather than an error inside a rule
    or a constraint violation in the database.
    """
    binding = plan.input_binding
    assert binding is not None
    command_type = binding.command_type
    decoder = getattr(command_type, "_payload_decoder", None)
    if decoder is None:
        from_payload: Callable[[Any], tuple[Any, frozenset[str]]] = command_type.from_payload
        return from_payload
    not_null = _not_null_patch_fields(command_type, use_case_model(plan.use_case_type))
    result: Callable[[Any], tuple[Any, frozenset[str]]] = decoder(not_null)
    return result


def _not_null_patch_fields(command_type: type[Any], model: Any) -> tuple[str, ...]:
    if model is None:
        return ()
    columns = get_column_fields(model)
    return tuple(
        name
        for name in get_patch_fields(command_type)
        if name in columns and not columns[name].nullable
    )


def _bind_lines(index: int, param: ParamBinding, target: str, names: dict[str, Any]) -> list[str]:
    key = repr(param.name)
    coerce = f"coerce_{index}"
    names[coerce] = param.coerce
    if param.coerce is None:
        value = f"params[{key}]"
    elif param.annotation is int:
        # Path and query parameters arrive as digit strings: convert ASCII ones without a
        # call; everything else (signs, odd digits) goes through the coercer, which
        # refuses non-canonical text. A number too long for int() raises ValueError,
        # which sends the call to the full binder and its report.
        value = (
            f"value if type(value := params[{key}]) is int else "
            "int(value) if type(value) is str and value.isascii() and value.isdigit() "
            f"else {coerce}(value)"
        )
    elif isinstance(param.annotation, type):
        names[f"type_{index}"] = param.annotation
        value = f"value if type(value := params[{key}]) is type_{index} else {coerce}(value)"
    else:
        value = f"{coerce}(params[{key}])"
    if param.default is NO_DEFAULT:
        return [f"        {target} = {value}"]
    names[f"default_{index}"] = param.default
    return [
        f"        if {key} in params:",
        f"            {target} = {value}",
        "        else:",
        f"            {target} = default_{index}",
    ]


Ref = Callable[[str], str]
"""Maps a slot name to the expression reading it in the generated code."""


def _args(refs: tuple[FieldRef, ...], params: tuple[str, ...], ref: Ref) -> str:
    return ", ".join([f"command.{r.path[0]}" for r in refs] + [ref(p) for p in params])


def _inline_compute(index: int, spec: Any, fn: Any, names: dict[str, Any], ref: Ref) -> str | None:
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


def _inline_rule(
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


def _source(slots: _Slots, kind: SourceKind, name: str) -> str:
    if kind is SourceKind.PARAM:
        return slots.ref(name)
    return f"getattr(command, {name!r})"
