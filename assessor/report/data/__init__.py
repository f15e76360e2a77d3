"""Everything a report shows, read from one stored assessment through the read model.

Reports read stored assessments only, never a live target (DESIGN §2). Requirement statuses,
result counts and roll-ups come from ``assessor.readmodel`` (the numbers ``assessor results``
and every export show); this module only arranges them for the templates: the findings (each
failing rule once, by severity), the coverage matrix, the manual procedures, the waivers and
attestations, and the appendices. The templates get plain dataclasses: no database session,
no lazy loading while rendering. One module per part of the report: ``summary`` (cover,
scope, changes), ``findings``, ``coverage`` (the matrix), ``waivers`` (and attestations);
``labels`` holds the words and limits they share.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assessor import readmodel
from assessor.errors import NotFoundError
from assessor.report.data.coverage import FrameworkView, framework_view
from assessor.report.data.findings import (
    EvidenceDoc,
    RuleView,
    evidence_docs,
    numbered_findings,
    rule_view,
)
from assessor.report.data.labels import (
    BODY_ROWS,
    DEFAULT_FRAMEWORKS,
    DOC_CHARS,
    EXCERPT_CHARS,
    KIND_COLLECTORS,
    MAX_FINDINGS_PER_RULE,
    STATUS_LABELS,
    STATUS_SHORT,
)
from assessor.report.data.summary import (
    Changes,
    EvidenceRef,
    ReportMeta,
    SignatureInfo,
    TargetView,
    changes,
    report_meta,
    target_views,
)
from assessor.report.data.waivers import (
    AttestationView,
    WaiverView,
    attestation_view,
    waiver_view,
)
from assessor.vocab import (
    FAILING_STATUSES,
    REQUIREMENT_STATUSES,
    SEVERITIES_WORST_FIRST,
    Status,
    TargetStatus,
)

if TYPE_CHECKING:
    from assessor.catalog import Catalog
    from assessor.readmodel import AssessmentView, ResultView
    from assessor.store.db import Store


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
    severities: tuple[str, ...] = SEVERITIES_WORST_FIRST
    body_rows: int = BODY_ROWS
    excerpt_chars: int = EXCERPT_CHARS
    doc_chars: int = DOC_CHARS

    @property
    def unreachable(self) -> list[TargetView]:
        return [t for t in self.targets if t.status != TargetStatus.COLLECTED]

    @property
    def finding_count(self) -> int:
        return sum(self.counts.get(s, 0) for s in FAILING_STATUSES)

    @property
    def open_findings(self) -> list[RuleView]:
        return [f for f in self.findings if f.status in FAILING_STATUSES]

    @property
    def waived_findings(self) -> list[RuleView]:
        return [f for f in self.findings if f.status == Status.WAIVED]

    @property
    def findings_by_severity(self) -> dict[str, int]:
        """Open findings (rules) per severity."""
        c = Counter(f.severity for f in self.open_findings)
        return {s: c.get(s, 0) for s in SEVERITIES_WORST_FIRST}

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
    fw_ids = framework_ids(catalog, frameworks)
    v = view if view is not None else readmodel.load(store, catalog, assessment_ref)
    attached = dict(attachments or {})
    trend = v.trend(fw_ids)
    attestations = [attestation_view(x, attached) for x in v.attestations]
    attested = {(x.framework, x.requirement): x for x in attestations}
    by_rule: dict[str, list[ResultView]] = {}
    for r in v.results:
        by_rule.setdefault(r.rule, []).append(r)
    rules = {
        rid: rule_view(v, rid, rs, max_findings, fw_ids, attested) for rid, rs in by_rule.items()
    }
    by_id = {r.id: r for r in v.results}
    views = [framework_view(v, fw, rules, trend, attested, by_id) for fw in fw_ids]
    findings, manual = numbered_findings(rules)
    kinds = sorted({t.kind for t in v.targets})
    return ReportData(
        meta=report_meta(v, catalog, organisation, system, assessor, logo_data_uri),
        frameworks=views,
        targets=target_views(v),
        kinds=kinds,
        collectors=[KIND_COLLECTORS.get(k, k) for k in kinds],
        counts={k: n for k, n in v.counts.items() if n},
        evidence=[
            EvidenceRef(e.hash, e.kind, e.size, e.target, e.resource) for e in v.target_evidence
        ],
        evidence_total_bytes=sum(e.size for e in v.target_evidence),
        signature=signature,
        changes=changes(store, v, trend),
        waivers=_waiver_views(v, rules),
        expired_waivers=[waiver_view(w, int(w.get("results", 0))) for w in v.expired_waivers],
        attestations=attestations,
        findings=findings,
        manual=manual,
        evidence_docs=evidence_docs(v, findings),
        attachments=attached,
    )


def framework_ids(catalog: Catalog, frameworks: Sequence[str]) -> list[str]:
    """The frameworks asked for (the defaults the catalog has, when none), each known."""
    fw_ids = list(dict.fromkeys(frameworks)) or [
        f for f in DEFAULT_FRAMEWORKS if f in catalog.frameworks
    ]
    for fw in fw_ids:
        if fw not in catalog.frameworks:
            raise NotFoundError(
                f"no framework {fw!r}",
                hint="known: " + ", ".join(sorted(catalog.frameworks)),
            )
    return fw_ids


def _waiver_views(v: AssessmentView, rules: dict[str, RuleView]) -> list[WaiverView]:
    """The applied waivers, each with the results it covers, their targets, and its rule's
    severity and frameworks."""
    covered: Counter[int] = Counter()
    waiver_targets: dict[int, dict[str, None]] = {}
    for r in v.results:
        if r.waiver is not None:
            wid = int(r.waiver["id"])
            covered[wid] += 1
            waiver_targets.setdefault(wid, {})[r.target] = None
    waivers = []
    for w in v.waivers:
        wv = waiver_view(w, covered[int(w["id"])])
        wv.targets = list(waiver_targets.get(wv.id, {}))
        waived_rule = rules.get(wv.rule)
        if waived_rule is not None:
            wv.severity, wv.frameworks = waived_rule.severity, waived_rule.frameworks
        waivers.append(wv)
    return waivers


__all__ = [
    "DEFAULT_FRAMEWORKS",
    "ReportData",
    "SignatureInfo",
    "build",
]
