"""Everything a report shows, read from one stored assessment through the read model.

Reports read stored assessments only, never a live target (DESIGN §2). Requirement statuses,
result counts and roll-ups come from ``assessor.readmodel`` (the numbers ``assessor results``
and every export show); this module only arranges them for the templates: the findings (each
failing rule once, by severity), the coverage matrix, the manual procedures, the waivers and
attestations, and the appendices. The templates get plain dataclasses: no database session,
no lazy loading while rendering.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from assessor import __version__
from assessor.audit.rollup import REQUIREMENT_STATUSES
from assessor.errors import NotFoundError
from assessor.evaluate.paths import MISSING, parse_path, resolve

if TYPE_CHECKING:
    from markupsafe import Markup

    from assessor.audit.trend import PeriodPoint
    from assessor.catalog import Catalog
    from assessor.readmodel import AssessmentView, RequirementStatus, ResultView
    from assessor.store.db import Store

DEFAULT_FRAMEWORKS = ("nistir-8176", "cis-docker-1.8.0", "sp800-190")
SEVERITIES = ("critical", "high", "medium", "low", "info")
EXCERPT_CHARS = 600  # one finding's evidence excerpt, at most
MAX_FINDINGS_PER_RULE = 500  # failing resources listed under one rule; the rest are counted
BODY_ROWS = 3  # resources a finding lists in the body; the rest are in the appendix
BODY_NAMES = 4  # resources one row of a finding names in the body
BODY_EXCERPTS = 1  # evidence excerpts a finding shows in the body
READ_CHARS = 240  # where a finding's evidence was read, at most
NA_REASONS = 3  # distinct reasons a not-applicable requirement shows
DOC_CHARS = 4000  # an evidence document shown in the appendix, at most (pretty-printed)
APPENDIX_DOCS = 200  # evidence documents the appendix shows in full, at most
CHANGE_ROWS = 8  # rows of the new/fixed tables on the summary page

STATUS_LABELS = {
    "pass": "passed",
    "fail": "failed",
    "waived": "waived",
    "manual": "manual",
    "not_applicable": "not applicable",
    "error": "error",
    "not_assessed": "not assessed",
}
# short labels for table headers (never broken mid-word in a narrow column)
STATUS_SHORT = {
    "pass": "pass",
    "fail": "fail",
    "waived": "waived",
    "manual": "manual",
    "not_applicable": "n/a",
    "error": "error",
    "not_assessed": "none",
}
# the order findings are listed in, within one severity
_FINDING_ORDER = {"fail": 0, "error": 1, "waived": 2}
KIND_COLLECTORS = {
    "host": "host: files, modes and owners, daemon configuration, systemd units, audit rules, "
    "kernel features",
    "engine": "engine: the Docker Engine API (info, version, containers, networks, images, swarm)",
    "image": "image: manifest, configuration, history and every layer, streamed and never "
    "extracted",
    "registry": "registry: the OCI distribution API, TLS, anonymous access probes, tags and "
    "signatures",
}
SHORT_NAMES = {
    "nistir-8176": "NIST IR 8176",
    "cis-docker-1.8.0": "CIS Docker 1.8.0",
    "cis-docker-1.6.0": "CIS Docker 1.6.0",
    "sp800-190": "SP 800-190",
    "nist-800-53r5": "SP 800-53r5",
}


_ENSURE = re.compile(r"^Ensure\s+(?:that\s+)?", re.IGNORECASE)
_TAIL = re.compile(r"\s*\((?:Automated|Manual)\)\s*$")


def short_title(title: str) -> str:
    """'Ensure that the container host has been Hardened (Manual)' -> 'The container host has
    been Hardened'."""
    text = _TAIL.sub("", _ENSURE.sub("", title.strip()))
    return text[:1].upper() + text[1:] if text else title


def req_anchor(framework: str, requirement: str) -> str:
    """The id of a requirement's row in the coverage matrix."""
    return f"req-{framework}-{requirement}"


@dataclass
class Finding:
    """One resource's non-passing result under a rule."""

    target: str
    resource: str
    status: str
    message: str
    evidence_hash: str | None
    excerpt: str
    waiver: dict[str, Any] | None = None  # the applied waiver when status is "waived"
    read: list[str] = field(default_factory=list)  # what the rule read (evaluate.sources)
    excerpt_cut: bool = False  # the excerpt leaves part of the values read out
    result_id: int = 0
    read_cut: bool = False  # a value in ``read`` was cut


