"""The evaluator of imported OpenSCAP rule-results (``xccdf-rule`` evidence).

OpenSCAP already judged each rule; this maps its XCCDF result onto ours and names the rule,
its idents (CCE), OpenSCAP's severity and the profile, so a finding reads on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assessor.errors import EvaluationError
from assessor.evaluate.functions import Outcome
from assessor.vocab import Severity, Status

# XCCDF 1.2 result -> our status
STATUSES = {
    "pass": Status.PASS,
    "fixed": Status.PASS,
    "informational": Status.PASS,
    "fail": Status.FAIL,
    "error": Status.ERROR,
    "unknown": Status.ERROR,
    "notapplicable": Status.NOT_APPLICABLE,
    "notchecked": Status.MANUAL,
}
# XCCDF 1.2 severity -> ours; "unknown" (or none) keeps the rule's
SEVERITIES = {
    "high": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "info": Severity.INFO,
}
EXPLAINED = {
    "fixed": "fixed by OpenSCAP's remediation during the scan",
    "informational": "informational only",
    "error": "OpenSCAP could not evaluate the rule",
    "unknown": "OpenSCAP could not tell the result",
    "notapplicable": "the rule does not apply to this platform",
    "notchecked": "OpenSCAP has no automated check for it: verify by hand",
}


def _name(data: Mapping[str, Any]) -> str:
    title = str(data.get("title") or data.get("rule") or "?")
    idents = [
        str(i.get("value"))
        for i in data.get("idents") or []
        if isinstance(i, dict) and i.get("value")
    ]
    return f"{title} ({', '.join(idents)})" if idents else title


def openscap_rule_result(data: Any, args: Mapping[str, Any]) -> Outcome:
    """OpenSCAP's result for one XCCDF rule: pass, fixed and informational pass; fail fails;
    error and unknown are errors; notapplicable is not applicable; notchecked is manual."""
    if not isinstance(data, dict) or "result" not in data:
        raise EvaluationError("evidence 'result' is absent")
    result = str(data["result"])
    status = STATUSES.get(result)
    profile = data.get("profile")
    if not isinstance(profile, dict):
        profile = {}
    where = str(profile.get("title") or profile.get("id") or "(default profile)")
    text = f"{_name(data)}: {result or '(no result)'}, severity {data.get('severity')}, "
    text += f"profile {where}"
    if status is None:
        return Outcome(Status.ERROR, f"{text}: not an XCCDF result value")
    if result in EXPLAINED:
        text += f" ({EXPLAINED[result]})"
    return Outcome(status, text, SEVERITIES.get(str(data.get("severity"))))
