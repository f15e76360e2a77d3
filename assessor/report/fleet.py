"""The fleet report's data: every host of one system in one period, worst first.

A fleet is every assessment of a system in a period that finished (assessor.audit.fleet): each host
is read from its latest reading there. The report reads each covered assessment once, as plain
rows, its waivers applied as every output applies them, and keeps, per host, only its counts
and its findings (failing, unevaluable and waived results, grouped by rule, at most
``max_findings`` resources per rule), so memory grows with the hosts' findings, not with every
result of every host.

Top-down for an auditor: the fleet's summary (hosts assessed, hosts by the worst severity
they fail, hosts not reached), the hosts worst first, each control across the fleet (how many
hosts pass and fail it), then, as appendices, the assessments covered and each host's detail.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from assessor import __version__
from assessor.audit.fleet import Reading, by_assessment, readings
from assessor.audit.trend import period_trend
from assessor.audit.waivers import applied_waivers
from assessor.errors import NotFoundError, StoreError
from assessor.report.data import framework_ids
from assessor.report.data.summary import generation_time
from assessor.store.models import Assessment, Result, Target
from assessor.vocab import (
    FAILING_STATUSES,
    RESULT_STATUSES,
    SEVERITIES_WORST_FIRST,
    STORED_STATUSES,
    Status,
    TargetStatus,
    severity_place,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from assessor.audit.trend import PeriodPoint
    from assessor.catalog import Catalog
    from assessor.report.data import SignatureInfo
    from assessor.store.db import Store

# a host's status for a rule: the worst of its results there, in this order
_RULE_ORDER = (
    Status.FAIL,
    Status.ERROR,
    Status.WAIVED,
    Status.MANUAL,
    Status.PASS,
    Status.NOT_APPLICABLE,
)
_PLACE = {s.value: i for i, s in enumerate(_RULE_ORDER)}
SHOWN_FINDINGS = (Status.FAIL, Status.ERROR, Status.WAIVED)
_STORED = {s.value: s for s in STORED_STATUSES}
# a PDF's appendix: the worst hosts' findings only, a few resources per rule (a thousand
# hosts' findings are thousands of pages; the HTML report has every host's, a file each)
PDF_DETAIL_HOSTS = 10
PDF_RESOURCES_PER_RULE = 3


@dataclass(frozen=True, slots=True)
class HostTarget:
    uri: str
    kind: str
    status: str  # collected | unreachable | error
    error: str | None


@dataclass
class HostFinding:
    """One rule's failing (or unevaluable, or waived) results on one host."""

    rule: str
    title: str
    severity: str
    status: str  # fail | error | waived: the worst of its results here
    results: int
    shown: list[tuple[str, str, str]]  # (target, resource, message), at most max_findings


@dataclass
class HostRow:
    name: str
    assessment_id: int
    read_at: datetime
    targets: list[HostTarget]
    counts: dict[str, int]  # results by shown status
    fails: dict[str, int]  # failing results by severity
    failed_rules: dict[str, int]  # failing rules by severity
    findings: list[HostFinding]
    rules: dict[str, str]  # rule -> its status here (the worst of its results)
    number: int = 0  # its place in the report, worst first (1-based)
    href: str = ""  # where its detail is: a file beside an HTML report, or "#host-N"

    @property
    def status(self) -> str:
        """assessed, partial (a target not read) or unreachable (none read)."""
        read = sum(1 for t in self.targets if t.status == TargetStatus.COLLECTED)
        return "assessed" if read == len(self.targets) else "partial" if read else "unreachable"

    @property
    def worst(self) -> str | None:
        """The worst severity of a failing result, None when nothing fails."""
        return next((s for s in SEVERITIES_WORST_FIRST if self.fails.get(s)), None)

    @property
    def anchor(self) -> str:
        return f"host-{self.number}"

    def rank(self) -> tuple[object, ...]:
        """Worst first: the worst severity failed, failing results by severity, then hosts not
        reached, then unevaluable results, then by name."""
        worst = self.worst
        return (
            severity_place(worst) if worst else len(SEVERITIES_WORST_FIRST),
            *(-self.fails.get(s, 0) for s in SEVERITIES_WORST_FIRST),
            {"unreachable": 0, "partial": 1}.get(self.status, 2),
            -self.counts.get(Status.ERROR, 0),
            self.name,
        )