@dataclass
class FindingGroup:
    """Findings of one rule that say the same thing about different resources."""

    status: str
    message: str
    waiver: dict[str, Any] | None
    resources: list[tuple[str, str]]  # (target, resource)
    total: int = 0  # resources in the group (``resources`` may list fewer)

    @property
    def hidden(self) -> int:
        return self.total - len(self.resources)


@dataclass
class RequirementRef:
    """A requirement a rule meets, as a finding names it (a link into the coverage matrix)."""

    framework: str
    short: str
    id: str

    @property
    def anchor(self) -> str:
        return req_anchor(self.framework, self.id)


@dataclass
class RuleView:
    """A rule with its non-passing results: one finding block, listed once in the report."""

    id: str
    title: str
    severity: str
    automated: bool
    counts: dict[str, int]
    findings: list[Finding] = field(default_factory=list)
    hidden: int = 0  # findings beyond the per-rule limit (not in this report at all)
    remediation: str = ""
    procedure: str = ""
    remediation_html: Markup | str = ""
    procedure_html: Markup | str = ""
    requirements: list[RequirementRef] = field(default_factory=list)
    manual_resources: list[tuple[str, str, str]] = field(default_factory=list)
    attested: list[tuple[RequirementRef, AttestationView]] = field(default_factory=list)
    number: str = ""  # "F1": its place among the findings
    manual_number: str = ""  # "M1": its place among the manual procedures

    @property
    def anchor(self) -> str:
        return f"finding-{self.id}"

    @property
    def manual_anchor(self) -> str:
        return f"manual-{self.id}"

    @property
    def status(self) -> str:
        """The finding's headline: fail, else error, else waived, else manual, else pass."""
        for s in ("fail", "error", "waived", "manual"):
            if self.counts.get(s):
                return s
        return "pass"

    @property
    def bad(self) -> int:
        """Results of this rule that failed, errored or are waived failures."""
        return sum(self.counts.get(s, 0) for s in ("fail", "error", "waived"))

    @property
    def body_findings(self) -> list[Finding]:
        return self.findings[:BODY_ROWS]

    @property
    def body_groups(self) -> list[FindingGroup]:
        """What the body lists: the first BODY_ROWS groups, BODY_NAMES resources each."""
        return [
            FindingGroup(g.status, g.message, g.waiver, g.resources[:BODY_NAMES], g.total)
            for g in self.groups()[:BODY_ROWS]
        ]

    @property
    def more(self) -> int:
        """Non-passing resources not listed in the body (in the appendix, or counted)."""
        return self.bad - sum(len(g.resources) for g in self.body_groups)

    @property
    def excerpts(self) -> list[Finding]:
        """The first few findings that have evidence, one per evidence document."""
        seen: set[str] = set()
        out: list[Finding] = []
        for f in self.findings:
            if f.excerpt and f.evidence_hash and f.evidence_hash not in seen:
                seen.add(f.evidence_hash)
                out.append(f)
            if len(out) == BODY_EXCERPTS:
                break
        return out

    @property
    def statuses(self) -> str:
        """Its finding statuses, space-separated (the HTML filter's data-status)."""
        return " ".join(s for s in ("fail", "error", "waived") if self.counts.get(s))

    @property
    def frameworks(self) -> str:
        return " ".join(dict.fromkeys(r.framework for r in self.requirements))

    @property
    def targets(self) -> list[str]:
        return list(dict.fromkeys(f.target for f in self.findings))

    @property
    def waiver_ids(self) -> list[int]:
        return sorted({int(f.waiver["id"]) for f in self.findings if f.waiver})

    def groups(self) -> list[FindingGroup]:
        """Its findings grouped by what was found (status, message, waiver): one row each, with
        every resource it holds for (a thousand containers failing alike make one row)."""
        out: dict[tuple[str, str, int], FindingGroup] = {}
        for f in self.findings:
            message = f.message
            if f.resource not in ("", "*") and message.startswith(f.resource + " "):
                message = "\u2026 " + message[len(f.resource) + 1 :]  # "… has no memory limit"
            key = (f.status, message, int(f.waiver["id"]) if f.waiver else 0)
            if key not in out:
                out[key] = FindingGroup(f.status, message, f.waiver, [])
            out[key].resources.append((f.target, f.resource))
            out[key].total += 1
        return list(out.values())

    def refs_by_framework(self) -> list[tuple[str, list[RequirementRef]]]:
        out: dict[str, list[RequirementRef]] = {}
        for ref in self.requirements:
            out.setdefault(ref.short, []).append(ref)
        return list(out.items())


