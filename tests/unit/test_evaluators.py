"""The registered evaluation functions, one behaviour at a time: status AND message.

These tests kill the mutants ``make mutation`` (mutmut) makes of assessor/evaluate/*.py that
the golden fixtures alone let through. Each starts from a golden fixture's evidence (a state the
collector produced) and changes the one field under test, then asserts the status and the words
of the message that name the offending value.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from assessor.errors import EvaluationError
from assessor.evaluate.functions import FUNCTIONS, Outcome

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