@dataclass
class ControlRow:
    """One rule across the fleet: hosts by their status for it (the worst of their results)."""

    rule: str
    title: str
    severity: str
    hosts: dict[str, int]  # status -> hosts
    failing: list[str] = field(default_factory=list)  # the first failing hosts, worst first


@dataclass(frozen=True, slots=True)
class CoveredAssessment:
    id: int
    uuid: str
    started: datetime
    finished: datetime | None
    scanner_host: str | None
    finalised_at: datetime | None
    finalised_by: str | None
    digest: str | None
    catalog_digest: str
    tool_version: str
    hosts: int  # hosts read from it


@dataclass
class FleetData:
    organisation: str
    system: str
    period: str
    assessor: str
    generated: datetime
    logo_data_uri: str | None
    catalog_digest: str  # the catalog the report was written with
    assessments: list[CoveredAssessment]
    hosts: list[HostRow]  # worst first
    controls: list[ControlRow]
    frameworks: list[str]
    framework_titles: dict[str, str]
    trend: list[PeriodPoint]
    signature: SignatureInfo | None = None
    max_findings: int = 0
    report_tool_version: str = __version__
    charts: dict[str, str] = field(default_factory=dict)  # framework -> SVG
    detail_files: bool = False  # each host's detail in a file beside the report (HTML)
    detail_hosts: list[HostRow] = field(default_factory=list)  # the appendix's hosts (PDF)
    detail_note: str = ""  # a word on where the rest of the detail is, when the appendix is cut
    severities: tuple[str, ...] = SEVERITIES_WORST_FIRST
    rule_statuses: tuple[str, ...] = tuple(s.value for s in _RULE_ORDER)
    unreached_shown: int = 200  # hosts not reached named in the summary; the table marks all

    @property
    def by_worst(self) -> dict[str, int]:
        """Hosts by the worst severity they fail ("none": nothing fails)."""
        c = Counter(h.worst or "none" for h in self.hosts)
        return {s: c.get(s, 0) for s in (*SEVERITIES_WORST_FIRST, "none")}

    @property
    def unreachable(self) -> list[HostRow]:
        return [h for h in self.hosts if h.status != "assessed"]

    @property
    def failing_hosts(self) -> int:
        return sum(1 for h in self.hosts if h.worst)

    @property
    def point(self) -> PeriodPoint | None:
        """The fleet's own period in the trend (requirements rolled up over every host)."""
        return self.trend[-1] if self.trend and self.trend[-1].period == self.period else None

    @property
    def finalised(self) -> int:
        return sum(1 for a in self.assessments if a.finalised_at is not None)


@dataclass
class FleetRequest:
    system: str
    period: str
    frameworks: Sequence[str] = ()
    organisation: str = ""
    assessor: str = ""
    logo_data_uri: str | None = None
    max_findings: int = 20
    signature: SignatureInfo | None = None


