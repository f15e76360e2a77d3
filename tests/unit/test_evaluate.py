from __future__ import annotations

from typing import Any

import pytest

from assessor.catalog.schema import Rule
from assessor.evaluate import evaluate, evaluate_rule
from assessor.evaluate.paths import MISSING, parse_path, resolve
from assessor.evidence import Evidence
from assessor.vocab import Status


def rule(**over: Any) -> Rule:
    base: dict[str, Any] = {
        "id": "container-test",
        "title": "t",
        "description": "d",
        "rationale": "r",
        "severity": "high",
        "target": "container",
        "evidence": ["HostConfig"],
    }
    base.update(over)
    return Rule.model_validate(base)


def ev(data: dict[str, Any], kind: str = "container") -> Evidence:
    return Evidence(kind, "engine:unix:///x.sock", "web (0123456789ab)", data)


def test_paths() -> None:
    assert parse_path('files["/etc/docker"].mode') == ("files", "/etc/docker", "mode")
    assert parse_path("Mounts[0].Source") == ("Mounts", 0, "Source")
    assert resolve({"a": [{"b": 1}]}, ("a", 0, "b")) == 1
    assert resolve({"a": []}, ("a", 0)) is MISSING
    assert resolve({"a": 1}, ("a", "b")) is MISSING
    with pytest.raises(ValueError, match="invalid evidence path"):
        parse_path("a..b")


def test_leaf_pass_and_fail_with_message() -> None:
    r = rule(
        check={"evidence": "HostConfig.Privileged", "op": "eq", "value": False},
        message="{resource} runs privileged (HostConfig.Privileged={value})",
    )
    assert evaluate_rule(r, ev({"HostConfig": {"Privileged": False}})).status is Status.PASS
    res = evaluate_rule(r, ev({"HostConfig": {"Privileged": True}}))
    assert res.status is Status.FAIL
    assert res.message == "web (0123456789ab) runs privileged (HostConfig.Privileged=true)"


def test_missing_evidence_is_error_not_pass() -> None:
    r = rule(check={"evidence": "HostConfig.Privileged", "op": "eq", "value": False})
    res = evaluate_rule(r, ev({"HostConfig": {}}))
    assert res.status is Status.ERROR
    assert "HostConfig.Privileged" in res.message


def test_default_used_when_absent() -> None:
    r = rule(check={"evidence": "HostConfig.icc", "op": "eq", "value": False, "default": True})
    assert evaluate_rule(r, ev({"HostConfig": {}})).status is Status.FAIL


def test_any_with_missing_branch_is_error_and_all_fails_despite_missing() -> None:
    r_any = rule(
        check={
            "any": [
                {"evidence": "HostConfig.Missing", "op": "eq", "value": 1},
                {"evidence": "HostConfig.Memory", "op": "gt", "value": 0},
            ]
        }
    )
    # no pass on missing evidence: the branch that passed does not excuse the absent one
    assert evaluate_rule(r_any, ev({"HostConfig": {"Memory": 5}})).status is Status.ERROR
    assert evaluate_rule(r_any, ev({"HostConfig": {"Memory": 0}})).status is Status.ERROR
    r_all = rule(
        check={
            "all": [
                {"evidence": "HostConfig.Missing", "op": "eq", "value": 1},
                {"evidence": "HostConfig.Memory", "op": "gt", "value": 0},
            ]
        }
    )
    assert evaluate_rule(r_all, ev({"HostConfig": {"Memory": 0}})).status is Status.FAIL


def test_not_and_applies_if() -> None:
    r = rule(
        applies_if={"evidence": "HostConfig.Kind", "op": "eq", "value": "yes"},
        check={"not": {"evidence": "HostConfig.PidMode", "op": "eq", "value": "host"}},
    )
    assert (
        evaluate_rule(r, ev({"HostConfig": {"Kind": "no", "PidMode": "host"}})).status
        is Status.NOT_APPLICABLE
    )
    assert (
        evaluate_rule(r, ev({"HostConfig": {"Kind": "yes", "PidMode": "host"}})).status
        is Status.FAIL
    )
    assert (
        evaluate_rule(r, ev({"HostConfig": {"Kind": "yes", "PidMode": ""}})).status is Status.PASS
    )


def test_raising_evaluator_gives_error_for_that_resource_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from assessor import extensions
    from assessor.catalog.loader import Catalog
    from assessor.evaluate import functions

    def boom(data: Any, args: Any) -> functions.Outcome:
        if data.get("boom"):
            raise RuntimeError("kaput")
        return functions.Outcome(Status.PASS, "ok")

    # the table names the module; the function has the rule's name there
    monkeypatch.setattr(functions, "test_boom", boom, raising=False)
    monkeypatch.setitem(extensions.FUNCTIONS, "test_boom", "assessor.evaluate.functions")
    r = rule(check={"function": "test_boom"})
    cat = Catalog(rules={r.id: r})
    docs = [
        ev({"boom": True}),
        Evidence("container", "engine:unix:///x.sock", "b", {"boom": False}),
    ]
    results = evaluate(cat, docs, {"engine:unix:///x.sock": {"container"}})
    assert [x.status for x in results] == [Status.ERROR, Status.PASS]
    assert "kaput" in results[0].message


@pytest.mark.parametrize("shown_only", [Status.WAIVED, Status.NOT_ASSESSED])
def test_a_function_cannot_store_a_shown_only_status(
    monkeypatch: pytest.MonkeyPatch, shown_only: Status
) -> None:
    """waived is what the read model shows for a waived fail and not_assessed is a
    requirement's; an evaluation function returning either gives an error, never that status."""
    from assessor import extensions
    from assessor.evaluate import functions

    def leaky(data: Any, args: Any) -> functions.Outcome:
        return functions.Outcome(shown_only, "not mine to say")

    monkeypatch.setattr(functions, "test_leaky", leaky, raising=False)
    monkeypatch.setitem(extensions.FUNCTIONS, "test_leaky", "assessor.evaluate.functions")
    result = evaluate_rule(rule(check={"function": "test_leaky"}), ev({}))
    assert result.status is Status.ERROR
    assert f"{shown_only.value!r} is not a status an evaluation stores" in result.message


def test_no_resource_of_kind_gives_one_not_applicable_and_manual_rules_manual() -> None:
    from assessor.catalog.loader import Catalog

    auto = rule(check={"evidence": "HostConfig.Memory", "op": "gt", "value": 0})
    manual = rule(id="container-manual", manual={"procedure": "look"})
    cat = Catalog(rules={auto.id: auto, manual.id: manual})
    results = evaluate(
        cat, [], {"engine:unix:///x.sock": {"engine", "container"}, "host:/": {"host"}}
    )
    assert [(r.rule, r.status) for r in results] == [
        ("container-test", Status.NOT_APPLICABLE),
        ("container-manual", Status.MANUAL),
    ]
