"""SARIF 2.1.0 of a stored assessment, for code-scanning dashboards (GitHub, Azure DevOps).

One run. Each failing rule x resource is a result of kind ``fail``; a failure an applied
waiver covers is a result with an accepted external suppression (dashboards show it as
suppressed). An evaluation error is not a finding: it is a tool execution notification of the
invocation, as is a target that could not be collected. Every result has a logical location
(the target and the resource); a physical location is added only where the rule judged one
known file on a host (``files["/etc/docker/daemon.json"]``, or a path the evaluator names), as
a URI relative to that host's root (``originalUriBaseIds``). Image findings stay logical: the
Dockerfile is unknown. ``partialFingerprints`` hash rule, target and resource, so a re-upload
of a later assessment matches the same alerts.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from typing import Any
from urllib.parse import quote

from assessor.catalog.schema import FunctionCheck, Rule
from assessor.errors import AssessorError
from assessor.export.data import ExportData, ExportResult, ExportTarget, iso

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/assessor/assessor"
FINGERPRINT = "assessorResult/v1"

# severity -> SARIF level, and the CVSS-like score GitHub code scanning ranks alerts by
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}

# tool notifications (driver.notifications): what is reported beside the results
NOTIFICATIONS = (
    ("evaluation-error", "A rule raised while judging a resource; the scan went on."),
    ("target-not-collected", "A target could not be reached or read; it has no results."),
)

_FILES_KEY = re.compile(r'^files\["(/[^"]+)"\](?:\.\w+)?$')
_PATH_IS = re.compile(r"^(/[^\s;:]+) is ")  # "/usr/lib/systemd/system/docker.service is mode ..."
_PATH_PROBLEM = re.compile(r"(?:^|; )(/[^;:]+): (?:mode|owner) ")  # host_file_permissions


def render_sarif(data: ExportData) -> bytes:
    """The assessment as one SARIF 2.1.0 run (JSON, UTF-8, fixed key order, indent 2)."""
    reported = [r for r in data.results if r.status in ("fail", "waived")]
    errors = [r for r in data.results if r.status == "error"]
    rule_ids = sorted({r.rule for r in reported} | {r.rule for r in errors})
    first: dict[str, ExportResult] = {}
    for r in data.results:
        first.setdefault(r.rule, r)
    rule_index = {rid: i for i, rid in enumerate(rule_ids)}
    rules = [_rule(first[rid], data.catalog.rules.get(rid)) for rid in rule_ids]

    places = _Places(data.targets)
    results = [_result(r, rule_index[r.rule], data, places) for r in reported]
    notifications = [_error(r, rule_index[r.rule], places) for r in errors]
    notifications += [_unreached(t, places) for t in data.targets if t.status != "collected"]

    invocation: dict[str, Any] = {
        "executionSuccessful": data.assessment.get("status") == "complete",
        "startTimeUtc": iso(data.started),
    }
    if data.finished is not None:
        invocation["endTimeUtc"] = iso(data.finished)
    if notifications:
        invocation["toolExecutionNotifications"] = notifications

    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "assessor",
                "version": data.tool_version,
                "informationUri": INFORMATION_URI,
                "rules": rules,
                "notifications": [
                    {"id": nid, "shortDescription": {"text": text}} for nid, text in NOTIFICATIONS
                ],
            }
        },
        "automationDetails": {"id": _automation_id(data), "guid": data.uuid},
        "invocations": [invocation],
    }
    if places.bases:
        run["originalUriBaseIds"] = places.bases
    run["logicalLocations"] = places.logical
    run["results"] = results
    run["properties"] = {
        "assessment": {
            key: data.assessment.get(key)
            for key in ("id", "uuid", "period", "system", "scope", "status", "catalog_digest")
        }
    }
    doc = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def fingerprint(rule: str, target: str, resource: str) -> str:
    """The stable identity of a finding across assessments (sha256 of a JSON triple)."""
    key = json.dumps([rule, target, resource], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _level(severity: str) -> str:
    try:
        return LEVELS[severity]
    except KeyError:
        raise AssessorError(f"unknown severity {severity!r} in the stored results") from None


def _rule(r: ExportResult, rule: Rule | None) -> dict[str, Any]:
    """driver.rules[i]: the rule as judged (title), described from the catalog. Its severity is
    the catalog's (a rule whose results carry their own, like an imported OpenSCAP baseline,
    keeps a level per result), else the stored result's."""
    severity = rule.severity.value if rule is not None else r.severity
    tags = {f"{fw}:{req}" for fw, reqs in r.references.items() for req in reqs}
    sections: list[tuple[str, str]] = []
    description = r.title
    help_uri = None
    if rule is not None:
        description = rule.description
        tags.update(rule.tags)
        sections = [
            (title, text.strip())
            for title, text in (
                ("Rationale", rule.rationale),
                ("Audit", rule.audit),
                ("Remediation", rule.remediation),
            )
            if text.strip()
        ]
        help_uri = next((ref.url for ref in rule.references if ref.url), None)
    text = "\n\n".join(f"{title}:\n{body}" for title, body in sections)
    markdown = "\n\n".join(
        f"## {title}\n\n{body if title == 'Rationale' else _fenced(body)}"
        for title, body in sections
    )
    if not sections:
        text = markdown = f"{r.rule} is not in the loaded catalog: no audit or remediation text."
    doc: dict[str, Any] = {
        "id": r.rule,
        "name": "".join(part.capitalize() for part in r.rule.split("-")) or r.rule,
        "shortDescription": {"text": r.title},
        "fullDescription": {"text": description},
    }
    if help_uri:
        doc["helpUri"] = help_uri
    doc["help"] = {"text": text, "markdown": markdown}
    doc["defaultConfiguration"] = {"level": _level(severity)}
    doc["properties"] = {
        "tags": ["security", *sorted(tags - {"security"})],
        "security-severity": SECURITY_SEVERITY[severity],
        "precision": "very-high",
        "severity": severity,
    }
    return doc


