"""Mutation testing of the YAML rule conditions against each rule's golden fixtures.

For every rule whose ``check`` (and ``applies_if``) is a condition tree, each small change a
slip of the pen could make is generated: an operator flipped to its opposite or neighbour, a
value changed (number +-1, boolean flipped, string altered, a list element dropped, a value the
fixtures hold added to a list, a mode widened or narrowed by one bit, a regex alternative
dropped), a ``default`` changed or dropped, a ``not`` dropped, ``all`` and ``any`` swapped, a
clause of an ``all``/``any`` dropped. Each mutant rule is evaluated in-process on the rule's
fixtures (tests/rules/<rule-id>/<status>-<case>.json); a mutant is killed when at least one
fixture's status differs from the status its file name expects.

Equivalent mutants (no state the collector can produce tells them apart) are listed in
tests/mutation/equivalent-conditions.txt, one ``<rule-id> <mutant-id> <reason>`` a line (the
mutant id may be a glob: ``value add=*``); an entry that names no mutant, or a mutant the
fixtures kill, is reported as stale and fails the run.

Usage: python tools/mutate_conditions.py [--threshold 99] [--rule ID ...] [--list]
Exit status: 0 when the kill ratio (killed / (total - equivalent)) reaches the threshold and
no equivalence entry is stale, 1 otherwise.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from assessor.catalog import load_catalog
from assessor.catalog.schema import UNARY_OPS, FunctionCheck, Op, Rule
from assessor.evaluate import evaluate_rule
from assessor.evaluate.paths import MISSING, parse_path, resolve
from assessor.evidence import Evidence

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "rules"
EQUIVALENTS = ROOT / "tests" / "mutation" / "equivalent-conditions.txt"
STATUSES = ("pass", "fail", "not_applicable", "error")

# Each operator's opposite first, then its neighbours (an off-by-one of a comparison).
OP_MUTANTS: dict[str, tuple[str, ...]] = {
    "eq": ("ne",),
    "ne": ("eq",),
    "in": ("not_in",),
    "not_in": ("in",),
    "contains": ("not_contains",),
    "not_contains": ("contains",),
    "regex": ("not_regex",),
    "not_regex": ("regex",),
    "lt": ("ge", "le"),
    "le": ("gt", "lt"),
    "gt": ("le", "ge"),
    "ge": ("lt", "gt"),
    "present": ("absent",),
    "absent": ("present",),
    "empty": ("not_empty",),
    "not_empty": ("empty",),
    "mode_at_most": (),  # its value is mutated instead (one bit wider, one bit narrower)
    "owner_is": (),  # its value is mutated instead (user or group altered)
}
assert set(OP_MUTANTS) == {op.value for op in Op}, "an operator has no mutation"


@dataclass(frozen=True, slots=True)
class Mutant:
    site: str  # "check" or "applies_if" followed by the node's path, e.g. check.all[1]
    change: str  # what was changed, e.g. "op eq->ne"
    tree: Any  # the mutated condition tree (a plain dict)

    @property
    def id(self) -> str:
        return f"{self.site}:{self.change}"


@dataclass(slots=True)
class RuleReport:
    rule: str
    fixtures: int
    total: int = 0
    killed: int = 0
    equivalent: list[str] = field(default_factory=list)
    survivors: list[str] = field(default_factory=list)
    invalid: int = 0


def _expected(path: Path) -> str:
    return next(s for s in STATUSES if path.name.startswith(s + "-"))


def _short(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _drop_alternatives(pattern: str) -> Iterator[tuple[int, str]]:
    """Each top-level alternative of a regex dropped in turn (``a|b|c`` -> ``b|c``, ``a|c``...).

    Alternatives inside the outermost group are also split when the whole pattern is
    ``prefix(a|b)suffix`` with one group holding the alternation."""
    depth, start, cls = 0, 0, False
    spans: list[tuple[int, int]] = []
    group_start = -1
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if cls:
            cls = ch != "]"
        elif ch == "[":
            cls = True
        elif ch == "(":
            if depth == 0 and not spans:
                group_start = i
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            spans.append((start, i))
            start = i + 1
        i += 1
    if spans:
        spans.append((start, len(pattern)))
        parts = [pattern[a:b] for a, b in spans]
        for k in range(len(parts)):
            yield k, "|".join(p for j, p in enumerate(parts) if j != k)
        return
    if group_start < 0:
        return
    # one outer group: split the alternation inside it
    inner_open = pattern.index("(", group_start)
    body_start = inner_open + 1
    if pattern.startswith("?:", body_start):
        body_start += 2
    depth, start, i, cls = 0, body_start, body_start, False
    inner: list[tuple[int, int]] = []
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if cls:
            cls = ch != "]"
        elif ch == "[":
            cls = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            if depth == 0:
                inner.append((start, i))
                break
            depth -= 1
        elif ch == "|" and depth == 0:
            inner.append((start, i))
            start = i + 1
        i += 1
    if len(inner) < 2:
        return
    head, tail = pattern[: inner[0][0]], pattern[inner[-1][1] :]
    parts = [pattern[a:b] for a, b in inner]
    for k in range(len(parts)):
        yield k, head + "|".join(p for j, p in enumerate(parts) if j != k) + tail


def _mode_mutants(mode: str) -> Iterator[tuple[str, str]]:
    """One bit wider (the lowest permission bit not granted) and one narrower (the lowest
    granted), keeping the value's width (``0644`` -> ``0645``, ``0640``)."""
    bits = int(mode, 8)
    width = len(mode)
    unset = next((b for b in range(9) if not bits & (1 << b)), None)
    granted = next((b for b in range(9) if bits & (1 << b)), None)
    if unset is not None:
        yield "wider", format(bits | (1 << unset), "o").zfill(width)
    if granted is not None:
        yield "narrower", format(bits & ~(1 << granted), "o").zfill(width)