@dataclass
class WaiverView:
    """An applied waiver (or an expired one) and how many failing results it covers."""

    id: int
    rule: str
    resource_pattern: str
    target_pattern: str
    system: str | None
    reason: str
    approver: str
    compensating: str | None
    expires: str  # YYYY-MM-DD
    source: str
    results: int
    created: str = ""  # YYYY-MM-DD: when the waiver was recorded
    targets: list[str] = field(default_factory=list)
    severity: str = ""
    frameworks: str = ""


@dataclass
class EvidenceFile:
    name: str
    sha256: str
    size: int
    href: str | None = None  # the attachment, when the renderer embeds or ships it


@dataclass
class AttestationView:
    id: int
    framework: str
    requirement: str
    status: str  # pass | fail
    by: str
    created: str  # YYYY-MM-DD HH:MM UTC
    note: str
    expires: str | None
    evidence: list[EvidenceFile]

    @property
    def anchor(self) -> str:
        return f"attestation-{self.id}"


@dataclass
class RequirementView:
    """One row of the coverage matrix."""

    id: str
    title: str
    statement: str
    statement_is_quote: bool
    coverage: str
    status: str
    rules: list[RuleView]
    idle_rules: list[str] = field(default_factory=list)
    attestation: AttestationView | None = None
    counts: dict[str, int] = field(default_factory=dict)
    framework: str = ""
    reasons: list[str] = field(default_factory=list)  # why not applicable / not assessed
    targets: list[str] = field(default_factory=list)
    severity: str = ""

    @property
    def anchor(self) -> str:
        return req_anchor(self.framework, self.id)

    @property
    def short_title(self) -> str:
        """The title without CIS's "Ensure (that)" lead and "(Automated)" tail."""
        return short_title(self.title)

    @property
    def finding_rules(self) -> list[RuleView]:
        return [r for r in self.rules if r.bad]

    @property
    def manual_rules(self) -> list[RuleView]:
        return [r for r in self.rules if r.counts.get("manual")]


@dataclass
class SectionView:
    id: str
    title: str
    requirements: list[RequirementView]


@dataclass
class FrameworkView:
    id: str
    title: str
    version: str
    short: str
    counts: dict[str, int]
    coverage: dict[str, int]
    failures_by_severity: dict[str, int]
    sections: list[SectionView]
    trend: list[PeriodPoint]
    chart_svg: str = ""
    result_counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def label(self) -> str:
        """The name shown: 'CIS Docker Benchmark 1.8.0', 'NIST IR 8176: Security ...'."""
        name = self.title
        if self.version and self.version != "final":
            name = f"{name} {self.version}"
        if self.short.split()[0] not in name:
            name = f"{self.short}: {name}"
        return name

    @property
    def requirements(self) -> list[RequirementView]:
        return [req for sec in self.sections for req in sec.requirements]

    @property
    def columns(self) -> list[str]:
        """The result statuses the coverage matrix counts: pass, fail and manual always, the
        others when any result of the framework has them."""
        keep = ("pass", "fail", "manual")
        order = ("pass", "fail", "waived", "error", "manual", "not_applicable")
        return [s for s in order if s in keep or self.result_counts.get(s)]

    @property
    def judged(self) -> int:
        return sum(self.counts.get(s, 0) for s in ("pass", "fail", "error", "waived", "manual"))


@dataclass
class TargetView:
    uri: str
    kind: str
    status: str
    identity: list[tuple[str, str]]
    error: str | None
    evidence_count: int


@dataclass
class EvidenceRef:
    hash: str
    kind: str
    size: int
    target: str
    resource: str


