"""Everything a report shows, read from one stored assessment and the catalog.

Reports read stored assessments only, never a live target (DESIGN §2). The templates get
plain dataclasses: no database session, no lazy loading while rendering.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from assessor import __version__
from assessor.audit.rollup import REQUIREMENT_STATUSES, rollup
from assessor.audit.trend import PeriodPoint, period_trend
from assessor.catalog import Catalog
from assessor.catalog.schema import Requirement
from assessor.errors import NotFoundError
from assessor.evaluate.paths import MISSING, parse_path, resolve
from assessor.evaluate.sources import sources
from assessor.store.db import Store
from assessor.store.models import Assessment, Result, Target, TargetEvidence
from assessor.store.models import Evidence as EvidenceRow

DEFAULT_FRAMEWORKS = ("nistir-8176", "cis-docker-1.8.0", "sp800-190")
SEVERITIES = ("critical", "high", "medium", "low", "info")
EXCERPT_CHARS = 600  # one finding's evidence excerpt, at most
MAX_FINDINGS_PER_RULE = 500  # failing resources listed under one rule; the rest are counted

STATUS_LABELS = {
    "pass": "passed",
    "fail": "failed",
    "waived": "waived",
    "manual": "manual",
    "not_applicable": "not applicable",
    "error": "error",
    "not_assessed": "not assessed",
}
KIND_COLLECTORS = {
    "host": "host: files, modes and owners, daemon configuration, systemd units, audit rules, "
    "kernel features",
    "engine": "engine: the Docker Engine API (info, version, containers, networks, images, swarm)",
    "image": "image: manifest, configuration, history and every layer, streamed and never "
    "extracted",
    "registry": "registry: the OCI distribution API, TLS, anonymous access probes, tags and "
    "signatures",
}


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


@dataclass
class EvidenceFile:
    name: str
    sha256: str
    size: int


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


@dataclass
class RuleView:
    id: str
    title: str
    severity: str
    automated: bool
    counts: dict[str, int]
    findings: list[Finding] = field(default_factory=list)
    hidden: int = 0  # findings beyond the per-rule limit
    remediation: str = ""
    procedure: str = ""


@dataclass
class RequirementView:
    id: str
    title: str
    statement: str  # the framework's text (quoted) or our summary
    statement_is_quote: bool
    coverage: str
    status: str
    rules: list[RuleView]
    idle_rules: list[str] = field(default_factory=list)
    attestation: AttestationView | None = None


@dataclass
class SectionView:
    id: str
    title: str
    requirements: list[RequirementView]


SHORT_NAMES = {
    "nistir-8176": "NIST IR 8176",
    "cis-docker-1.8.0": "CIS Docker 1.8.0",
    "cis-docker-1.6.0": "CIS Docker 1.6.0",
    "sp800-190": "SP 800-190",
    "nist-800-53r5": "SP 800-53r5",
}


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
    assessor: str
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
    status: str  # now (new findings) or before (fixed ones)


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
    statuses: tuple[str, ...] = REQUIREMENT_STATUSES
    status_labels: dict[str, str] = field(default_factory=lambda: dict(STATUS_LABELS))
    severities: tuple[str, ...] = SEVERITIES

    @property
    def unreachable(self) -> list[TargetView]:
        return [t for t in self.targets if t.status != "collected"]

    @property
    def finding_count(self) -> int:
        return self.counts.get("fail", 0) + self.counts.get("error", 0)


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


def _focus(value: Any, message: str) -> Any:
    """A large mapping cut down to the entries the message names (a file path, a key)."""
    if not isinstance(value, dict) or len(json.dumps(value, default=str)) <= EXCERPT_CHARS:
        return value
    named = {k: v for k, v in value.items() if isinstance(k, str) and k and k in message}
    if named:
        return named
    return {"(keys)": sorted(str(k) for k in value)[:20]}


def _excerpt(doc: dict[str, Any] | None, paths: Sequence[str], message: str = "") -> str:
    """The values a rule reads from one evidence document, as bounded JSON."""
    if doc is None:
        return ""
    data = doc.get("data", doc)
    picked: dict[str, Any] = {}
    for path in paths:
        try:
            value = resolve(data, parse_path(path))
        except ValueError:
            continue
        picked[path] = "(absent)" if value is MISSING else _focus(value, message)
    text = json.dumps(picked, sort_keys=True, ensure_ascii=False, default=str)
    if len(text) > EXCERPT_CHARS:
        text = text[: EXCERPT_CHARS - 1] + "…"
    return text


class _EvidenceCache:
    """Evidence documents read once each, only those a shown finding needs."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.docs: dict[str, dict[str, Any] | None] = {}

    def get(self, sha: str | None) -> dict[str, Any] | None:
        if sha is None:
            return None
        if sha not in self.docs:
            row = self.session.get(EvidenceRow, sha)
            self.docs[sha] = json.loads(zlib.decompress(row.body)) if row is not None else None
        return self.docs[sha]