def _alter_string(s: str) -> str:
    return s + "x" if s else "x"


def _value_mutants(op: str, value: Any, seen: list[Any]) -> Iterator[tuple[str, Any]]:
    """(change, new value) for a leaf's ``value``; ``seen`` holds the values the fixtures
    give the leaf's evidence path (a list's added element is taken from them)."""
    if isinstance(value, bool):
        yield "value flip", not value
    elif isinstance(value, int | float):
        yield "value +1", value + 1
        yield "value -1", value - 1
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield f"value drop[{i}]={_short(item)}", value[:i] + value[i + 1 :]
        added: list[Any] = []
        for actual in seen:
            for candidate in actual if isinstance(actual, list) else [actual]:
                if candidate not in value and candidate not in added:
                    added.append(candidate)
        for candidate in added[:3]:
            yield f"value add={_short(candidate)}", [*value, candidate]
    elif isinstance(value, str):
        if op == "mode_at_most":
            for what, mode in _mode_mutants(value):
                yield f"value {what} {mode}", mode
        elif op == "owner_is":
            user, _, group = value.partition(":")
            yield "value user altered", f"{_alter_string(user)}:{group}"
            yield "value group altered", f"{user}:{_alter_string(group)}"
        elif op in ("regex", "not_regex"):
            for k, pattern in _drop_alternatives(value):
                yield f"value drop alternative {k}", pattern
            yield "value altered", _alter_string(value)
        else:
            yield "value altered", _alter_string(value)
            if value:
                yield "value emptied", ""


