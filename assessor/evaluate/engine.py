"""Evaluate rules on evidence: one result per rule and resource.

Condition trees are compiled once per rule into closures; a leaf whose evidence is absent
makes the result ``error`` ("evidence 'X' is absent") rather than a guess, unless another
branch of an ``any`` already passes or a branch of an ``all`` already fails. Every operator
obeys this, the unary ones too (``present``, ``empty``, ``not_empty``): absence is not a value,
so neither ``not`` nor a negated operator can turn it into a pass. Only two things give
absence a meaning, both written in the rule: a leaf's ``default`` (the value the product
uses when the setting is not there), and the ``absent`` operator, which exists to say
"this key missing is the compliant state".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from assessor import extensions
from assessor.catalog.loader import Catalog
from assessor.catalog.schema import (
    AllOf,
    AnyOf,
    Condition,
    FunctionCheck,
    Leaf,
    NotOf,
    Op,
    Rule,
)
from assessor.errors import EvaluationError
from assessor.evaluate.functions import Evaluator, Outcome
from assessor.evaluate.operators import OPERATORS
from assessor.evaluate.paths import MISSING, parse_path, resolve
from assessor.evidence import Evidence
from assessor.results import Result
from assessor.vocab import STORED_STATUSES, Status


class MissingEvidenceError(EvaluationError):
    def __init__(self, path: str) -> None:
        super().__init__(f"evidence {path!r} is absent")
        self.path = path


# A compiled condition returns (passed, the deciding leaf's (evidence, value, expected, op,
# message)); a tuple, because building a dict per evaluation costs a third of the time.
Ctx = tuple[str, Any, Any, str, str | None]
Compiled = Callable[[Any], tuple[bool, Ctx | None]]


def _compile(node: Condition) -> Compiled:
    if isinstance(node, AllOf):
        children = [_compile(c) for c in node.all]

        def all_of(data: Any) -> tuple[bool, Ctx | None]:
            missing: MissingEvidenceError | None = None
            last: Ctx | None = None
            for child in children:
                try:
                    ok, ctx = child(data)
                except MissingEvidenceError as e:
                    missing = missing or e
                    continue
                if not ok:
                    return False, ctx
                last = ctx
            if missing:
                raise missing
            return True, last

        return all_of
    if isinstance(node, AnyOf):
        children = [_compile(c) for c in node.any]

        def any_of(data: Any) -> tuple[bool, Ctx | None]:
            missing: MissingEvidenceError | None = None
            first_fail: Ctx | None = None
            for child in children:
                try:
                    ok, ctx = child(data)
                except MissingEvidenceError as e:
                    missing = missing or e
                    continue
                if ok:
                    return True, ctx
                first_fail = first_fail or ctx
            if missing:
                raise missing
            return False, first_fail

        return any_of
    if isinstance(node, NotOf):
        child = _compile(node.not_)

        def not_of(data: Any) -> tuple[bool, Ctx | None]:
            ok, ctx = child(data)
            return not ok, ctx

        return not_of
    return _compile_leaf(node)


def path_text(parts: tuple[str | int, ...]) -> str:
    """Write parsed path parts back as an evidence path (``files["/etc/docker"].mode``)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", part):
            out += f".{part}" if out else part
        else:
            out += f'["{part}"]'
    return out


def _parent_missing(data: Any, parts: tuple[str | int, ...]) -> str | None:
    """The path of the first ancestor of ``parts`` that is not a mapping, or None.

    Absence means something only inside what the collector recorded: ``files["/x"]`` missing
    from a ``files`` mapping is a file the collector looked for and did not find, but a
    missing ``files`` is a section never collected.
    """
    node = data
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node, dict) or part not in node:
            return path_text(parts[: i + 1])
        node = node[part]
    return None if isinstance(node, dict) else path_text(parts[:-1]) or "data"


def _compile_leaf(leaf: Leaf) -> Compiled:
    parts = parse_path(leaf.evidence)
    fn = OPERATORS[leaf.op]
    expected = leaf.value
    has_default = leaf.has_default
    default = leaf.default
    absence_is_meant = leaf.op is Op.ABSENT
    path = leaf.evidence
    op = leaf.op.value

    def run(data: Any) -> tuple[bool, Ctx | None]:
        actual = resolve(data, parts)
        if actual is MISSING:
            if not (has_default or absence_is_meant):
                raise MissingEvidenceError(path)
            parent = _parent_missing(data, parts)
            if parent is not None:
                raise MissingEvidenceError(parent)
            actual = default if has_default else None
        return fn(actual, expected), (path, actual, expected, op, leaf.message)

    return run