def _shown(r: Result, waivers: dict[int, dict[str, Any]]) -> str:
    """A result's status as reported: a fail covered by an applied waiver reads "waived"."""
    return "waived" if r.status == "fail" and r.id in waivers else r.status


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
        expires=str(w.get("expires") or "")[:10],
        source=str(w.get("source") or ""),
        results=results,
    )


def _attestation_view(a: dict[str, Any]) -> AttestationView:
    created = str(a.get("created") or "")
    return AttestationView(
        id=int(a["id"]),
        framework=str(a["framework"]),
        requirement=str(a["requirement"]),
        status=str(a["status"]),
        by=str(a.get("by") or ""),
        created=created[:16].replace("T", " ") + " UTC" if created else "",
        note=str(a.get("note") or ""),
        expires=str(a["expires"])[:10] if a.get("expires") else None,
        evidence=[
            EvidenceFile(str(e.get("name", "")), str(e.get("sha256", "")), int(e.get("size", 0)))
            for e in a.get("evidence") or []
        ],
    )


def _statement(req: Requirement) -> tuple[str, bool]:
    if req.text:
        return req.text, True
    return req.summary, False


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
) -> ReportData:
    """Read one stored assessment into a report."""
    from assessor.audit.attestations import attestations_for
    from assessor.audit.waivers import applied_waivers, expired_waivers
    from assessor.store import queries

    fw_ids = list(dict.fromkeys(frameworks)) or [
        f for f in DEFAULT_FRAMEWORKS if f in catalog.frameworks
    ]
    for fw in fw_ids:
        if fw not in catalog.frameworks:
            raise NotFoundError(
                f"no framework {fw!r}",
                hint="known: " + ", ".join(sorted(catalog.frameworks)),
            )
    a = queries.get_assessment(store, assessment_ref)
    with store.session() as s:
        a = s.get(Assessment, a.id) or a
        targets = list(
            s.scalars(select(Target).where(Target.assessment_id == a.id).order_by(Target.id))
        )
        uri_of = {t.id: t.uri for t in targets}
        results = list(
            s.scalars(
                select(Result)
                .where(Result.assessment_id == a.id)
                .order_by(Result.target_id, Result.rule, Result.resource)
            )
        )
        evidence_rows = s.execute(
            select(
                TargetEvidence.target_id,
                TargetEvidence.evidence_hash,
                TargetEvidence.resource,
                EvidenceRow.kind,
                EvidenceRow.size,
            )
            .join(EvidenceRow, EvidenceRow.hash == TargetEvidence.evidence_hash)
            .where(TargetEvidence.target_id.in_([t.id for t in targets]))
            .order_by(TargetEvidence.target_id, TargetEvidence.resource)
        ).all()
        counted = s.execute(
            select(TargetEvidence.target_id, func.count())
            .where(TargetEvidence.target_id.in_([t.id for t in targets]))
            .group_by(TargetEvidence.target_id)
        )
        ev_count = {int(tid): int(n) for tid, n in counted}
        waivers = applied_waivers(s, a)
        expired = expired_waivers(s, a)
        attestations = [_attestation_view(x) for x in attestations_for(s, a)]
        cache = _EvidenceCache(s)
        by_rule: dict[str, list[Result]] = defaultdict(list)
        for r in results:
            by_rule[r.rule].append(r)
        rule_views = {
            rid: _rule_view(catalog, rid, rs, uri_of, cache, max_findings, waivers)
            for rid, rs in by_rule.items()
        }
        trend = period_trend(store, a, fw_ids)
        changes = None
        if len(trend) >= 2:
            prev = trend[-2]
            changes = _changes(s, results, uri_of, prev.assessment_id, prev.period, max_findings)

    attested = {(x.framework, x.requirement): x for x in attestations}
    views = [
        _framework_view(catalog, fw, results, rule_views, trend, waivers, attested) for fw in fw_ids
    ]
    covered: Counter[int] = Counter(int(w["id"]) for w in waivers.values())
    first: dict[int, dict[str, Any]] = {}
    for w in waivers.values():
        first.setdefault(int(w["id"]), w)
    meta = ReportMeta(
        organisation=organisation,
        system=system or a.system or ", ".join(a.scope),
        assessor=assessor,
        period=a.period,
        generated=datetime.now(UTC),
        assessment_id=a.id,
        assessment_uuid=a.uuid,
        started=a.started,
        finished=a.finished,
        status=a.status,
        note=a.note,
        scan_tool_version=a.tool_version,
        report_tool_version=__version__,
        catalog_digest=a.catalog_digest,
        current_catalog_digest=catalog.digest,
        scanner_host=a.scanner_host,
        logo_data_uri=logo_data_uri,
        finalised_at=a.finalised_at,
        finalised_by=a.finalised_by,
        digest=a.digest,
        previous_digest=a.previous_digest,
    )
    kinds = sorted({t.kind for t in targets})
    return ReportData(
        meta=meta,
        frameworks=views,
        targets=[
            TargetView(
                t.uri, t.kind, t.status, _identity_rows(t.identity), t.error, ev_count.get(t.id, 0)
            )
            for t in targets
        ],
        kinds=kinds,
        collectors=[KIND_COLLECTORS.get(k, k) for k in kinds],
        counts=dict(Counter(_shown(r, waivers) for r in results)),
        evidence=[
            EvidenceRef(h, k, size, uri_of[tid], res) for tid, h, res, k, size in evidence_rows
        ],
        evidence_total_bytes=sum(row[4] for row in evidence_rows),
        signature=signature,
        changes=changes,
        waivers=[_waiver_view(first[i], covered[i]) for i in sorted(first)],
        expired_waivers=[_waiver_view(w, int(w.get("results", 0))) for w in expired],
        attestations=attestations,
    )