def _fenced(body: str) -> str:
    """A Markdown code block that no run of backticks inside ``body`` can close."""
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{body}\n{fence}"


def _result(r: ExportResult, index: int, data: ExportData, places: _Places) -> dict[str, Any]:
    fp = fingerprint(r.rule, r.target, r.resource)
    logical = places.resource(r.target, r.resource)
    rule = data.catalog.rules.get(r.rule)
    paths = file_paths(rule, r) if r.target in places.roots else []
    locations: list[dict[str, Any]] = [
        {"physicalLocation": places.physical(r.target, p), "logicalLocations": [logical]}
        for p in paths
    ] or [{"logicalLocations": [logical]}]
    doc: dict[str, Any] = {
        "ruleId": r.rule,
        "ruleIndex": index,
        "kind": "fail",
        "level": _level(r.severity),
        "message": {"text": r.message or r.title},
        "locations": locations,
        "guid": str(uuid.uuid5(uuid.UUID(data.uuid), f"sarif-result:{fp}")),
        "partialFingerprints": {FINGERPRINT: fp},
    }
    if r.waiver is not None:
        w = r.waiver
        expires = str(w.get("expires") or "")[:10] or "never"
        doc["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": f"{w.get('reason')} (approved by {w.get('approver')}, "
                f"expires {expires})",
                "properties": {
                    "waiver": w.get("id"),
                    "approver": w.get("approver"),
                    "expires": w.get("expires"),
                    "compensating": w.get("compensating"),
                    "source": w.get("source"),
                },
            }
        ]
    doc["properties"] = {
        "target": r.target,
        "resource": r.resource,
        "status": r.status,
        "severity": r.severity,
        "evidence": r.evidence,
        "references": r.references,
    }
    return doc


def _error(r: ExportResult, index: int, places: _Places) -> dict[str, Any]:
    """An evaluation error: the rule could not judge the resource."""
    return {
        "level": "error",
        "message": {"text": f"{r.rule} on {r.target} {r.resource}: {r.message}"},
        "locations": [{"logicalLocations": [places.resource(r.target, r.resource)]}],
        "descriptor": {"id": NOTIFICATIONS[0][0], "index": 0},
        "associatedRule": {"id": r.rule, "index": index},
        "properties": {"target": r.target, "resource": r.resource, "evidence": r.evidence},
    }


