"""SARIF 2.1.0 of a stored assessment, for code-scanning dashboards (GitHub, Azure DevOps).

One run. **Which results.** By default (``render_sarif``) the findings: each failing rule x
resource is a result of kind ``fail`` (level from the severity); a failure an applied waiver
covers is the same result with an accepted external suppression. Passes, manual checks and
not-applicable results are left out by default because GitHub code scanning ignores ``kind``
and would list every pass as an open alert. ``render_sarif(data, every_result=True)``
(``render_sarif_all``) carries every stored result, each status as its own SARIF kind:

==================  ===================================================
assessor status     SARIF result
==================  ===================================================
fail                kind ``fail``, level error/warning/note by severity
waived              kind ``fail`` + ``suppressions: [{external, accepted}]``
error               kind ``open`` (the rule could not decide), level none
manual              kind ``review``, level none
pass                kind ``pass``, level none
not_applicable      kind ``notApplicable``, level none
==================  ===================================================

Every result's ``properties`` hold ``status`` (as shown), ``target``, ``target_kind``,
``resource``, ``resource_kind``, ``severity``, ``evidence`` and ``references`` (framework id
-> requirement ids), so counts per status and per framework can be read from the file. An
evaluation error is also a tool execution notification of the invocation (in both modes), as
is a target that could not be collected.

**Locations.** Every result has exactly one location, and it has a ``physicalLocation`` (code
scanning shows a result only when the first location has one) and a logical location (the
resource; kind ``container``, ``image``, ``host``, ``engine``, ``registry``;
``fullyQualifiedName`` ``TARGET::RESOURCE``, or the target itself for a target-wide result),
indexed in ``run.logicalLocations`` under its target. Artifact URIs are always relative, each
against a base in ``run.originalUriBaseIds`` (GitHub rejects absolute URIs of another scheme
than ``file``):

- a file the rule judged on a host (``files["/etc/docker/daemon.json"]``, a systemd unit
  file, the files a permissions rule names, the audit rules file holding or missing the watch,
  with the line of the watch when there is one): the path under ``HOSTROOTn``, the host's root
  as a ``file:`` URI;
- daemon.json when an engine rule judged a value that came from it: under ``ENGINEHOSTn``,
  the root of the engine's machine (``file:///`` for a local socket, ``file://HOST/`` else);
- a file inside an image (setuid files, world-writable files, files holding secrets): the path
  inside the image under ``IMAGEn``, which is ``image/RESOURCE/`` under the target's
  ``TARGETn``;
- anything else (a container, an image, an engine setting, a registry): the virtual path
  ``KIND/RESOURCE`` (``container/web%20(3f2a1b4c5d6e)``), or ``KIND`` for a target-wide
  result, under ``TARGETn``, whose URI is the target URI.

Paths come from the evidence the rule read (its declared evidence paths, the files a file
function names by its arguments, the items the evidence lists), never from message text; a
result whose evidence body is not loaded gets what its evidence paths alone name.

**Fingerprints.** ``partialFingerprints`` hold ``assessorResult/v1`` (sha256 of rule, target
and resource) and ``primaryLocationLineHash`` (its first 16 hex digits, ``:1``: the one GitHub
reads), so a re-upload of a later assessment updates the same alerts. Rule tags are kept
within GitHub's 20 per rule: ``security``, the frameworks a rule maps to and the rule's own
tags; requirement ids are in the rule's ``properties.references``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from assessor.catalog.schema import FunctionCheck, Rule
from assessor.errors import AssessorError, EvaluationError
from assessor.evaluate.host import _candidate_paths
from assessor.evaluate.paths import MISSING, parse_path, resolve
from assessor.export.data import ExportData, ExportResult, ExportTarget, iso
from assessor.vocab import (
    RESULT_STATUSES,
    AssessmentStatus,
    RuleTarget,
    Severity,
    Status,
    TargetStatus,
)

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/assessor/assessor"
FINGERPRINT = "assessorResult/v1"
LINE_HASH = "primaryLocationLineHash"
MAX_TAGS = 20  # GitHub rejects a file with more tags on a rule
MAX_FILES = 10  # physical locations of one result (GitHub shows only the first)

# severity -> SARIF level (SARIF's words), and the CVSS-like score GitHub code scanning
# ranks alerts by
LEVELS: dict[str, str] = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
SECURITY_SEVERITY: dict[str, str] = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
NOTIFICATION_LEVEL = "error"  # SARIF's level of a tool notification

FINDINGS = (Status.FAIL, Status.WAIVED)
# --every-result: the findings, then every other status worst first (run.properties.statuses)
EVERY = FINDINGS + tuple(s for s in RESULT_STATUSES if s not in FINDINGS)
# status -> SARIF result kind (SARIF's words); a finding's kind is "fail"
KINDS = {
    Status.FAIL: "fail",
    Status.WAIVED: "fail",
    Status.ERROR: "open",
    Status.MANUAL: "review",
    Status.PASS: "pass",
    Status.NOT_APPLICABLE: "notApplicable",
}

# tool notifications (driver.notifications): what is reported beside the results
NOTIFICATIONS = (
    ("evaluation-error", "A rule raised while judging a resource; the scan went on."),
    ("target-not-collected", "A target could not be reached or read; it has no results."),
)


def render_sarif(data: ExportData, *, every_result: bool = False) -> bytes:
    """The assessment as one SARIF 2.1.0 run (JSON, UTF-8, fixed key order, indent 2): the
    findings, or with ``every_result`` every stored result."""
    wanted = EVERY if every_result else FINDINGS
    reported = [r for r in data.results if r.status in wanted]
    errors = [r for r in data.results if r.status == Status.ERROR]
    rule_ids = sorted({r.rule for r in reported} | {r.rule for r in errors})
    first: dict[str, ExportResult] = {}
    for r in data.results:
        first.setdefault(r.rule, r)
    rule_index = {rid: i for i, rid in enumerate(rule_ids)}
    rules = [_rule(first[rid], data.catalog.rules.get(rid)) for rid in rule_ids]

    places = _Places(data)
    results = [_result(r, rule_index[r.rule], data, places) for r in reported]
    notifications = [_error(r, rule_index[r.rule], places) for r in errors]
    notifications += [
        _unreached(t, places) for t in data.targets if t.status != TargetStatus.COLLECTED
    ]

    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "assessor",
                "version": data.tool_version,
                "informationUri": INFORMATION_URI,
                "rules": rules,
                "notifications": [
                    {
                        "id": nid,
                        "shortDescription": {"text": text},
                        "fullDescription": {"text": text},
                        "help": {"text": text},
                    }
                    for nid, text in NOTIFICATIONS
                ],
            }
        },
        "automationDetails": {"id": _automation_id(data), "guid": data.uuid},
        "invocations": [_invocation(data, notifications)],
    }
    run["originalUriBaseIds"] = places.bases
    run["logicalLocations"] = places.logical
    run["results"] = results
    run["properties"] = {
        "assessment": {
            key: data.assessment.get(key)
            for key in ("id", "uuid", "period", "system", "scope", "status", "catalog_digest")
        },
        "statuses": list(wanted),
    }
    doc = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _invocation(data: ExportData, notifications: list[dict[str, Any]]) -> dict[str, Any]:
    """The run's one invocation: whether it completed, when, and what went wrong."""
    invocation: dict[str, Any] = {
        "executionSuccessful": data.assessment.get("status") == AssessmentStatus.COMPLETE,
        "startTimeUtc": iso(data.started),
    }
    if data.finished is not None:
        invocation["endTimeUtc"] = iso(data.finished)
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return invocation


