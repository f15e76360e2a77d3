"""Golden rule fixtures: tests/rules/<rule-id>/<status>-<case>.json hold an evidence document;
the file name's prefix (pass, fail, not_applicable, error) is the expected status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assessor.catalog import load_catalog
from assessor.evaluate import evaluate_rule
from assessor.evidence import Evidence

HERE = Path(__file__).parent
STATUSES = ("pass", "fail", "not_applicable", "error", "manual")
CATALOG = load_catalog()
# a rule that leaves its finding to the reviewer (CIS 4.8) has manual-*, not fail-*
FINDING_PREFIXES = {"pass": ("pass-",), "fail": ("fail-", "manual-")}


def _cases() -> list[tuple[str, Path]]:
    cases = []
    for folder in sorted(p for p in HERE.iterdir() if p.is_dir() and not p.name.startswith("_")):
        cases.extend((folder.name, f) for f in sorted(folder.glob("*.json")))
    return cases


def _expected(path: Path) -> str:
    return next(s for s in STATUSES if path.name.startswith(s + "-"))


@pytest.mark.parametrize(("rule_id", "path"), _cases(), ids=lambda v: getattr(v, "name", v))
def test_golden(rule_id: str, path: Path) -> None:
    assert rule_id in CATALOG.rules, f"fixture folder {rule_id} names no rule"
    doc = json.loads(path.read_text())
    result = evaluate_rule(CATALOG.rules[rule_id], Evidence.from_document(doc))
    assert result.status.value == _expected(path), result.message
    assert result.message


def test_fixture_names_are_statuses() -> None:
    for _, path in _cases():
        assert any(path.name.startswith(s + "-") for s in STATUSES), path


def test_every_automated_rule_has_pass_and_fail_fixtures() -> None:
    missing = []
    for rule in CATALOG.rules.values():
        if not rule.automated:
            continue
        names = [p.name for p in (HERE / rule.id).glob("*.json")]
        missing.extend(
            f"{rule.id}: no {status}-*.json"
            for status in ("pass", "fail")
            if not any(n.startswith(FINDING_PREFIXES[status]) for n in names)
        )
    assert not missing, "\n".join(missing)


def test_fixture_kind_matches_rule_target() -> None:
    for rule_id, path in _cases():
        doc = json.loads(path.read_text())
        assert doc["kind"] == CATALOG.rules[rule_id].target.value, path