def _leaves(node: Condition | None) -> Iterable[Leaf]:
    if node is None:
        return
    if isinstance(node, AllOf | AnyOf):
        for child in node.all if isinstance(node, AllOf) else node.any:
            yield from _leaves(child)
    elif isinstance(node, NotOf):
        yield from _leaves(node.not_)
    else:
        yield node


def condition_paths(rule: Rule) -> list[str]:
    """The evidence paths a condition-tree rule reads (``applies_if``, then ``check``), once."""
    trees = [rule.applies_if, None if isinstance(rule.check, FunctionCheck) else rule.check]
    return list(dict.fromkeys(leaf.evidence for tree in trees for leaf in _leaves(tree)))


def _compile_pass_guard(rule: Rule) -> Callable[[Any], None]:
    """A pass needs every leaf's evidence: a branch an ``any`` skipped must still be there.

    An ``any`` stops at its first passing branch and ``not`` over a failing ``all`` passes;
    either could otherwise pass a document that lacks a path the rule declares it reads.
    """
    leaves = [
        leaf
        for tree in (rule.applies_if, rule.check)
        if not isinstance(tree, FunctionCheck)
        for leaf in _leaves(tree)
    ]
    strict = [(parse_path(x.evidence), x.evidence) for x in leaves if not _tolerant(x)]
    tolerant = [parse_path(x.evidence) for x in leaves if _tolerant(x)]

    def guard(data: Any) -> None:
        for parts, path in strict:
            if resolve(data, parts) is MISSING:
                raise MissingEvidenceError(path)
        for parts in tolerant:
            if resolve(data, parts) is MISSING:
                parent = _parent_missing(data, parts)
                if parent is not None:
                    raise MissingEvidenceError(parent)

    return guard


def _tolerant(leaf: Leaf) -> bool:
    return leaf.has_default or leaf.op is Op.ABSENT


_PLACEHOLDER = re.compile(r"\{([^{}\s]+)\}")


_SCALARS: dict[Any, str] = {True: "true", False: "false", None: "null"}


def _show(value: Any) -> str:
    """A value as a message shows it: strings bare, everything else as JSON."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is bool or value is None:
        return _SCALARS[value]
    if kind is int or kind is float:
        return repr(value)
    return json.dumps(value, sort_keys=True, default=str)


def render_message(template: str, ctx: Mapping[str, Any], data: Any) -> str:
    """Fill ``{value}``, ``{expected}``, ``{evidence}``, ``{resource}`` or ``{Any.Path}``."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in ctx:
            return _show(ctx[name])
        try:
            found = resolve(data, parse_path(name))
        except ValueError:
            return m.group(0)
        return m.group(0) if found is MISSING else _show(found)

    return _PLACEHOLDER.sub(sub, template)


_DEFAULT_FAIL = {
    Op.PRESENT.value: "{evidence} is not set",
    Op.ABSENT.value: "{evidence} is set to {value}",
    Op.EMPTY.value: "{evidence} is {value}, expected empty",
    Op.NOT_EMPTY.value: "{evidence} is empty",
    Op.MODE_AT_MOST.value: "{evidence} is {value}, expected {expected} or more restrictive",
}


# What an ``applies_if`` leaf asks of its evidence, in words: (when the leaf holds, when it
# does not). The generated reason of a leaf without a ``message`` (an organisation's rule).
_CONDITION_WORDS: dict[str, tuple[str, str]] = {
    Op.EQ.value: ("is {expected}", "is not {expected}"),
    Op.NE.value: ("is not {expected}", "is {expected}"),
    Op.IN.value: ("is one of {expected}", "is none of {expected}"),
    Op.NOT_IN.value: ("is none of {expected}", "is one of {expected}"),
    Op.CONTAINS.value: ("contains {expected}", "does not contain {expected}"),
    Op.NOT_CONTAINS.value: ("does not contain {expected}", "contains {expected}"),
    Op.REGEX.value: ("matches {expected}", "does not match {expected}"),
    Op.NOT_REGEX.value: ("does not match {expected}", "matches {expected}"),
    Op.LT.value: ("is less than {expected}", "is {expected} or more"),
    Op.LE.value: ("is at most {expected}", "is more than {expected}"),
    Op.GT.value: ("is more than {expected}", "is {expected} or less"),
    Op.GE.value: ("is at least {expected}", "is less than {expected}"),
    Op.MODE_AT_MOST.value: ("has mode {expected} or stricter", "has a mode wider than {expected}"),
    Op.OWNER_IS.value: ("is owned by {expected}", "is not owned by {expected}"),
    Op.PRESENT.value: ("is set", "is not set"),
    Op.ABSENT.value: ("is not set", "is set"),
    Op.EMPTY.value: ("is empty", "is not empty"),
    Op.NOT_EMPTY.value: ("is not empty", "is empty"),
}