@dataclass
class EvidenceDoc:
    """An evidence document a finding cites, shown in the appendix (bounded)."""

    hash: str
    kind: str
    size: int
    text: str  # pretty-printed JSON, at most DOC_CHARS characters
    cut: bool
    rules: list[str]

    @property
    def anchor(self) -> str:
        return f"evidence-{self.hash}"


@dataclass
class SignatureInfo:
    """Who signs the report; filled in before rendering so the appendix can say it."""

    kind: str  # "pades" or "cms"
    signer: str
    certificate_sha256: str
    not_after: str


@dataclass
class ReportMeta:
    organisation: str
    system: str
    assessor: str  # who prepared (rendered) the report, as given; never the finaliser
    period: str
    generated: datetime
    assessment_id: int
    assessment_uuid: str
    started: datetime
    finished: datetime | None
    status: str
    note: str | None
    scan_tool_version: str
    report_tool_version: str
    catalog_digest: str
    current_catalog_digest: str
    scanner_host: str | None
    logo_data_uri: str | None = None
    finalised_at: datetime | None = None
    finalised_by: str | None = None
    digest: str | None = None
    previous_digest: str | None = None

    @property
    def catalog_matches(self) -> bool:
        return self.catalog_digest == self.current_catalog_digest


@dataclass
class Change:
    rule: str
    title: str
    severity: str
    target: str
    resource: str
    status: str  # new findings: the status now; fixed ones: the status before
    now: str = ""  # fixed ones: the status now ("" when the resource is gone)


@dataclass
class Changes:
    """Findings (fail or error) new or gone since the previous period's assessment."""

    previous_id: int
    previous_period: str
    new: list[Change]
    fixed: list[Change]
    new_total: int
    fixed_total: int


@dataclass
class ReportData:
    meta: ReportMeta
    frameworks: list[FrameworkView]
    targets: list[TargetView]
    kinds: list[str]
    collectors: list[str]
    counts: dict[str, int]
    evidence: list[EvidenceRef]
    evidence_total_bytes: int
    signature: SignatureInfo | None
    changes: Changes | None = None
    waivers: list[WaiverView] = field(default_factory=list)
    expired_waivers: list[WaiverView] = field(default_factory=list)
    attestations: list[AttestationView] = field(default_factory=list)
    findings: list[RuleView] = field(default_factory=list)  # by severity, each rule once
    manual: list[RuleView] = field(default_factory=list)  # rules with a manual part
    evidence_docs: list[EvidenceDoc] = field(default_factory=list)
    # "attestation:<id>:<sha256>" and "evidence:<sha256>" -> href of the attached file
    attachments: dict[str, str] = field(default_factory=dict)
    statuses: tuple[str, ...] = REQUIREMENT_STATUSES
    status_labels: dict[str, str] = field(default_factory=lambda: dict(STATUS_LABELS))
    status_short: dict[str, str] = field(default_factory=lambda: dict(STATUS_SHORT))
    severities: tuple[str, ...] = SEVERITIES
    body_rows: int = BODY_ROWS
    excerpt_chars: int = EXCERPT_CHARS
    doc_chars: int = DOC_CHARS

    @property
    def unreachable(self) -> list[TargetView]:
        return [t for t in self.targets if t.status != "collected"]

    @property
    def finding_count(self) -> int:
        return self.counts.get("fail", 0) + self.counts.get("error", 0)

    @property
    def open_findings(self) -> list[RuleView]:
        return [f for f in self.findings if f.status in ("fail", "error")]

    @property
    def waived_findings(self) -> list[RuleView]:
        return [f for f in self.findings if f.status == "waived"]

    @property
    def findings_by_severity(self) -> dict[str, int]:
        """Open findings (rules) per severity."""
        c = Counter(f.severity for f in self.open_findings)
        return {s: c.get(s, 0) for s in SEVERITIES}

    def evidence_href(self, sha: str | None) -> str | None:
        """Where the full evidence document is: the attachment, else the appendix entry."""
        if not sha:
            return None
        href = self.attachments.get(f"evidence:{sha}")
        if href:
            return href
        if any(d.hash == sha for d in self.evidence_docs):
            return f"#evidence-{sha}"
        return f"#ev-{sha}"

    def attachment(self, key: str) -> str | None:
        return self.attachments.get(key)


def _label(key: str) -> str:
    return key.replace("_", " ")