def _unreached(t: ExportTarget, places: _Places) -> dict[str, Any]:
    return {
        "level": "error",
        "message": {"text": f"{t.uri} was not collected ({t.status}): {t.error or 'no detail'}"},
        "locations": [{"logicalLocations": [places.resource(t.uri, "*")]}],
        "descriptor": {"id": NOTIFICATIONS[1][0], "index": 1},
    }


def file_paths(rule: Rule | None, r: ExportResult) -> list[str]:
    """Absolute paths (inside the host's root) of the files a host finding is about, where
    that is certain: the rule reads one file, or its message names the files it judged."""
    if rule is None or rule.target.value != "host":
        return []
    found: list[str] = []
    # a rule that reads one file (its mode, owner and whether it exists are all of that file)
    keys = [_FILES_KEY.match(e) for e in rule.evidence]
    named = {k.group(1) for k in keys if k}
    if all(keys) and len(named) == 1:
        found = sorted(named)
    elif rule.evidence and all(e.startswith("systemd.units[") for e in rule.evidence):
        found = _PATH_IS.findall(r.message)
    elif isinstance(rule.check, FunctionCheck) and rule.check.function == "host_file_permissions":
        found = _PATH_PROBLEM.findall(r.message)
    clean = [p for p in found if os.path.normpath(p) == p and p != "/"]
    return list(dict.fromkeys(clean))


def _automation_id(data: ExportData) -> str:
    """``assessor/<system>/<period>/`` (the scope's hash stands in for a missing system)."""
    system = data.assessment.get("system")
    if system:
        who = quote(str(system), safe="")
    else:
        scope = json.dumps(sorted(data.assessment.get("scope") or []), ensure_ascii=False)
        who = "scope-" + hashlib.sha256(scope.encode("utf-8")).hexdigest()[:16]
    period = quote(str(data.assessment.get("period") or "unknown"), safe="")
    return f"assessor/{who}/{period}/"


class _Places:
    """run.logicalLocations (targets, then resources as met) and host roots as URI bases."""

    def __init__(self, targets: list[ExportTarget]) -> None:
        self.logical: list[dict[str, Any]] = []
        self.bases: dict[str, dict[str, Any]] = {}
        self._index: dict[tuple[str, str], int] = {}
        self.roots: dict[str, str] = {}  # host target -> its key in bases
        for t in targets:
            self._add(t.uri, "*", {"name": t.uri, "fullyQualifiedName": t.uri, "kind": "module"})
            if t.kind == "host" and t.uri.startswith("host:/"):
                base = f"HOSTROOT{len(self.bases) + 1}"
                root = t.uri[len("host:") :].rstrip("/") + "/"
                self.bases[base] = {
                    "uri": "file://" + quote(root),
                    "description": {"text": f"the root directory of {t.uri}"},
                }
                self.roots[t.uri] = base

    def _add(self, target: str, resource: str, doc: dict[str, Any]) -> int:
        self._index[(target, resource)] = len(self.logical)
        self.logical.append(doc)
        return len(self.logical) - 1

    def resource(self, target: str, resource: str) -> dict[str, Any]:
        """A reference to the logical location of ``resource`` ("*": the target itself)."""
        index = self._index.get((target, resource))
        if index is None:
            if (target, "*") not in self._index:  # a result whose target row is missing
                self._add(target, "*", {"name": target, "fullyQualifiedName": target})
            index = self._add(
                target,
                resource,
                {
                    "name": resource,
                    "fullyQualifiedName": f"{target}/{resource}",
                    "kind": "resource",
                    "parentIndex": self._index[(target, "*")],
                },
            )
        doc = self.logical[index]
        return {"index": index, "fullyQualifiedName": doc["fullyQualifiedName"]}

    def physical(self, target: str, path: str) -> dict[str, Any]:
        return {
            "artifactLocation": {
                "uri": quote(path.lstrip("/")),
                "uriBaseId": self.roots[target],
            }
        }