def _words(value: Any) -> str:
    """A value as a sentence shows it: a list as its items, nothing as "not set"."""
    if value is None:
        return "not set"
    if isinstance(value, list):
        return ", ".join(_show(v) for v in value) if value else "none"
    if isinstance(value, str | dict) and not value:
        return "empty"
    return _show(value)


def not_applicable_reason(ctx: Ctx | None, resource: str, data: Any) -> str:
    """Why ``applies_if`` does not hold, from the leaf that decided it (runs only then).

    The leaf's ``message`` is the reason in the rule author's words, filled like a fail
    message (``{value}`` is the value the evidence holds; a list reads as its items). A leaf
    without one (allowed for an organisation's rule; ``assessor controls validate`` warns)
    gets a generated reason naming its evidence path, the condition and the value.
    """
    if ctx is None:
        return "not applicable"
    path, actual, expected, op, message = ctx
    if message is None:
        holds, fails = _CONDITION_WORDS[op]
        # under a ``not`` the deciding leaf is one that held: the rule needed the opposite
        needed = fails if OPERATORS[Op(op)](actual, expected) else holds
        message = f"the rule applies only where {{evidence}} {needed}; here it is {{value}}"
    shown = {
        "evidence": path,
        "value": _words(actual),
        "expected": _words(expected),
        "op": op,
        "resource": resource,
    }
    return render_message(message, shown, data)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule: Rule
    applies: Compiled | None
    check: Compiled | None
    function: Callable[[Any, Mapping[str, Any]], Outcome] | None
    references: dict[str, list[str]]
    severity: str
    pass_guard: Callable[[Any], None] | None = None


_cache: dict[int, CompiledRule] = {}


def evaluator(name: str) -> Evaluator:
    """The evaluation function a rule names: built in (assessor.extensions.FUNCTIONS) or a
    plugin's (entry point group ``assessor.functions``)."""
    found = extensions.load(extensions.FUNCTIONS_GROUP, name)
    if not callable(found):
        raise extensions.PluginError(
            f"evaluation function {name!r} is a {type(found).__name__}, not a function"
        )
    return cast(Evaluator, found)


def load_plugin_functions(catalog: Catalog) -> None:
    """Load the evaluation functions of installed plugins that the catalog's rules name: one
    that does not load raises its PluginError now, not halfway through a scan."""
    for rule in catalog.rules.values():
        check = rule.check
        if isinstance(check, FunctionCheck) and check.function not in extensions.FUNCTIONS:
            evaluator(check.function)


def compile_rule(rule: Rule, references: dict[str, list[str]] | None = None) -> CompiledRule:
    key = id(rule)
    hit = _cache.get(key)
    if hit is not None and hit.rule is rule:
        return hit
    function = None
    check = None
    if isinstance(rule.check, FunctionCheck):
        function = evaluator(rule.check.function)
    elif rule.check is not None:
        check = _compile(rule.check)
    compiled = CompiledRule(
        rule,
        _compile(rule.applies_if) if rule.applies_if is not None else None,
        check,
        function,
        references or {},
        rule.severity.value,
        _compile_pass_guard(rule) if check is not None else None,
    )
    _cache[key] = compiled
    return compiled


def _stored(status: str) -> Status:
    """An evaluation function's status; ``waived`` and ``not_assessed`` are never judged."""
    if status not in STORED_STATUSES:
        raise ValueError(f"'{status}' is not a status an evaluation stores")
    return Status(status)


