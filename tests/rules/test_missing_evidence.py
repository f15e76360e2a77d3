"""No rule passes on missing evidence.

For every rule and each of its golden fixtures (tests/rules/<rule-id>/*.json), each evidence
path the rule declares under ``evidence:`` is removed from the document's ``data``, one at a
time and all at once, in two ways: the leaf key only (``HostConfig.Privileged`` loses
``Privileged``) and the whole top-level key (``HostConfig``). Each rule is also evaluated on a
document whose ``data`` is ``{}``. The evaluation is the real one (``evaluate``, as a scan
runs it).

The rule of the walk, as strict as the truth allows:

- ``pass`` is never allowed: a rule that could not read what it needs did not observe
  compliance.
- ``error`` and ``manual`` are always allowed: they say "not judged".
- ``fail`` and ``not_applicable`` are allowed only when the unmodified fixture gave the same
  status and the verdict is still decided by what is present: for a condition tree, the
  leaf that decided it reads a path still in the document; for a Python evaluator, the
  message is the same (a removed path's placeholder may show unfilled). Then the verdict was
  decided by a
  key that is still present: a failing value another clause read (an ``all`` stops at its
  first failing clause), or the applicability of the rule (``applies_if`` on ``product``, a
  swarm's state, auditd not installed), which removing an unrelated key must not change. A
  *new* fail or not_applicable produced by the removal is a verdict made up from nothing.
- One deliberate exception: a leaf with the ``absent`` operator, or with a ``default``, says
  in the rule that the key missing *is* an observed state (``State.Health`` missing: the
  container has no health check; ``systemd.units["docker.service"]`` missing: the unit is
  not installed; ``daemon.effective.hosts`` missing: dockerd listens on its default socket
  only). Removing exactly that key (or what lies inside it) may give a new ``fail`` or
  ``not_applicable``; removing the mapping that holds it must still give ``error``. Each such
  leaf must have a fixture in which a real collector's document lacks the key
  (``test_meant_absences_are_real``).
- With ``data: {}`` nothing is present, so only ``error`` or ``manual`` is allowed.

A second test checks that the ``evidence:`` list of every condition-tree rule is exactly the
set of paths its conditions read (``applies_if`` and ``check``), so the walk above removes
everything the rule reads and nothing it does not.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assessor.catalog import load_catalog
from assessor.catalog.schema import FunctionCheck, Op, Rule
from assessor.evaluate import engine
from assessor.evaluate.paths import MISSING, parse_path, resolve
from assessor.evidence import Evidence

HERE = Path(__file__).parent
CATALOG = load_catalog()
NOT_JUDGED = {"error", "manual"}


def _fixtures() -> list[tuple[str, Path]]:
    cases = []
    for folder in sorted(p for p in HERE.iterdir() if p.is_dir() and not p.name.startswith("_")):
        if folder.name in CATALOG.rules:
            cases.extend((folder.name, f) for f in sorted(folder.glob("*.json")))
    return cases


def _judge(rule: Rule, doc: dict[str, Any]) -> tuple[str, str]:
    ev = Evidence.from_document(doc)
    results = engine.evaluate(CATALOG, [ev], {ev.target: [ev.kind]}, rule_ids=[rule.id])
    assert len(results) == 1, results
    return results[0].status.value, results[0].message


def _remove(data: dict[str, Any], parts: tuple[str | int, ...]) -> bool:
    """Delete the key (or list item) at ``parts``; False when it was not there."""
    node: Any = data
    for part in parts[:-1]:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            node = node[part]
        else:
            return False
    last = parts[-1]
    if isinstance(node, dict) and last in node:
        del node[last]
        return True
    if isinstance(node, list) and isinstance(last, int) and last < len(node):
        del node[last]
        return True
    return False


def _removals(rule: Rule) -> Iterator[tuple[str, list[tuple[str | int, ...]]]]:
    paths = [parse_path(p) for p in rule.evidence]
    for path, parts in zip(rule.evidence, paths, strict=True):
        yield f"{path} (leaf)", [parts]
        if len(parts) > 1:
            yield f"{path} (top-level {parts[0]!r})", [parts[:1]]
    yield "every declared path", paths
    yield "every declared top-level key", [p[:1] for p in paths]


def _absent_paths(rule: Rule) -> set[str]:
    """Paths whose absence the rule gives a meaning: ``op: absent`` or a ``default``."""
    trees = [rule.applies_if, None if isinstance(rule.check, FunctionCheck) else rule.check]
    return {
        leaf.evidence
        for tree in trees
        for leaf in engine._leaves(tree)
        if leaf.op is Op.ABSENT or leaf.has_default
    }


def _decided_by_present_key(rule: Rule, data: dict[str, Any], status: str) -> bool:
    """For a condition tree: the leaf that decided a fail or not_applicable is in ``data``."""
    if isinstance(rule.check, FunctionCheck) or rule.check is None:
        return False
    compiled = engine.compile_rule(rule)
    tree = compiled.applies if status == "not_applicable" else compiled.check
    assert tree is not None
    ok, ctx = tree(data)
    assert not ok
    return ctx is not None and resolve(data, parse_path(ctx[0])) is not MISSING


def _same(mutated: tuple[str, str], original: tuple[str, str], removed: list[str]) -> bool:
    if mutated[0] != original[0]:
        return False
    pattern = re.escape(mutated[1])
    for path in removed:
        pattern = pattern.replace(re.escape("{" + path + "}"), ".*")
    return re.fullmatch(pattern, original[1], re.S) is not None


def _violations(rule: Rule, path: Path) -> list[str]:
    doc = json.loads(path.read_text())
    original = _judge(rule, copy.deepcopy(doc))
    meant = [parse_path(p) for p in _absent_paths(rule)]
    found = []
    for label, removals in _removals(rule):
        mutated = copy.deepcopy(doc)
        removed = [parts for parts in removals if _remove(mutated["data"], parts)]
        if not removed:
            continue  # the fixture never had it: nothing to remove, the original result stands
        status, message = _judge(rule, mutated)
        if status in NOT_JUDGED:
            continue
        if status in ("fail", "not_applicable"):
            if status == original[0] and _decided_by_present_key(rule, mutated["data"], status):
                continue
            if _same((status, message), original, [engine.path_text(p) for p in removed]):
                continue
            if all(any(p[: len(m)] == m for m in meant) for p in removed):
                continue  # only keys whose absence the rule gives a meaning were removed
        found.append(f"{path.name}: without {label}: {status}: {message}")
    return found


@pytest.mark.parametrize(("rule_id", "path"), _fixtures(), ids=lambda v: getattr(v, "name", v))
def test_no_verdict_without_evidence(rule_id: str, path: Path) -> None:
    found = _violations(CATALOG.rules[rule_id], path)
    assert not found, f"{rule_id}:\n" + "\n".join(found)


@pytest.mark.parametrize("rule_id", sorted(CATALOG.rules))
def test_empty_evidence_is_not_judged(rule_id: str) -> None:
    rule = CATALOG.rules[rule_id]
    doc = {"kind": rule.target.value, "target": "t", "resource": "r", "data": {}}
    status, message = _judge(rule, doc)
    assert status in NOT_JUDGED, f"{rule_id} on empty evidence: {status}: {message}"
    if status == "error":
        assert "absent" in message or "not assessed" in message, message


@pytest.mark.parametrize(
    "rule_id",
    sorted(
        r.id
        for r in CATALOG.rules.values()
        if r.check is not None and not isinstance(r.check, FunctionCheck)
    ),
)
def test_declared_evidence_is_what_the_condition_reads(rule_id: str) -> None:
    rule = CATALOG.rules[rule_id]
    read = set(engine.condition_paths(rule))
    declared = set(rule.evidence)
    assert declared == read, (
        f"{rule_id}: declared but not read: {sorted(declared - read)}; "
        f"read but not declared: {sorted(read - declared)}"
    )


@pytest.mark.parametrize(
    "rule_id", sorted(r.id for r in CATALOG.rules.values() if _absent_paths(r))
)
def test_meant_absences_are_real(rule_id: str) -> None:
    """An ``absent`` or ``default`` leaf gives a missing key a meaning: a fixture shows it.

    The fixture is a collector's document (captured or validated against its model) whose
    mapping holds other keys but not this one.
    """
    rule = CATALOG.rules[rule_id]
    for path in _absent_paths(rule):
        parts = parse_path(path)
        seen = []
        for fixture in sorted((HERE / rule_id).glob("*.json")):
            data = json.loads(fixture.read_text())["data"]
            parent = resolve(data, parts[:-1]) if len(parts) > 1 else data
            if isinstance(parent, dict) and parent and resolve(data, parts) is MISSING:
                seen.append(fixture.name)
        assert seen, f"{rule_id}: no fixture shows a collector leaving out {path}"


def _tree_rule(check: dict[str, Any], applies_if: dict[str, Any] | None = None) -> Rule:
    body: dict[str, Any] = {
        "id": "container-missing-evidence-probe",
        "title": "t",
        "description": "d",
        "rationale": "r",
        "severity": "high",
        "target": "container",
        "evidence": ["HostConfig.X"],
        "check": check,
    }
    if applies_if is not None:
        body["applies_if"] = applies_if
    return Rule.model_validate(body)


def _status(rule: Rule, data: dict[str, Any]) -> str:
    ev = Evidence(kind="container", target="t", resource="r", data=data)
    return engine.evaluate_rule(rule, ev).status.value


@pytest.mark.parametrize(
    "check",
    [
        {"evidence": "HostConfig.X", "op": "ne", "value": "host"},
        {"evidence": "HostConfig.X", "op": "not_in", "value": ["host"]},
        {"evidence": "HostConfig.X", "op": "not_regex", "value": "^host$"},
        {"evidence": "HostConfig.X", "op": "not_contains", "value": "ALL"},
        {"evidence": "HostConfig.X", "op": "empty"},
        {"not": {"evidence": "HostConfig.X", "op": "present"}},
        {"not": {"evidence": "HostConfig.X", "op": "not_empty"}},
        {"not": {"evidence": "HostConfig.X", "op": "eq", "value": "host"}},
        {
            "any": [
                {"evidence": "HostConfig.Y", "op": "eq", "value": 1},
                {"evidence": "HostConfig.X", "op": "eq", "value": 1},
            ]
        },
        {
            "not": {
                "all": [
                    {"evidence": "HostConfig.Y", "op": "eq", "value": 2},
                    {"evidence": "HostConfig.X", "op": "eq", "value": 1},
                ]
            }
        },
    ],
)
def test_negations_and_unary_operators_do_not_pass_on_a_missing_key(check: dict[str, Any]) -> None:
    assert _status(_tree_rule(check), {"HostConfig": {"Y": 1}}) == "error"


def test_absent_and_default_mean_something_only_inside_a_collected_mapping() -> None:
    absent = _tree_rule({"evidence": "HostConfig.X", "op": "absent"})
    assert _status(absent, {"HostConfig": {"Y": 1}}) == "pass"
    assert _status(absent, {"HostConfig": {"X": None}}) == "pass"
    assert _status(absent, {"HostConfig": {"X": 1}}) == "fail"
    assert _status(absent, {}) == "error"  # HostConfig itself was never collected
    defaulted = _tree_rule({"evidence": "HostConfig.X", "op": "eq", "value": 1, "default": 1})
    assert _status(defaulted, {"HostConfig": {}}) == "pass"
    assert _status(defaulted, {"Other": {}}) == "error"
    ev = Evidence(kind="container", target="t", resource="r", data={"Other": {}})
    assert engine.evaluate_rule(defaulted, ev).message == "evidence 'HostConfig' is absent"


def test_not_applicable_from_a_present_key_stands_without_the_checked_key() -> None:
    rule = _tree_rule(
        {"evidence": "HostConfig.X", "op": "eq", "value": 1},
        applies_if={"evidence": "State.Running", "op": "eq", "value": True},
    )
    assert _status(rule, {"State": {"Running": False}}) == "not_applicable"
    assert _status(rule, {"State": {}}) == "error"
