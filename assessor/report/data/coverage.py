"""The report's coverage matrix: per framework, its sections and requirements, each with its
status, the rules that meet it, its attestation and why it is not applicable or not
assessed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assessor.report.data.labels import (
    MATRIX_COLUMNS,
    MATRIX_KEPT,
    NA_REASONS,
    SHORT_NAMES,
    req_anchor,
    short_title,
)
from assessor.vocab import JUDGED_STATUSES, Coverage, Status

if TYPE_CHECKING:
    from assessor.audit.trend import PeriodPoint
    from assessor.readmodel import AssessmentView, RequirementStatus, ResultView
    from assessor.report.data.findings import RuleView
    from assessor.report.data.waivers import AttestationView


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
        return [r for r in self.rules if r.counts.get(Status.MANUAL)]


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
        return [s for s in MATRIX_COLUMNS if s in MATRIX_KEPT or self.result_counts.get(s)]

    @property
    def judged(self) -> int:
        return sum(self.counts.get(s, 0) for s in JUDGED_STATUSES)


def _reasons(req: RequirementStatus, by_id: dict[int, ResultView]) -> list[str]:
    """Why a requirement is not applicable or not assessed, in plain words."""
    if req.status == Status.NOT_APPLICABLE:
        msgs = [
            by_id[i].message for i in req.result_ids if by_id[i].status == Status.NOT_APPLICABLE
        ]
        out = list(dict.fromkeys(m.strip() for m in msgs if m.strip()))
        if len(out) > NA_REASONS:
            out = [*out[:NA_REASONS], f"and {len(out) - NA_REASONS} more reasons"]
        return out or ["no rule applied to the targets in scope"]
    if req.status == Status.NOT_ASSESSED:
        if req.idle_rules:
            return ["no target its rules read was in scope"]
        if req.coverage == Coverage.NOT_APPLICABLE:
            return ["not applicable to container deployments (catalog)"]
        return ["no rule of the catalog meets it: not assessed by assessor"]
    return []


def framework_view(
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