def _identity_rows(identity: dict[str, Any]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in identity.items():
        if value in (None, "", [], {}):
            continue
        if key == "images" and isinstance(value, list):
            for img in value:
                if isinstance(img, dict):
                    name = ", ".join(img.get("repo_tags") or []) or img.get("reference") or ""
                    digest = img.get("digest") or img.get("manifest_digest") or img.get("id", "")
                    rows.append(("image", f"{name} {digest}".strip()))
            continue
        if isinstance(value, dict | list):
            value = json.dumps(value, sort_keys=True)
        rows.append((_label(key), str(value)))
    return rows


def _focus(value: Any, message: str) -> tuple[Any, bool]:
    """A large mapping cut down to the entries the message names (a file path, a key); the
    second value says whether anything was left out."""
    if not isinstance(value, dict) or len(json.dumps(value, default=str)) <= EXCERPT_CHARS:
        return value, False
    named = {k: v for k, v in value.items() if isinstance(k, str) and k and k in message}
    if named:
        return named, True
    return {"(keys)": sorted(str(k) for k in value)[:20]}, True


def _excerpt(
    doc: dict[str, Any] | None, paths: Sequence[str], message: str = ""
) -> tuple[str, bool]:
    """The values a rule reads from one evidence document, as bounded JSON, and whether the
    excerpt was cut (a long text, or a mapping reduced to what the message names)."""
    if doc is None:
        return "", False
    data = doc.get("data", doc)
    picked: dict[str, Any] = {}
    cut = False
    for path in paths:
        try:
            value = resolve(data, parse_path(path))
        except ValueError:
            continue
        if value is MISSING:
            picked[path] = "(absent)"
        else:
            picked[path], reduced = _focus(value, message)
            cut = cut or reduced
    text = json.dumps(picked, sort_keys=True, ensure_ascii=False, default=str)
    if len(text) > EXCERPT_CHARS:
        text = text[: EXCERPT_CHARS - 1] + "\u2026"
        cut = True
    return text, cut


def _date(value: object) -> str:
    return str(value or "")[:10]


def _waiver_view(w: dict[str, Any], results: int) -> WaiverView:
    return WaiverView(
        id=int(w["id"]),
        rule=str(w["rule"]),
        resource_pattern=str(w.get("resource_pattern") or "*"),
        target_pattern=str(w.get("target_pattern") or "*"),
        system=w.get("system"),
        reason=str(w.get("reason") or ""),
        approver=str(w.get("approver") or ""),
        compensating=w.get("compensating"),
        expires=_date(w.get("expires")),
        source=str(w.get("source") or ""),
        results=results,
        created=_date(w.get("created")),
    )


def _attestation_view(a: dict[str, Any], attachments: dict[str, str]) -> AttestationView:
    created = str(a.get("created") or "")
    aid = int(a["id"])
    files = []
    for e in a.get("evidence") or []:
        sha = str(e.get("sha256", ""))
        files.append(
            EvidenceFile(
                str(e.get("name", "")),
                sha,
                int(e.get("size", 0)),
                attachments.get(f"attestation:{aid}:{sha}"),
            )
        )
    return AttestationView(
        id=aid,
        framework=str(a["framework"]),
        requirement=str(a["requirement"]),
        status=str(a["status"]),
        by=str(a.get("by") or ""),
        created=created[:16].replace("T", " ") + " UTC" if created else "",
        note=str(a.get("note") or ""),
        expires=_date(a["expires"]) if a.get("expires") else None,
        evidence=files,
    )


def _generation_time() -> datetime:
    """Now, or SOURCE_DATE_EPOCH when set (the reproducible-builds convention), so a report
    of the same stored assessment can be rebuilt to the same bytes."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    return datetime.now(UTC)


def build(
    store: Store,
    catalog: Catalog,
    assessment_ref: str | None,
    *,
    frameworks: Sequence[str] = (),
    organisation: str = "",
    system: str = "",
    assessor: str = "",
    logo_data_uri: str | None = None,
    signature: SignatureInfo | None = None,
    max_findings: int = MAX_FINDINGS_PER_RULE,
    attachments: dict[str, str] | None = None,
    view: AssessmentView | None = None,
) -> ReportData:
    """Read one stored assessment into a report (``view``: an already loaded read model)."""
    from assessor import readmodel

    fw_ids = list(dict.fromkeys(frameworks)) or [
        f for f in DEFAULT_FRAMEWORKS if f in catalog.frameworks
    ]
    for fw in fw_ids:
        if fw not in catalog.frameworks:
            raise NotFoundError(
                f"no framework {fw!r}",
                hint="known: " + ", ".join(sorted(catalog.frameworks)),
            )
    v = view if view is not None else readmodel.load(store, catalog, assessment_ref)
    attached = dict(attachments or {})
    trend = v.trend(fw_ids)
    attestations = [_attestation_view(x, attached) for x in v.attestations]
    attested = {(x.framework, x.requirement): x for x in attestations}

    by_rule: dict[str, list[ResultView]] = {}
    for r in v.results:
        by_rule.setdefault(r.rule, []).append(r)
    rules = {
        rid: _rule_view(v, rid, rs, max_findings, fw_ids, attested) for rid, rs in by_rule.items()
    }
    by_id = {r.id: r for r in v.results}
    views = [_framework_view(v, fw, rules, trend, attested, by_id) for fw in fw_ids]

    findings = sorted(
        (rv for rv in rules.values() if rv.bad),
        key=lambda rv: (
            SEVERITIES.index(rv.severity) if rv.severity in SEVERITIES else len(SEVERITIES),
            _FINDING_ORDER.get(rv.status, 9),
            -rv.bad,
            rv.id,
        ),
    )
    manual = sorted(
        (rv for rv in rules.values() if rv.counts.get("manual") and (rv.procedure or rv.title)),
        key=lambda rv: rv.id,
    )
    for i, rv in enumerate(findings, 1):
        rv.number = f"F{i}"
    for i, rv in enumerate(manual, 1):
        rv.manual_number = f"M{i}"

    covered: Counter[int] = Counter()
    waiver_targets: dict[int, dict[str, None]] = {}
    for r in v.results:
        if r.waiver is not None:
            wid = int(r.waiver["id"])
            covered[wid] += 1
            waiver_targets.setdefault(wid, {})[r.target] = None
    waivers = []
    for w in v.waivers:
        wv = _waiver_view(w, covered[int(w["id"])])
        wv.targets = list(waiver_targets.get(wv.id, {}))
        waived_rule = rules.get(wv.rule)
        if waived_rule is not None:
            wv.severity, wv.frameworks = waived_rule.severity, waived_rule.frameworks
        waivers.append(wv)

    a = v.assessment
    meta = ReportMeta(
        organisation=organisation,
        system=system or v.system or ", ".join(v.scope),
        assessor=assessor,
        period=v.period,
        generated=_generation_time(),
        assessment_id=v.id,
        assessment_uuid=v.uuid,
        started=v.started,
        finished=v.finished,
        status=v.status,
        note=v.note,
        scan_tool_version=str(a.get("tool_version") or v.tool_version),
        report_tool_version=__version__,
        catalog_digest=v.catalog_digest,
        current_catalog_digest=catalog.digest,
        scanner_host=v.scanner_host,
        logo_data_uri=logo_data_uri,
        finalised_at=v.finalised_at,
        finalised_by=v.finalised_by,
        digest=v.digest,
        previous_digest=v.previous_digest,
    )
    kinds = sorted({t.kind for t in v.targets})
    data = ReportData(
        meta=meta,
        frameworks=views,
        targets=[
            TargetView(
                t.uri, t.kind, t.status, _identity_rows(t.identity), t.error, t.evidence_count
            )
            for t in v.targets
        ],
        kinds=kinds,
        collectors=[KIND_COLLECTORS.get(k, k) for k in kinds],
        counts={k: n for k, n in v.counts.items() if n},
        evidence=[
            EvidenceRef(e.hash, e.kind, e.size, e.target, e.resource) for e in v.target_evidence
        ],
        evidence_total_bytes=sum(e.size for e in v.target_evidence),
        signature=signature,
        changes=_changes(store, v, trend),
        waivers=waivers,
        expired_waivers=[_waiver_view(w, int(w.get("results", 0))) for w in v.expired_waivers],
        attestations=attestations,
        findings=findings,
        manual=manual,
        evidence_docs=_evidence_docs(v, findings),
        attachments=attached,
    )
    return data


def _evidence_docs(v: AssessmentView, findings: list[RuleView]) -> list[EvidenceDoc]:
    """The documents the findings' excerpts cite, pretty-printed and bounded."""
    cited: dict[str, list[str]] = {}
    for rv in findings:
        for f in rv.excerpts:
            if f.evidence_hash:
                cited.setdefault(f.evidence_hash, []).append(rv.id)
    docs = []
    for sha, rule_ids in list(cited.items())[:APPENDIX_DOCS]:
        doc = v.evidence_document(sha)
        if doc is None:
            continue
        text = json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False, default=str)
        cut = len(text) > DOC_CHARS
        info = v.evidence.get(sha)
        docs.append(
            EvidenceDoc(
                sha,
                info.kind if info is not None else str(doc.get("kind", "")),
                info.size if info is not None else len(text),
                text[:DOC_CHARS],
                cut,
                list(dict.fromkeys(rule_ids)),
            )
        )
    return docs