def build(store: Store, catalog: Catalog, request: FleetRequest) -> FleetData:
    """Read the fleet of ``request.system`` in ``request.period``."""
    fws = framework_ids(catalog, request.frameworks)
    with store.session() as s:
        found = readings(s, request.system, [request.period]).get(request.period, [])
    if not found:
        raise NotFoundError(
            f"no finished assessment of system {request.system!r} in period {request.period}",
            hint="'assessor assessments' lists systems and periods",
        )
    groups = by_assessment(found)
    hosts: list[HostRow] = []
    covered: list[CoveredAssessment] = []
    titles: dict[str, tuple[str, str]] = {}  # rule -> (title, severity) as judged
    with store.session() as s:
        for aid, rs in groups.items():
            a, targets, results = _read(s, aid)
            for r in results:
                titles.setdefault(r.rule, (r.title, r.severity))
            hosts += [_host_row(a, targets, results, r, request.max_findings) for r in rs]
            covered.append(_covered(a, len(rs)))
    hosts.sort(key=HostRow.rank)
    for n, h in enumerate(hosts, 1):
        h.number = n
        h.href = f"#{h.anchor}"
    # the trend ends with the latest reading (by start, as hosts are read): for each host it
    # read, it is that host's latest reading too, so the trend's period reads what this does
    last = max(covered, key=lambda a: (a.started, a.id))
    with store.session() as s:
        latest = s.get(Assessment, last.id)
        assert latest is not None
    trend = period_trend(store, latest, fws, whole_history=True)
    return FleetData(
        organisation=request.organisation,
        system=request.system,
        period=request.period,
        assessor=request.assessor,
        generated=generation_time(),
        logo_data_uri=request.logo_data_uri,
        catalog_digest=catalog.digest,
        assessments=covered,
        hosts=hosts,
        controls=_controls(hosts, titles),
        frameworks=fws,
        framework_titles={f: catalog.frameworks[f].framework.title for f in fws},
        trend=trend,
        signature=request.signature,
        max_findings=request.max_findings,
    )


@dataclass(frozen=True, slots=True)
class _Shown:
    """A stored result as the fleet report reads it (a fail a waiver covers reads waived)."""

    target_id: int
    target: str
    rule: str
    title: str
    severity: str
    resource: str
    status: Status
    message: str


def _read(s: Session, aid: int) -> tuple[Assessment, dict[int, HostTarget], list[_Shown]]:
    """One assessment, its targets by id and its results as shown (waivers applied as every
    output applies them: assessor.audit.waivers), read as plain rows: a thousand assessments
    read through the full read model would build every result's ORM object."""
    a = s.get(Assessment, aid)
    if a is None:
        raise StoreError(f"assessment {aid} is gone")
    applied = applied_waivers(s, a)
    targets = {
        tid: HostTarget(uri, kind, status, error)
        for tid, uri, kind, status, error in s.execute(
            select(Target.id, Target.uri, Target.kind, Target.status, Target.error)
            .where(Target.assessment_id == aid)
            .order_by(Target.id)
        )
    }
    q = (
        select(
            Result.id, Result.target_id, Result.rule, Result.title, Result.severity,
            Result.resource, Result.status, Result.message,
        )
        .where(Result.assessment_id == aid)
        .order_by(Result.target_id, Result.rule, Result.resource, Result.id)
    )  # fmt: skip
    results = []
    for rid, tid, rule, title, sev, resource, status, message in s.execute(q):
        stored = _STORED.get(status)
        if stored is None:
            raise StoreError(f"result {rid} has the status {status!r}, which no scan stores")
        shown = Status.WAIVED if stored is Status.FAIL and rid in applied else stored
        uri = targets[tid].uri
        results.append(_Shown(tid, uri, rule, title, sev, resource, shown, message))
    return a, targets, results


def _covered(a: Assessment, hosts: int) -> CoveredAssessment:
    return CoveredAssessment(
        id=a.id,
        uuid=a.uuid,
        started=a.started,
        finished=a.finished,
        scanner_host=a.scanner_host,
        finalised_at=a.finalised_at,
        finalised_by=a.finalised_by,
        digest=a.digest,
        catalog_digest=a.catalog_digest,
        tool_version=a.tool_version or __version__,
        hosts=hosts,
    )