def render_sarif_all(data: ExportData) -> bytes:
    """Every stored result, each status as its SARIF kind (see the module docstring)."""
    return render_sarif(data, every_result=True)


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
    frameworks = set(r.references)
    own: set[str] = set()
    sections: list[tuple[str, str]] = []
    description = r.title
    help_uri = None
    if rule is not None:
        description = rule.description
        # a FRAMEWORK:REQ tag is a reference (kept in properties.references): its framework
        # becomes the tag, so a rule keeps within GitHub's limit of 20 tags
        for tag in rule.tags:
            fw, sep, _ = tag.partition(":")
            (frameworks if sep else own).add(fw if sep else tag)
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
    tags = ["security", *sorted(frameworks), *sorted(own - frameworks - {"security"})]
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
        "tags": list(dict.fromkeys(tags))[:MAX_TAGS],
        "security-severity": SECURITY_SEVERITY[severity],
        "precision": "very-high",
        "severity": severity,
        "references": r.references,
    }
    return doc


def _fenced(body: str) -> str:
    """A Markdown code block that no run of backticks inside ``body`` can close."""
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{body}\n{fence}"


def _result(r: ExportResult, index: int, data: ExportData, places: _Places) -> dict[str, Any]:
    fp = fingerprint(r.rule, r.target, r.resource)
    logical = places.resource(r)
    physical = places.physical(r)
    locations = [{"physicalLocation": p, "logicalLocations": [logical]} for p in physical]
    doc: dict[str, Any] = {
        "ruleId": r.rule,
        "ruleIndex": index,
        "kind": KINDS.get(r.status, "informational"),
        "level": _level(r.severity) if r.status in FINDINGS else "none",
        "message": {"text": r.message or r.title},
        "locations": locations,
        "guid": str(uuid.uuid5(uuid.UUID(data.uuid), f"sarif-result:{fp}")),
        "partialFingerprints": {FINGERPRINT: fp, LINE_HASH: f"{fp[:16]}:1"},
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
        "status": r.status,
        "target": r.target,
        "target_kind": places.target_kind(r.target),
        "resource": r.resource,
        "resource_kind": places.resource_kind(r),
        "severity": r.severity,
        "evidence": r.evidence,
        "references": r.references,
    }
    return doc