def _changes(store: Store, v: AssessmentView, trend: list[PeriodPoint]) -> Changes | None:
    """New and fixed findings against the previous period's assessment of the same scope: what
    ``assessor diff PREVIOUS THIS`` lists (assessor.audit.diff), so the two never disagree; a
    target or rule no longer assessed is not "fixed"."""
    from assessor.audit.diff import diff
    from assessor.store import queries

    points = [p for p in trend if p.assessment_id != v.id]
    if not points or len(trend) < 2:
        return None
    prev = points[-1]
    d = diff(
        store,
        queries.get_assessment(store, str(prev.assessment_id)),
        queries.get_assessment(store, str(v.id)),
    )

    def change(item: dict[str, Any], status: str | None, now: str | None) -> Change:
        return Change(
            str(item["rule"]),
            str(item["title"]),
            str(item["severity"]),
            str(item["target"]),
            str(item["resource"]),
            status or "",
            now or "",
        )

    new = [change(i, i["now"], None) for i in d.new_failures]
    fixed = [change(i, i["before"], i["now"]) for i in d.fixed]
    return Changes(prev.assessment_id, prev.period, new, fixed, len(new), len(fixed))


def _rule_view(
    v: AssessmentView,
    rule_id: str,
    results: list[ResultView],
    max_findings: int,
    fw_ids: Sequence[str],
    attested: dict[tuple[str, str], AttestationView],
) -> RuleView:
    from assessor.report.text import to_html

    rule = v.catalog.rules.get(rule_id)
    counts = Counter(r.status for r in results)
    bad = [r for r in results if r.status in ("fail", "error", "waived")]
    bad.sort(key=lambda r: (_FINDING_ORDER.get(r.status, 9), r.target, r.resource))
    shown = bad[:max_findings] if max_findings > 0 else bad
    paths = rule.evidence if rule is not None else []
    findings = []
    for i, r in enumerate(shown):
        # evidence is read only for the findings whose excerpt the body shows
        doc = v.evidence_document(r.evidence) if i < BODY_ROWS * 2 else None
        excerpt, cut = _excerpt(doc, paths, r.message)
        read, read_cut = _compact_read(v.sources(r) if doc is not None else [])
        findings.append(
            Finding(
                r.target,
                r.resource,
                r.status,
                r.message,
                r.evidence,
                excerpt,
                r.waiver,
                read,
                cut,
                r.id,
                read_cut,
            )
        )
    refs: dict[tuple[str, str], RequirementRef] = {}
    for r in results:
        for fw in fw_ids:
            for req in r.references.get(fw) or []:
                refs.setdefault((fw, req), RequirementRef(fw, SHORT_NAMES.get(fw, fw), req))
    first = results[0]
    remediation = rule.remediation.strip() if rule is not None else ""
    procedure = rule.manual.procedure.strip() if rule is not None and rule.manual else ""
    view = RuleView(
        id=rule_id,
        title=rule.title if rule is not None else first.title,
        severity=first.severity,
        automated=rule.automated if rule is not None else first.raw_status != "manual",
        counts=dict(counts),
        findings=findings,
        hidden=len(bad) - len(shown),
        remediation=remediation,
        procedure=procedure,
        remediation_html=to_html(remediation, "Remediation") if remediation else "",
        procedure_html=to_html(procedure) if procedure else "",
        requirements=sorted(
            refs.values(), key=lambda x: (list(fw_ids).index(x.framework), _natural(x.id))
        ),
        manual_resources=[
            (r.target, r.resource, r.message) for r in results if r.status == "manual"
        ],
    )
    view.attested = [
        (ref, attested[(ref.framework, ref.id)])
        for ref in view.requirements
        if (ref.framework, ref.id) in attested
    ]
    return view