def _changes(
    session: Any,
    results: list[Result],
    uri_of: dict[int, str],
    previous_id: int,
    previous_period: str,
    limit: int,
) -> Changes:
    bad = ("fail", "error")

    def key(rule: str, target: str, resource: str) -> tuple[str, str, str]:
        return (rule, target, resource)

    now = {
        key(r.rule, uri_of.get(r.target_id, ""), r.resource): Change(
            r.rule, r.title, r.severity, uri_of.get(r.target_id, ""), r.resource, r.status
        )
        for r in results
        if r.status in bad
    }
    rows = session.execute(
        select(
            Result.rule, Result.title, Result.severity, Target.uri, Result.resource, Result.status
        )
        .join(Target, Result.target_id == Target.id)
        .where(Result.assessment_id == previous_id, Result.status.in_(bad))
    ).all()
    before = {
        key(rule, uri, res): Change(rule, t, sev, uri, res, st)
        for rule, t, sev, uri, res, st in rows
    }
    new = [c for k, c in sorted(now.items()) if k not in before]
    fixed = [c for k, c in sorted(before.items()) if k not in now]
    cap = limit if limit > 0 else None
    return Changes(previous_id, previous_period, new[:cap], fixed[:cap], len(new), len(fixed))


def _rule_view(
    catalog: Catalog,
    rule_id: str,
    results: list[Result],
    uri_of: dict[int, str],
    cache: _EvidenceCache,
    max_findings: int,
    waivers: dict[int, dict[str, Any]] | None = None,
) -> RuleView:
    waivers = waivers or {}
    rule = catalog.rules.get(rule_id)
    counts = Counter(_shown(r, waivers) for r in results)
    # an automated rule's manual result lists what the reviewer must judge (CIS 4.8's files)
    listed = (
        ("fail", "error", "manual") if rule is not None and rule.automated else ("fail", "error")
    )
    bad = [r for r in results if r.status in listed]
    shown = bad[:max_findings] if max_findings > 0 else bad
    paths = rule.evidence if rule is not None else []
    findings = [
        Finding(
            uri_of.get(r.target_id, ""),
            r.resource,
            _shown(r, waivers),
            r.message,
            r.evidence_hash,
            _excerpt(cache.get(r.evidence_hash), paths, r.message),
            waivers.get(r.id) if r.status == "fail" else None,
            sources(paths, cache.get(r.evidence_hash)),
        )
        for r in shown
    ]
    first = results[0]
    return RuleView(
        id=rule_id,
        title=rule.title if rule is not None else first.title,
        severity=first.severity,
        automated=rule.automated if rule is not None else first.status != "manual",
        counts=dict(counts),
        findings=findings,
        hidden=len(bad) - len(shown),
        remediation=rule.remediation.strip() if rule is not None else "",
        procedure=rule.manual.procedure.strip() if rule is not None and rule.manual else "",
    )


