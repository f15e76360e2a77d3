"""A not-applicable result says why in plain words: the condition that made the rule not apply,
and the value the evidence holds, never the evidence path (``files["/etc/docker"].exists is
false`` read like code to an auditor).

Every built-in ``applies_if`` leaf that can decide "not applicable" carries a ``message``; an
organisation's rule without one still gets a readable generated reason, and ``assessor controls
validate`` warns about it. The reasons are checked on real evidence: every rule with an
``applies_if`` is evaluated on every fixture document of its kind in tests/rules (captured
states and validated projections of them), not only on its own.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from assessor.catalog import load_catalog
from assessor.catalog.loader import Catalog, unexplained_not_applicable
from assessor.catalog.schema import Leaf, Op, Rule, deciding_leaves
from assessor.evaluate import evaluate_rule
from assessor.evaluate.engine import compile_rule
from assessor.evidence import Evidence
from assessor.vocab import Status

RULES = Path(__file__).resolve().parent.parent / "rules"


@functools.cache
def _catalog() -> Catalog:
    return load_catalog()


@functools.cache
def _documents() -> dict[str, list[tuple[str, dict[str, Any]]]]:
    by_kind: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for path in sorted(RULES.glob("*/*.json")):
        doc = json.loads(path.read_text())
        by_kind[doc["kind"]].append((f"{path.parent.name}/{path.name}", doc))
    return by_kind


def _rules_with_applies_if() -> list[Rule]:
    return sorted(
        (r for r in _catalog().rules.values() if r.applies_if is not None), key=lambda r: r.id
    )


def _not_applicable(rule: Rule) -> list[tuple[str, Any, str]]:
    """(fixture, the deciding value, message) of each document on which ``applies_if`` fails."""
    compiled = compile_rule(rule)
    assert compiled.applies is not None
    found = []
    for name, doc in _documents()[rule.target.value]:
        ev = Evidence.from_document(doc)
        if "collection_error" in ev.data:
            continue
        try:
            applies, ctx = compiled.applies(ev.data)
        except Exception:  # evidence of another shape (an error result): not this test's case
            continue
        if applies:
            continue
        result = evaluate_rule(rule, ev)
        assert result.status is Status.NOT_APPLICABLE, (name, result)
        assert ctx is not None
        found.append((name, ctx[1], result.message))
    return found


# evidence-path syntax an auditor must never read in a reason
CODE = re.compile(r'\["|\]\.|\.exists\b|\bis absent\b|\{[^{}\s]*\}|^not applicable:')


def test_every_builtin_applies_if_leaf_has_a_reason() -> None:
    rules = _rules_with_applies_if()
    assert len(rules) >= 36  # the built-in catalog had 36 such rules when this was written
    missing = {r.id: unexplained_not_applicable(r) for r in rules if unexplained_not_applicable(r)}
    assert not missing
    assert not [w for w in _catalog().warnings if "has no 'message'" in w]


@pytest.mark.parametrize("rule", _rules_with_applies_if(), ids=lambda r: r.id)
def test_not_applicable_in_plain_words_on_real_evidence(rule: Rule) -> None:
    cases = _not_applicable(rule)
    # every built-in rule with applies_if is not applicable on some recorded state
    assert cases, f"no fixture of kind {rule.target.value} makes {rule.id} not applicable"
    assert rule.applies_if is not None
    paths = {leaf.evidence for _, leaf in deciding_leaves(rule.applies_if)}
    paths |= set(rule.evidence)
    for name, value, message in cases:
        assert message, name
        assert not CODE.search(message), (name, message)
        assert not [p for p in paths if "." in p and p in message], (name, message)
        assert not [p for p in paths if re.search(rf"\b{re.escape(p)} is\b", message)], message
        # the value the evidence holds is named (a true/false or nothing reads as words)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            assert str(value) in message, (name, value, message)
        if isinstance(value, list):
            assert all(str(v) in message for v in value), (name, value, message)


def test_reason_names_the_deciding_condition() -> None:
    """Of two conditions, the reason is the one that failed (the value changes the words)."""
    rule = _catalog().rules["engine-base-device-size-unchanged"]
    messages = {m for _, _, m in _not_applicable(rule)}
    assert any("storage driver is overlay2" in m and "devicemapper" in m for m in messages)
    assert any(m.startswith("the engine is podman") for m in messages)


def _rule(applies_if: dict[str, Any], evidence: list[str]) -> Rule:
    return Rule.model_validate(
        {
            "id": "org-rule",
            "title": "t",
            "description": "d",
            "rationale": "r",
            "severity": "low",
            "target": "engine",
            "evidence": evidence,
            "applies_if": applies_if,
            "check": {"evidence": evidence[0], "op": "present"},
        }
    )


def _judge(rule: Rule, data: dict[str, Any]) -> tuple[str, str]:
    result = evaluate_rule(rule, Evidence("engine", "engine:x", "e1", data))
    return result.status.value, result.message


def test_organisation_rule_without_message_gets_a_generated_reason() -> None:
    rule = _rule({"evidence": "product", "op": "eq", "value": "docker"}, ["product"])
    assert _judge(rule, {"product": "podman"}) == (
        "not_applicable",
        "the rule applies only where product is docker; here it is podman",
    )
    # under a `not` the deciding leaf is one that held: the rule needed the opposite
    rule = _rule(
        {"not": {"evidence": "swarm.units", "op": "contains", "value": "x"}}, ["swarm.units"]
    )
    assert _judge(rule, {"swarm": {"units": ["x", "y"]}}) == (
        "not_applicable",
        "the rule applies only where swarm.units does not contain x; here it is x, y",
    )
    rule = _rule({"evidence": "info.Name", "op": "not_empty"}, ["info.Name"])
    assert _judge(rule, {"info": {"Name": ""}})[1] == (
        "the rule applies only where info.Name is not empty; here it is empty"
    )
    rule = _rule({"not": {"evidence": "opts.tls", "op": "absent"}}, ["opts.tls"])
    assert _judge(rule, {"opts": {}}) == (
        "not_applicable",
        "the rule applies only where opts.tls is set; here it is not set",
    )


def test_message_template_fills_value_and_evidence() -> None:
    rule = _rule(
        {
            "evidence": "info.SecurityOptions",
            "op": "contains",
            "value": "apparmor",
            "message": "{resource}: no AppArmor ({value}; engine {product}; needs {expected})",
        },
        ["info.SecurityOptions", "product"],
    )
    data: dict[str, Any] = {
        "info": {"SecurityOptions": ["seccomp", "cgroupns"]},
        "product": "docker",
    }
    assert _judge(rule, data) == (
        "not_applicable",
        "e1: no AppArmor (seccomp, cgroupns; engine docker; needs apparmor)",
    )
    assert (
        _judge(rule, {**data, "info": {"SecurityOptions": []}})[1]
        == "e1: no AppArmor (none; engine docker; needs apparmor)"
    )


def test_controls_validate_warns_about_a_rule_without_reason(tmp_path: Path) -> None:
    folder = tmp_path / "org" / "rules" / "engine"
    folder.mkdir(parents=True)
    (folder / "org-swarm-only.yaml").write_text(
        "id: org-swarm-only\ntitle: t\ndescription: d\nrationale: r\nseverity: low\n"
        "target: engine\nevidence: [swarm.active, swarm.manager]\n"
        "applies_if:\n  all:\n  - {evidence: swarm.active, op: eq, value: true,\n"
        "     message: swarm mode is not active}\n"
        "  - {evidence: swarm.manager, op: eq, value: true}\n"
        "check: {evidence: swarm.manager, op: present}\n"
    )
    cat = load_catalog([tmp_path / "org"])
    warned = [w for w in cat.warnings if "org-swarm-only" in w and "'message'" in w]
    assert len(warned) == 1
    assert "applies_if.all[1]" in warned[0] and "org-swarm-only.yaml" in warned[0]
    assert "applies_if.all[0]" not in warned[0]


# --- which leaves need a reason: exactly those the evaluator can report ------------------------

TREES: list[dict[str, Any]] = [
    {"all": [{"not": "a"}, {"any": ["b", "c"]}]},
    {"any": [{"all": ["a", "b"]}, {"not": {"any": ["c", "d"]}}]},
    {"not": {"all": ["a", {"any": ["b", {"not": "c"}]}]}},
    {"any": ["a", "b", {"all": ["c", "d"]}]},
]


def _tree(node: Any) -> Any:
    if isinstance(node, str):
        return {"evidence": f"v.{node}", "op": "eq", "value": True}
    if "not" in node:
        return {"not": _tree(node["not"])}
    kind = "all" if "all" in node else "any"
    return {kind: [_tree(c) for c in node[kind]]}


def _names(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if "not" in node:
        return _names(node["not"])
    return [n for c in node["all" if "all" in node else "any"] for n in _names(c)]


@pytest.mark.parametrize("tree", TREES, ids=str)
def test_deciding_leaves_are_exactly_the_reported_ones(tree: dict[str, Any]) -> None:
    """Over every combination of leaf values, the leaf the evaluator reports for "not
    applicable" is one of ``deciding_leaves``, and each of those is reported for some state:
    the built-in completeness test asks for no reason that can never be shown, and misses none.
    """
    names = _names(tree)
    rule = _rule(_tree(tree), [f"v.{n}" for n in names])
    compiled = compile_rule(rule)
    assert compiled.applies is not None and rule.applies_if is not None
    declared = {leaf.evidence for _, leaf in deciding_leaves(rule.applies_if)}
    reported = set()
    for values in itertools.product([True, False], repeat=len(names)):
        applies, ctx = compiled.applies({"v": dict(zip(names, values, strict=True))})
        if not applies:
            assert ctx is not None
            reported.add(ctx[0])
    assert reported == declared


def test_deciding_leaves_name_their_place() -> None:
    rule = _rule(_tree({"all": [{"not": "a"}, {"any": ["b", "c"]}]}), ["v.a", "v.b", "v.c"])
    assert rule.applies_if is not None
    places = [(p, leaf.evidence) for p, leaf in deciding_leaves(rule.applies_if)]
    assert places == [("all[0].not", "v.a"), ("all[1].any[0]", "v.b")]
    leaf = Leaf(evidence="x", op=Op.PRESENT)
    assert deciding_leaves(leaf) == [("", leaf)]