_READ = re.compile(r"^read: (?P<where>.*), field (?P<field>\S+) = .*$", re.DOTALL)


def _compact_read(lines: list[str]) -> tuple[list[str], bool]:
    """``evaluate.sources`` lines grouped by where they were read: "WHERE: field, field". The
    values are left out (the excerpt beside it shows them), so nothing is cut here; the second
    value says whether a place's description was cut at READ_CHARS characters."""
    groups: dict[str, list[str]] = {}
    cut = False
    for line in lines:
        m = _READ.match(line)
        where, item = (m["where"], m["field"]) if m else (line.removeprefix("read: "), "")
        if len(where) > READ_CHARS:
            where, cut = where[: READ_CHARS - 1] + "\u2026", True
        groups.setdefault(where, [])
        if item:
            groups[where].append(item)
    return [f"{w}: {', '.join(items)}" if items else w for w, items in groups.items()], cut


def _natural(text: str) -> tuple[Any, ...]:
    """'2.10' after '2.9'; text parts compare as text."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


def _reasons(req: RequirementStatus, by_id: dict[int, ResultView]) -> list[str]:
    """Why a requirement is not applicable or not assessed, in plain words."""
    if req.status == "not_applicable":
        msgs = [by_id[i].message for i in req.result_ids if by_id[i].status == "not_applicable"]
        out = list(dict.fromkeys(m.strip() for m in msgs if m.strip()))
        if len(out) > NA_REASONS:
            out = [*out[:NA_REASONS], f"and {len(out) - NA_REASONS} more reasons"]
        return out or ["no rule applied to the targets in scope"]
    if req.status == "not_assessed":
        if req.idle_rules:
            return ["no target its rules read was in scope"]
        if req.coverage == "not_applicable":
            return ["not applicable to container deployments (catalog)"]
        return ["no rule of the catalog meets it: not assessed by assessor"]
    return []


def _framework_view(
    v: AssessmentView,
    fw_id: str,
    rules: dict[str, RuleView],
    trend: list[PeriodPoint],
    attested: dict[tuple[str, str], AttestationView],
    by_id: dict[int, ResultView],
) -> FrameworkView:
    status = v.frameworks[fw_id]
    reqs = {r.id: r for r in v.catalog.frameworks[fw_id].requirements}
    coverage: Counter[str] = Counter()
    sections: dict[str, SectionView] = {}
    for rs in status.requirements:
        coverage[rs.coverage] += 1
        req = reqs.get(rs.id)
        statement, quoted = ("", False)
        if req is not None:
            statement, quoted = (req.text, True) if req.text else (req.summary, False)
        rviews = [rules[rid] for rid in rs.rules if rid in rules]
        sev = [rv.severity for rv in rviews if rv.bad]
        view = RequirementView(
            id=rs.id,
            title=rs.title,
            statement=statement,
            statement_is_quote=quoted,
            coverage=rs.coverage,
            status=rs.status,
            rules=rviews,
            idle_rules=list(rs.idle_rules),
            attestation=attested.get((fw_id, rs.id)),
            counts=dict(rs.counts),
            framework=fw_id,
            reasons=_reasons(rs, by_id),
            targets=list(dict.fromkeys(by_id[i].target for i in rs.result_ids)),
            severity=" ".join(dict.fromkeys(sev)),
        )
        key = rs.section or rs.id
        if key not in sections:
            sections[key] = SectionView(key, rs.section_title, [])
        sections[key].requirements.append(view)
    return FrameworkView(
        id=fw_id,
        title=status.title,
        version=status.version,
        short=SHORT_NAMES.get(fw_id, fw_id),
        counts=dict(status.counts),
        coverage=dict(coverage),
        failures_by_severity=dict(status.failures_by_severity),
        sections=list(sections.values()),
        trend=trend,
        result_counts=dict(status.result_counts),
    )