def _framework_view(
    catalog: Catalog,
    fw_id: str,
    results: list[Result],
    rule_views: dict[str, RuleView],
    trend: list[PeriodPoint],
    waivers: dict[int, dict[str, Any]] | None = None,
    attested: dict[tuple[str, str], AttestationView] | None = None,
) -> FrameworkView:
    waivers = waivers or {}
    attested = attested or {}
    fw = catalog.frameworks[fw_id]
    # requirement id -> the rules whose results reference it (as stored at scan time)
    req_rules: dict[str, dict[str, None]] = defaultdict(dict)
    req_statuses: dict[str, list[str]] = defaultdict(list)
    failures: Counter[str] = Counter()
    for r in results:
        ids = (r.references or {}).get(fw_id)
        if not ids:
            continue
        for rid in ids:
            req_rules[rid][r.rule] = None
            req_statuses[rid].append(_shown(r, waivers))
        if _shown(r, waivers) == "fail":
            failures[r.severity] += 1
    counts = dict.fromkeys(REQUIREMENT_STATUSES, 0)
    coverage: Counter[str] = Counter()
    sections: dict[str, SectionView] = {}
    for req in fw.requirements:
        attestation = attested.get((fw_id, req.id))
        statuses = req_statuses.get(req.id, [])
        if attestation is not None:
            # the attestation answers the manual part: it replaces the "manual" results
            statuses = [st for st in statuses if st != "manual"] + [attestation.status]
        status = rollup(statuses)
        counts[status] += 1
        cov = catalog.coverage(req).value
        coverage[cov] += 1
        statement, quoted = _statement(req)
        rules = [rule_views[rid] for rid in req_rules.get(req.id, {})]
        # rules the catalog lists that gave no result (no target of their kind in scope)
        idle = [rid for rid in req.rules if rid not in req_rules.get(req.id, {})]
        view = RequirementView(
            id=req.id,
            title=req.title,
            statement=statement,
            statement_is_quote=quoted,
            coverage=cov,
            status=status,
            rules=rules,
            idle_rules=idle,
            attestation=attestation,
        )
        key = req.section or req.id
        if key not in sections:
            sections[key] = SectionView(key, req.section_title, [])
        sections[key].requirements.append(view)
    return FrameworkView(
        id=fw_id,
        title=fw.framework.title,
        version=fw.framework.version,
        short=SHORT_NAMES.get(fw_id, fw_id),
        counts=counts,
        coverage=dict(coverage),
        failures_by_severity={s: failures.get(s, 0) for s in SEVERITIES},
        sections=list(sections.values()),
        trend=trend,
    )