def _default_mutants(default: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(default, bool):
        yield "default flip", not default
    elif isinstance(default, int | float):
        yield "default +1", default + 1
        yield "default -1", default - 1
    elif isinstance(default, str):
        yield "default altered", _alter_string(default)
    elif isinstance(default, list):
        if default:
            yield "default emptied", []
    elif default is None:
        pass


def _mutate(node: Any, site: str, seen: dict[str, list[Any]]) -> Iterator[tuple[str, str, Any]]:
    """(site, change, replacement node) for every mutation of ``node`` and its children."""
    if "all" in node or "any" in node:
        kind = "all" if "all" in node else "any"
        other = "any" if kind == "all" else "all"
        children = node[kind]
        if len(children) > 1:
            yield site, f"{kind}->{other}", {other: children}
            for i in range(len(children)):
                rest = children[:i] + children[i + 1 :]
                yield site, f"drop {kind}[{i}]", {kind: rest}
        for i, child in enumerate(children):
            for s, change, new in _mutate(child, f"{site}.{kind}[{i}]", seen):
                yield s, change, {kind: [*children[:i], new, *children[i + 1 :]]}
        return
    if "not" in node:
        yield site, "drop not", node["not"]
        for s, change, new in _mutate(node["not"], f"{site}.not", seen):
            yield s, change, {"not": new}
        return
    op = node["op"]
    for new_op in OP_MUTANTS[op]:
        leaf = dict(node)
        leaf["op"] = new_op
        if Op(new_op) in UNARY_OPS:
            leaf.pop("value", None)
        yield site, f"op {op}->{new_op}", leaf
    if "value" in node:
        for change, value in _value_mutants(op, node["value"], seen.get(node["evidence"], [])):
            yield site, change, {**node, "value": value}
    if "default" in node:
        rest = {k: v for k, v in node.items() if k != "default"}
        yield site, "default dropped", rest
        for change, value in _default_mutants(node["default"]):
            yield site, change, {**node, "default": value}


def _leaves(node: Any) -> Iterator[dict[str, Any]]:
    for kind in ("all", "any"):
        if kind in node:
            for child in node[kind]:
                yield from _leaves(child)
            return
    if "not" in node:
        yield from _leaves(node["not"])
        return
    yield node


def mutants(rule: Rule, docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(mutant id, the mutated rule as a dict) for every condition mutant of ``rule``."""
    base = rule.model_dump(by_alias=True, exclude_unset=True, mode="json")
    for key in ("check", "applies_if"):
        tree = base.get(key)
        if tree is None or "function" in tree:
            continue
        seen: dict[str, list[Any]] = {}
        for leaf in _leaves(tree):
            path = leaf["evidence"]
            values = seen.setdefault(path, [])
            for doc in docs:
                found = resolve(doc.get("data"), parse_path(path))
                if found is not MISSING and found not in values:
                    values.append(found)
        for site, change, new in _mutate(tree, key, seen):
            mutated = copy.deepcopy(base)
            mutated[key] = new
            yield f"{site}:{change}", mutated


def load_equivalents(path: Path = EQUIVALENTS) -> dict[tuple[str, str], str]:
    """``{(rule id, mutant id): reason}`` from the equivalence list."""
    found: dict[tuple[str, str], str] = {}
    if not path.exists():
        return found
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or not parts[2].strip():
            raise SystemExit(f"{path}:{n}: expected '<rule-id>\\t<mutant-id>\\t<reason>'")
        found[(parts[0].strip(), parts[1].strip())] = parts[2].strip()
    return found


def _glob(pattern: str) -> re.Pattern[str]:
    """``*`` matches anything; every other character (brackets too) only itself."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def _listed(
    equivalents: dict[tuple[str, str], str], rule_id: str, mutant_id: str
) -> tuple[str, str] | None:
    """The equivalence entry naming this mutant: its id, or a glob (``*``) matching it."""
    if (rule_id, mutant_id) in equivalents:
        return (rule_id, mutant_id)
    return next(
        (
            key
            for key in equivalents
            if key[0] == rule_id and "*" in key[1] and _glob(key[1]).fullmatch(mutant_id)
        ),
        None,
    )


def _status(rule: Rule, ev: Evidence) -> str:
    return evaluate_rule(rule, ev).status.value


def run(
    rule_ids: list[str] | None = None,
    equivalents: dict[tuple[str, str], str] | None = None,
) -> tuple[list[RuleReport], list[str]]:
    """Mutate every condition rule (or those named); returns the reports and the problems
    (a fixture the unmutated rule gets wrong, a stale equivalence entry)."""
    catalog = load_catalog()
    equivalents = load_equivalents() if equivalents is None else equivalents
    problems: list[str] = []
    reports: list[RuleReport] = []
    matched: set[tuple[str, str]] = set()
    for rule in catalog.rules.values():
        if rule_ids and rule.id not in rule_ids:
            continue
        if rule.check is None or (
            isinstance(rule.check, FunctionCheck) and rule.applies_if is None
        ):
            continue
        paths = sorted((FIXTURES / rule.id).glob("*.json"))
        docs = [json.loads(p.read_text()) for p in paths]
        cases = [
            (p.name, _expected(p), Evidence.from_document(d))
            for p, d in zip(paths, docs, strict=True)
        ]
        for name, want, ev in cases:
            got = _status(rule, ev)
            if got != want:
                problems.append(f"{rule.id}/{name}: the rule itself gives {got}, expected {want}")
        report = RuleReport(rule.id, len(cases))
        for mutant_id, data in mutants(rule, docs):
            try:
                mutant = Rule.model_validate(data)
            except ValidationError:
                report.invalid += 1  # e.g. an `in` whose list lost its only element
                continue
            report.total += 1
            listed = _listed(equivalents, rule.id, mutant_id)
            if listed is not None:
                matched.add(listed)
            if any(_status(mutant, ev) != want for _, want, ev in cases):
                report.killed += 1
                if listed is not None:
                    problems.append(
                        f"stale equivalence: {rule.id} {mutant_id} is killed by the fixtures"
                    )
            elif listed is not None:
                report.equivalent.append(mutant_id)
            else:
                report.survivors.append(mutant_id)
        reports.append(report)
    problems.extend(
        f"stale equivalence: {key[0]} {key[1]} is no mutant"
        for key in equivalents
        if key not in matched and (not rule_ids or key[0] in rule_ids)
    )
    return reports, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threshold", type=float, default=99.0, help="percent to reach")
    parser.add_argument("--rule", action="append", help="only this rule (repeatable)")
    parser.add_argument("--list", action="store_true", help="print every rule's figures")
    args = parser.parse_args(argv)
    started = time.monotonic()
    reports, problems = run(args.rule)
    total = sum(r.total for r in reports)
    killed = sum(r.killed for r in reports)
    equivalent = sum(len(r.equivalent) for r in reports)
    survived = sum(len(r.survivors) for r in reports)
    for r in reports:
        if args.list or r.survivors:
            print(
                f"{r.rule}: {r.killed}/{r.total} killed, {len(r.equivalent)} equivalent, "
                f"{len(r.survivors)} survived ({r.fixtures} fixtures)"
            )
        for s in r.survivors:
            print(f"  survived {r.rule}\t{s}")
    for p in problems:
        print(f"problem: {p}")
    judged = total - equivalent
    ratio = 100.0 * killed / judged if judged else 100.0
    print(
        f"condition mutants: {total} in {len(reports)} rules, {killed} killed, "
        f"{equivalent} equivalent, {survived} survived; kill ratio {ratio:.2f}% "
        f"(threshold {args.threshold:g}%), {time.monotonic() - started:.1f} s"
    )
    return 0 if ratio >= args.threshold and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
