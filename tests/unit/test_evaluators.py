"""The registered evaluation functions, one behaviour at a time: status AND message.

These tests kill the mutants ``make mutation`` (mutmut) makes of assessor/evaluate/*.py that
the golden fixtures alone let through. Each starts from a golden fixture's evidence (a state the
collector produced) and changes the one field under test, then asserts the status and the words
of the message that name the offending value.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import pytest

from assessor.catalog import Catalog, load_catalog
from assessor.catalog.schema import FunctionCheck
from assessor.errors import EvaluationError
from assessor.evaluate import evaluate_rule
from assessor.evaluate.functions import FUNCTIONS, Outcome
from assessor.evidence import Evidence

RULES = Path(__file__).resolve().parent.parent / "rules"


def fixture(rule: str, name: str) -> dict[str, Any]:
    """A golden fixture's evidence data (a fresh copy each call)."""
    doc = json.loads((RULES / rule / name).read_text())
    return copy.deepcopy(doc["data"])


def run(function: str, data: Any, **args: Any) -> Outcome:
    return FUNCTIONS[function](data, args)


# --- openscap_rule_result -------------------------------------------------------------------

OSCAP = "host-os-baseline-scan"


def oscap(result: str, **changes: Any) -> dict[str, Any]:
    data = fixture(OSCAP, "pass-fixed-by-remediation.json")
    data["result"] = result
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("result", "status", "explained"),
    [
        ("pass", "pass", None),
        ("fixed", "pass", "fixed by OpenSCAP's remediation during the scan"),
        ("informational", "pass", "informational only"),
        ("fail", "fail", None),
        ("error", "error", "OpenSCAP could not evaluate the rule"),
        ("unknown", "error", "OpenSCAP could not tell the result"),
        ("notapplicable", "not_applicable", "the rule does not apply to this platform"),
        ("notchecked", "manual", "OpenSCAP has no automated check for it: verify by hand"),
    ],
)
def test_openscap_each_xccdf_result(result: str, status: str, explained: str | None) -> None:
    out = run("openscap_rule_result", oscap(result))
    assert out.status == status
    head = f"Disable storing core dumps: {result}, severity medium, profile Example Base Profile"
    assert out.message == (head + f" ({explained})" if explained else head)
    assert out.severity == "medium"


def test_openscap_not_a_result_value_is_an_error_naming_it() -> None:
    out = run("openscap_rule_result", oscap("bogus"))
    assert out.status == "error"
    assert out.message.endswith(
        ": bogus, severity medium, profile Example Base Profile: not an XCCDF result value"
    )
    assert out.severity is None


def test_openscap_empty_result_says_so() -> None:
    out = run("openscap_rule_result", oscap(""))
    assert out.status == "error"
    assert ": (no result), severity" in out.message


@pytest.mark.parametrize("data", [None, [], {"rule": "x"}])
def test_openscap_without_a_result_raises(data: Any) -> None:
    with pytest.raises(EvaluationError, match="evidence 'result' is absent"):
        run("openscap_rule_result", data)


def test_openscap_names_title_idents_rule_and_profile() -> None:
    data = oscap("fail", idents=[{"value": "CCE-1"}, {"value": ""}, "x", {"value": "CCE-2"}])
    assert run("openscap_rule_result", data).message.startswith(
        "Disable storing core dumps (CCE-1, CCE-2): fail"
    )
    data = oscap("fail", title="", idents=None)
    assert run("openscap_rule_result", data).message.startswith(
        "xccdf_org.example_rule_coredump_disable_storage: fail"
    )
    data = oscap("fail", title=None, rule=None)
    assert run("openscap_rule_result", data).message.startswith("?: fail")
    data = oscap("fail", profile={"id": "p-id", "title": ""})
    assert run("openscap_rule_result", data).message.endswith("profile p-id")
    data = oscap("fail", profile={"id": None})
    assert run("openscap_rule_result", data).message.endswith("profile (default profile)")
    data = oscap("fail", profile="not a mapping")
    assert run("openscap_rule_result", data).message.endswith("profile (default profile)")


@pytest.mark.parametrize(
    ("severity", "ours"),
    [("high", "high"), ("medium", "medium"), ("low", "low"), ("info", "info"), ("unknown", None)],
)
def test_openscap_severity_is_mapped(severity: str, ours: str | None) -> None:
    out = run("openscap_rule_result", oscap("fail", severity=severity))
    assert out.severity == ours
    assert f"severity {severity}," in out.message


# --- every function rule's golden fixtures: the whole message, not only the status -----------
#
# The golden test checks each fixture's status; this checks the message and severity too, against
# tests/unit/evaluator_messages.json (reviewed text: what an auditor reads for that state). A
# changed message is a reviewed change: re-record with
#   .venv/bin/python tests/unit/test_evaluators.py --record
# and read the diff of evaluator_messages.json before committing it.

MESSAGES = Path(__file__).with_name("evaluator_messages.json")


@functools.cache
def _catalog() -> Catalog:
    return load_catalog()


def _function_fixtures() -> list[tuple[str, Path]]:
    catalog = _catalog()
    cases = []
    for rule in sorted(catalog.rules.values(), key=lambda r: r.id):
        if isinstance(rule.check, FunctionCheck):
            cases.extend((rule.id, p) for p in sorted((RULES / rule.id).glob("*.json")))
    return cases


def _judge(rule_id: str, path: Path) -> dict[str, Any]:
    rule = _catalog().rules[rule_id]
    result = evaluate_rule(rule, Evidence.from_document(json.loads(path.read_text())))
    return {"status": result.status.value, "message": result.message, "severity": result.severity}


def _record() -> None:
    recorded = {f"{r}/{p.name}": _judge(r, p) for r, p in _function_fixtures()}
    MESSAGES.write_text(json.dumps(recorded, indent=1, ensure_ascii=False) + "\n")
    print(f"recorded {len(recorded)} messages in {MESSAGES}")


@pytest.mark.parametrize(
    ("rule_id", "path"), _function_fixtures(), ids=lambda v: getattr(v, "name", v)
)
def test_function_rule_message(rule_id: str, path: Path) -> None:
    recorded = json.loads(MESSAGES.read_text())
    key = f"{rule_id}/{path.name}"
    assert key in recorded, f"{key}: no recorded message (see the comment above this test)"
    assert _judge(rule_id, path) == recorded[key]


def test_recorded_messages_name_existing_fixtures() -> None:
    recorded = json.loads(MESSAGES.read_text())
    cases = {f"{r}/{p.name}" for r, p in _function_fixtures()}
    assert sorted(set(recorded) - cases) == []


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--record"]:
        _record()
    else:
        sys.exit("usage: python tests/unit/test_evaluators.py --record")