def _host_row(
    a: Assessment,
    targets: dict[int, HostTarget],
    all_results: Sequence[_Shown],
    reading: Reading,
    max_findings: int,
) -> HostRow:
    """One host's row from the assessment it was last read in."""
    mine = set(reading.target_ids)
    results = [r for r in all_results if r.target_id in mine]
    counts = Counter(r.status.value for r in results)
    fails = Counter(r.severity for r in results if r.status == Status.FAIL)
    failed_rules = {r.rule: r.severity for r in results if r.status == Status.FAIL}
    rules: dict[str, str] = {}
    for r in results:
        cur = rules.get(r.rule)
        if r.status.value in _PLACE and (cur is None or _PLACE[r.status.value] < _PLACE[cur]):
            rules[r.rule] = r.status.value
    return HostRow(
        name=reading.host,
        assessment_id=a.id,
        read_at=a.started,
        targets=[targets[t] for t in reading.target_ids],
        counts={s: counts.get(s, 0) for s in RESULT_STATUSES},
        fails={s: fails.get(s, 0) for s in SEVERITIES_WORST_FIRST},
        failed_rules=dict(Counter(failed_rules.values())),
        findings=_findings(results, max_findings),
        rules=rules,
    )


def _findings(results: Sequence[_Shown], max_findings: int) -> list[HostFinding]:
    """A host's failing, unevaluable and waived results, one entry per rule, most severe
    first; each lists at most ``max_findings`` resources (0: all)."""
    by_rule: dict[str, HostFinding] = {}
    for r in results:
        if r.status not in SHOWN_FINDINGS:
            continue
        f = by_rule.get(r.rule)
        if f is None:
            f = by_rule[r.rule] = HostFinding(r.rule, r.title, r.severity, r.status.value, 0, [])
        elif _PLACE[r.status.value] < _PLACE[f.status]:
            f.status = r.status.value
        f.results += 1
        if not max_findings or len(f.shown) < max_findings:
            f.shown.append((r.target, r.resource, r.message))
    return sorted(
        by_rule.values(),
        key=lambda f: (_PLACE[f.status], severity_place(f.severity), f.rule),
    )


def _controls(hosts: Sequence[HostRow], titles: dict[str, tuple[str, str]]) -> list[ControlRow]:
    """Each rule with a result anywhere in the fleet, the hosts by their status for it: the
    rules some host fails (or cannot evaluate) first, most severe first, then those most
    hosts fail."""
    place = {h.name: h.number for h in hosts}
    rows: dict[str, ControlRow] = {}
    for h in hosts:
        for rule, status in h.rules.items():
            row = rows.get(rule)
            if row is None:
                title, sev = titles[rule]
                row = rows[rule] = ControlRow(rule, title, sev, dict.fromkeys(_PLACE, 0))
            row.hosts[status] += 1
            if status in FAILING_STATUSES:
                row.failing.append(h.name)
    for row in rows.values():
        row.failing = sorted(row.failing, key=lambda name: place.get(name, 0))[:10]
    return sorted(
        rows.values(),
        key=lambda r: (
            0 if r.hosts[Status.FAIL] or r.hosts[Status.ERROR] else 1,
            severity_place(r.severity),
            -r.hosts[Status.FAIL],
            -r.hosts[Status.ERROR],
            r.rule,
        ),
    )


def cut_for_pdf(data: FleetData) -> None:
    """Keep the PDF bounded: the appendix holds the ``PDF_DETAIL_HOSTS`` worst hosts, each
    rule with at most ``PDF_RESOURCES_PER_RULE`` resources; the other hosts link nowhere."""
    data.detail_hosts = data.hosts[:PDF_DETAIL_HOSTS]
    cap = min(data.max_findings or PDF_RESOURCES_PER_RULE, PDF_RESOURCES_PER_RULE)
    for h in data.detail_hosts:
        for f in h.findings:
            del f.shown[cap:]
    for h in data.hosts[PDF_DETAIL_HOSTS:]:
        h.href = ""
    data.max_findings = cap
    rest = len(data.hosts) - len(data.detail_hosts)
    if rest > 0:
        data.detail_note = (
            f"The other {rest} hosts' findings are not in this PDF: the HTML fleet report "
            "(assessor report --system … --period … -o FILE.html) has every host's, in a "
            "file each beside it"
        )


__all__ = [
    "PDF_DETAIL_HOSTS",
    "ControlRow",
    "CoveredAssessment",
    "FleetData",
    "FleetRequest",
    "HostFinding",
    "HostRow",
    "HostTarget",
    "build",
    "cut_for_pdf",
]