def _error(r: ExportResult, index: int, places: _Places) -> dict[str, Any]:
    """An evaluation error: the rule could not judge the resource."""
    return {
        "level": NOTIFICATION_LEVEL,
        "message": {"text": f"{r.rule} on {r.target} {r.resource}: {r.message}"},
        "locations": [{"logicalLocations": [places.resource(r)]}],
        "descriptor": {"id": NOTIFICATIONS[0][0], "index": 0},
        "associatedRule": {"id": r.rule, "index": index},
        "properties": {"target": r.target, "resource": r.resource, "evidence": r.evidence},
    }


def _unreached(t: ExportTarget, places: _Places) -> dict[str, Any]:
    return {
        "level": NOTIFICATION_LEVEL,
        "message": {"text": f"{t.uri} was not collected ({t.status}): {t.error or 'no detail'}"},
        "locations": [{"logicalLocations": [places.target(t.uri)]}],
        "descriptor": {"id": NOTIFICATIONS[1][0], "index": 1},
    }


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file a result is about: where it lives (``host``: the host's root; ``engine-host``:
    the engine's machine; ``image``: the image's root file system), its absolute path there,
    and the line when one is known."""

    base: str
    path: str
    line: int | None = None


def _get(data: Any, *keys: str | int) -> Any:
    node = data
    for key in keys:
        if isinstance(node, Mapping):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
            node = node[key]
        else:
            return None
    return node


def files_of(rule: Rule | None, body: Mapping[str, Any] | None) -> list[FileRef]:
    """The files a result of ``rule`` is about, from the evidence document it judged
    (``body``: ``{kind, target, resource, data}``; None when not loaded: then only what the
    rule's evidence paths name). Only absolute, normalised paths; at most MAX_FILES."""
    if rule is None:
        return []
    data = body.get("data") if body else None
    data = data if isinstance(data, Mapping) else None
    kind = rule.target.value
    found: list[FileRef] = []
    check = rule.check
    function = check.function if isinstance(check, FunctionCheck) else None
    args: Mapping[str, Any] = (check.args or {}) if isinstance(check, FunctionCheck) else {}
    if kind == RuleTarget.HOST:
        if function == "host_audit_watched":
            found = _audit_files(data, args) if data is not None else []
        elif function == "host_file_permissions":
            found = _permission_files(data, args) if data is not None else []
        else:
            for path in rule.evidence:
                parts = parse_path(path)
                if parts[:1] == ("files",) and len(parts) > 1:
                    found.append(FileRef("host", str(parts[1])))
                elif parts[:2] == ("systemd", "units") and len(parts) > 2:
                    unit = _get(data, "systemd", "units", parts[2], "path")
                    if isinstance(unit, str):
                        found.append(FileRef("host", unit))
                elif parts[:2] == ("docker", "daemon_json"):
                    found.append(FileRef("host", "/etc/docker/daemon.json"))
    elif kind == RuleTarget.ENGINE and data is not None:
        config = _get(data, "daemon", "read", "config_file") or _get(data, "daemon", "config_file")
        for path in rule.evidence:
            parts = parse_path(path)
            from_file = parts[:2] == ("daemon", "daemon_json_changed_since_start") or (
                parts[:2] == ("daemon", "effective")
                and len(parts) > 2
                and _get(data, "daemon", "origin", parts[2]) == "daemon.json"
            )
            if from_file and isinstance(config, str):
                found.append(FileRef("engine-host", config))
    elif kind == RuleTarget.IMAGE and data is not None:
        for path in rule.evidence:
            value = resolve(data, parse_path(path))
            if value is MISSING:
                continue
            items = value.get("items") if isinstance(value, Mapping) else value
            for item in items if isinstance(items, list) else []:
                where = _get(item, "path") or _get(item, "where")
                if isinstance(where, str):
                    found.append(FileRef("image", where))
    clean = [
        f
        for f in found
        if f.path.startswith("/") and os.path.normpath(f.path) == f.path and f.path != "/"
    ]
    return list(dict.fromkeys(clean))[:MAX_FILES]


def _permission_files(data: Mapping[str, Any], args: Mapping[str, Any]) -> list[FileRef]:
    """The files ``host_file_permissions`` judges: those of its arguments that exist."""
    try:
        paths = _candidate_paths(data, args)
    except EvaluationError:  # evidence the rule needed is absent: the result is an error
        return []
    files = _get(data, "files") or {}
    stats = [files.get(p) or {"path": p} for p in paths]
    if args.get("registry_certs"):
        stats += [c for c in _get(data, "docker", "registry_certs") or [] if isinstance(c, dict)]
    existing = [s for s in stats if isinstance(s, Mapping) and s.get("exists")]
    return [FileRef("host", str(s.get("path"))) for s in existing if s.get("path")]


def _audit_files(data: Mapping[str, Any], args: Mapping[str, Any]) -> list[FileRef]:
    """Where the audit watch of ``host_audit_watched`` is, or belongs: the rules file line
    holding a watch on one of the rule's files; else the first rules file auditd loads
    (where the watch is to be added)."""
    try:
        paths = {os.path.normpath(p) for p in _candidate_paths(data, args)}
    except EvaluationError:  # evidence the rule needed is absent: the result is an error
        return []
    real = _get(data, "audit", "real_paths") or {}
    wanted = paths | {os.path.normpath(str(real[p])) for p in paths if real.get(p)}
    for rule in _get(data, "audit", "file_rules") or []:
        watched = _get(rule, "resolved") or _get(rule, "path")
        origin = str(_get(rule, "origin") or "")
        file, sep, line = origin.rpartition(":")
        if isinstance(watched, str) and os.path.normpath(watched) in wanted and sep:
            return [FileRef("host", file, int(line) if line.isdigit() else None)]
    rules_files = [f for f in _get(data, "audit", "files") or [] if isinstance(f, Mapping)]
    loaded = [f for f in rules_files if f.get("loaded_by_auditd")] or rules_files
    return [FileRef("host", str(f["path"])) for f in loaded[:1] if f.get("path")]


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


_SAFE = "()@:+,;=!$'~"  # kept as they are in a path segment; everything else %-encoded


def segment(text: str) -> str:
    """``text`` as one URI path segment: '/' is encoded, so a resource cannot add segments,
    and a '.' or '..' segment cannot climb out of its base."""
    out = quote(text, safe=_SAFE)
    return out.replace(".", "%2E") if set(out) <= {"."} else out


class _Places:
    """run.logicalLocations (targets, then resources as met) and the URI bases of
    run.originalUriBaseIds: TARGETn per target, HOSTROOTn per host root, ENGINEHOSTn per
    engine machine, IMAGEn per image whose files a result names."""

    def __init__(self, data: ExportData) -> None:
        self.data = data
        self.logical: list[dict[str, Any]] = []
        self.bases: dict[str, dict[str, Any]] = {}
        self._index: dict[tuple[str, str], int] = {}
        self._base: dict[tuple[str, str, str], str] = {}
        self._kinds = {t.uri: t.kind for t in data.targets}
        self._position = {t.uri: n for n, t in enumerate(data.targets, 1)}
        self._docs: dict[str, dict[str, Any] | None] = {}
        for t in data.targets:
            self.target(t.uri)

    def target_kind(self, target: str) -> str:
        return self._kinds.get(target) or target.partition(":")[0]

    def resource_kind(self, r: ExportResult) -> str:
        rule = self.data.catalog.rules.get(r.rule)
        return rule.target.value if rule is not None else self.target_kind(r.target)

    def _add(self, key: tuple[str, str], doc: dict[str, Any]) -> dict[str, Any]:
        index = self._index.get(key)
        if index is None:
            index = self._index[key] = len(self.logical)
            self.logical.append(doc)
        return {"index": index, "fullyQualifiedName": self.logical[index]["fullyQualifiedName"]}

    def target(self, target: str) -> dict[str, Any]:
        """A reference to the logical location of the target itself."""
        kind = self.target_kind(target)
        return self._add(
            (target, "*"), {"name": target, "fullyQualifiedName": target, "kind": kind}
        )

    def resource(self, r: ExportResult) -> dict[str, Any]:
        """A reference to the logical location of the result's resource ("*": the target)."""
        parent = self.target(r.target)
        if r.resource == "*":
            return parent
        return self._add(
            (r.target, r.resource),
            {
                "name": r.resource,
                "fullyQualifiedName": f"{r.target}::{r.resource}",
                "kind": self.resource_kind(r),
                "parentIndex": parent["index"],
            },
        )

    def _base_id(
        self, prefix: str, key: tuple[str, str, str], uri: str, text: str, n: int = 0
    ) -> str:
        """The id of a base (``PREFIXn``: n the target's position, from 1, for TARGET and
        HOSTROOT; else the order of first use)."""
        found = self._base.get(key)
        if found is None:
            n = n or sum(1 for b in self._base.values() if b.startswith(prefix)) + 1
            while f"{prefix}{n}" in self.bases:  # a target missing from the targets' list
                n += 1
            found = self._base[key] = f"{prefix}{n}"
            self.bases[found] = {"uri": uri, "description": {"text": text}}
        return found

    def _target_base(self, target: str) -> str:
        uri = target if target.endswith("/") else target + "/"
        return self._base_id(
            "TARGET",
            ("target", target, ""),
            _uri(uri),
            f"the target {target} (virtual paths)",
            self._position.get(target, len(self._position) + 1),
        )

    def physical(self, r: ExportResult) -> list[dict[str, Any]]:
        """The physical locations of a result: the files it is about, else its virtual path."""
        rule = self.data.catalog.rules.get(r.rule)
        body = None
        if r.evidence:
            if r.evidence not in self._docs:  # one parse per evidence document
                self._docs[r.evidence] = self.data.evidence_document(r.evidence)
            body = self._docs[r.evidence]
        out = []
        for f in files_of(rule, body):
            base = self._file_base(r, f)
            if base is None:
                continue
            loc: dict[str, Any] = {
                "artifactLocation": {
                    "uri": "/".join(segment(p) for p in f.path.strip("/").split("/")),
                    "uriBaseId": base,
                }
            }
            if f.line is not None and f.line > 0:
                loc["region"] = {"startLine": f.line}
            out.append(loc)
        if out:
            return out
        kind = self.resource_kind(r)
        path = self.target_kind(r.target) if r.resource == "*" else f"{kind}/{segment(r.resource)}"
        return [{"artifactLocation": {"uri": path, "uriBaseId": self._target_base(r.target)}}]

    def _file_base(self, r: ExportResult, f: FileRef) -> str | None:
        target = r.target
        if f.base == "host":
            if not target.startswith("host:/"):
                return None
            root = target[len("host:") :].rstrip("/") + "/"
            return self._base_id(
                "HOSTROOT",
                ("host", target, ""),
                "file://" + quote(root),
                f"the root directory of {target}",
                self._position.get(target, len(self._position) + 1),
            )
        if f.base == "engine-host":
            address = target.removeprefix("engine:")
            split = urlsplit(address)
            machine = "" if split.scheme in ("", "unix", "npipe") else (split.hostname or "")
            return self._base_id(
                "ENGINEHOST",
                ("engine-host", machine, ""),
                f"file://{quote(machine)}/",
                f"the root directory of the machine running {target}",
            )
        # relative to the target's base: the resource (any text) stays in a relative
        # reference, %-encoded as one segment, and the absolute part is the target URI
        image = r.resource if r.resource != "*" else target
        parent = self._target_base(target)
        found = self._base_id(
            "IMAGE",
            ("image", target, r.resource),
            "image/" + (f"{segment(r.resource)}/" if r.resource != "*" else ""),
            f"the root file system of the image {image}",
        )
        self.bases[found].setdefault("uriBaseId", parent)
        return found


def _uri(text: str) -> str:
    """``text`` with what a URI cannot hold %-encoded (its reserved characters kept)."""
    return quote(text, safe=":/?#[]@!$&'()*+,;=%~")