def _judge(c: CompiledRule, ev: Evidence) -> tuple[Status, str] | tuple[Status, str, str]:
    rule = c.rule
    data = ev.data
    if "collection_error" in data:  # the resource was found but could not be read
        return Status.ERROR, f"not assessed: {data['collection_error']}"
    if c.applies is not None:
        applies, actx = c.applies(data)
        if not applies:
            return Status.NOT_APPLICABLE, not_applicable_reason(actx, ev.resource, data)
    if c.function is not None:
        assert isinstance(rule.check, FunctionCheck)
        outcome = c.function(data, rule.check.args)
        if outcome.severity is not None:
            return _stored(outcome.status), outcome.message, outcome.severity
        return _stored(outcome.status), outcome.message
    assert c.check is not None
    ok, leaf = c.check(data)
    if ok:
        assert c.pass_guard is not None
        c.pass_guard(data)
        return Status.PASS, f"{leaf[0]} is {_show(leaf[1])}" if leaf else "compliant"
    ctx: dict[str, Any] = {"resource": ev.resource}
    if leaf:
        ctx.update(evidence=leaf[0], value=leaf[1], expected=leaf[2], op=leaf[3], message=leaf[4])
    template = ctx.get("message") or rule.message
    if not template:
        template = _DEFAULT_FAIL.get(
            ctx.get("op", ""), "{evidence} is {value}, expected {op} {expected}"
        )
    return Status.FAIL, render_message(template, ctx, data)


def evaluate_rule(
    rule: Rule,
    ev: Evidence,
    references: dict[str, list[str]] | None = None,
    evidence_hash: str | None = None,
) -> Result:
    """Judge one resource. A rule that raises gives ``error`` for that resource only."""
    return _run(compile_rule(rule, references), ev, evidence_hash or ev.sha256)


def _is_self(ev: Evidence) -> bool:
    if ev.kind != "container" or not isinstance(ev.data, dict):
        return False
    observed = ev.data.get("Assessor")
    return isinstance(observed, dict) and observed.get("Self") is True


def _run(c: CompiledRule, ev: Evidence, evidence_hash: str) -> Result:
    severity = c.severity
    try:
        judged = _judge(c, ev)
        status, message = judged[0], judged[1]
        if len(judged) == 3:
            severity = judged[2]
    except EvaluationError as e:
        status, message = Status.ERROR, e.message
    except Exception as e:  # a broken evaluator must not stop the scan; the result says why
        status, message = Status.ERROR, f"evaluator failed: {type(e).__name__}: {e}"
    if status is Status.FAIL and _is_self(ev):
        # assessor's own container is marked, not failed: its settings are the scanner's
        status, message = Status.NOT_APPLICABLE, f"assessor's own container (not judged): {message}"
    rule = c.rule
    return Result(
        rule.id,
        rule.title,
        severity,
        ev.target,
        ev.resource,
        status,
        message,
        evidence_hash,
        c.references,
    )


def evaluate(
    catalog: Catalog,
    evidence: Iterable[Evidence],
    scope: Mapping[str, Iterable[str]],
    rule_ids: Iterable[str] | None = None,
) -> list[Result]:
    """Evaluate every rule on the evidence of the kinds each target produces.

    ``scope`` maps each target to the evidence kinds its collector produces, so a target
    with no resource of a rule's kind gets one ``not_applicable`` result saying so, and a
    manual rule gets one ``manual`` result per target.
    """
    by_target: dict[str, dict[str, list[Evidence]]] = {}
    hashes: dict[int, str] = {}  # each document is hashed once, not once per rule
    for ev in evidence:
        hashes[id(ev)] = ev.sha256
        by_target.setdefault(ev.target, {}).setdefault(ev.kind, []).append(ev)
    rules = (
        [catalog.rules[r] for r in rule_ids]
        if rule_ids is not None
        else list(catalog.rules.values())
    )
    results: list[Result] = []
    for target, kinds in scope.items():
        kinds = set(kinds)
        docs = by_target.get(target, {})
        for rule in rules:
            kind = rule.target.value
            if kind not in kinds:
                continue
            refs = catalog.references.get(rule.id, {})
            resources = docs.get(kind, [])
            if rule.manual is not None or not resources:
                # one result about the target as a whole (resource "*")
                status, message = (
                    (Status.MANUAL, "manual check: see the rule's procedure")
                    if rule.manual is not None
                    else (Status.NOT_APPLICABLE, f"no {kind} found on {target}")
                )
                results.append(
                    Result(
                        rule.id,
                        rule.title,
                        rule.severity.value,
                        target,
                        "*",
                        status,
                        message,
                        None,
                        refs,
                    )
                )
                continue
            compiled = compile_rule(rule, refs)
            results.extend(_run(compiled, ev, hashes[id(ev)]) for ev in resources)
    return results
