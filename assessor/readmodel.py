"""One read model of a stored assessment: what the report, every export and ``assessor results``
read, so that each number is computed once and every output says the same thing (DESIGN §2).

``load`` gathers an assessment (its targets, results, the waivers and attestations it reads
now, the evidence its results judged) and rolls its results up per framework requirement.
Everything is ordered (targets by id, results by target, rule and resource) so the same
assessment renders to the same bytes, and nothing here reads the clock: the times shown are the
assessment's own. The waivers are those the assessment reads now (the frozen ones once it is
finalised); a fail a waiver covers is shown ``waived`` (``raw_status`` keeps the stored
``fail``).

Counts, in the words every output uses:

- **result counts**: results by shown status (``fail``, ``error``, ``waived``, ``manual``,
  ``pass``, ``not_applicable``), overall (``counts``) and per framework (a result counts under
  a framework when it references at least one of its requirements);
- **requirement counts**: a framework's requirements by rolled-up status
  (``assessor.audit.rollup``; an attestation answers a requirement's manual part), every
  requirement of the framework counted once, ``not_assessed`` when no result refers to it and
  no one attested it.

Reports and exports read stored assessments only, never a live target; the view reads evidence
bodies lazily while its store is open (``evidence_document``).
"""

from __future__ import annotations

import json
import re
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from assessor import __version__
from assessor.audit.rollup import requirement_status
from assessor.errors import StoreError
from assessor.vocab import (
    FAILING_STATUSES,
    REQUIREMENT_STATUSES,
    RESULT_STATUSES,
    SEVERITIES_WORST_FIRST,
    STORED_STATUSES,
    Status,
)

if TYPE_CHECKING:
    from assessor.audit.trend import PeriodPoint
    from assessor.catalog import Catalog
    from assessor.store import Store
    from assessor.store.models import Assessment
    from assessor.store.models import Result as StoredResult


_STORED = {s.value: s for s in STORED_STATUSES}


def _iso_full(dt: datetime | None) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt is not None else None


def assessment_json(a: Assessment) -> dict[str, Any]:
    """The documented JSON shape of an assessment (``assessor results --format json``)."""
    return {
        "id": a.id,
        "uuid": a.uuid,
        "started": _iso_full(a.started),
        "finished": _iso_full(a.finished),
        "period": a.period,
        "system": a.system,
        "status": a.status,
        "scope": a.scope,
        "catalog_digest": a.catalog_digest,
        "finalised": _iso_full(a.finalised_at),
        "finalised_by": a.finalised_by,
        "digest": a.digest,
        "tool_version": a.tool_version,
    }


@dataclass(frozen=True, slots=True)
class TargetView:
    id: int
    uri: str
    kind: str  # host | engine | image | registry (the target string's kind)
    status: str  # collected | unreachable | error
    identity: dict[str, Any]
    error: str | None
    evidence_count: int = 0  # evidence documents collected from it


@dataclass(frozen=True, slots=True)
class ResultView:
    id: int  # the result row's id: unique within the store
    rule: str
    title: str  # as judged (kept with the result, so history reads right)
    severity: str  # critical | high | medium | low | info
    target: str  # the target URI
    resource: str  # what was judged: a container name, an image path, "*" for the target
    status: Status  # as shown: a fail an applied waiver covers reads "waived"
    raw_status: Status  # as stored: one of vocab.STORED_STATUSES
    message: str
    evidence: str | None  # SHA-256 of the evidence document judged
    references: dict[str, list[str]]  # framework id -> requirement ids
    waiver: dict[str, Any] | None  # the applied waiver (see assessor.audit.waivers.waiver_dict)
    target_id: int = 0
    target_kind: str = ""


@dataclass(frozen=True, slots=True)
class EvidenceInfo:
    sha256: str
    kind: str
    size: int  # bytes of canonical JSON


@dataclass(frozen=True, slots=True)
class TargetEvidence:
    """One evidence document collected from a target (a resource's document)."""

    hash: str
    kind: str
    size: int
    target: str
    resource: str


@dataclass(frozen=True, slots=True)
class RequirementStatus:
    framework: str
    id: str
    title: str
    section: str
    section_title: str
    status: Status  # one of REQUIREMENT_STATUSES
    coverage: str  # the catalog's coverage: automated | partial | manual | not_covered | ...
    rules: tuple[str, ...]  # rules with a result referencing it, in result order
    idle_rules: tuple[str, ...]  # rules the catalog maps to it that gave no result here
    result_ids: tuple[int, ...]  # the results referencing it
    counts: dict[str, int]  # its results by shown status
    attestation: dict[str, Any] | None  # the attestation answering it, if any


@dataclass(frozen=True, slots=True)
class FrameworkStatus:
    id: str
    title: str
    version: str
    requirements: list[RequirementStatus]
    counts: dict[str, int]  # requirements by status, every REQUIREMENT_STATUSES key
    result_counts: dict[str, int]  # results referencing it by shown status, every key
    failures_by_severity: dict[str, int]  # its failing (unwaived) results by severity

    @property
    def total(self) -> int:
        return len(self.requirements)


@dataclass(slots=True)
class AssessmentView:
    assessment: dict[str, Any]  # assessment_json
    started: datetime
    finished: datetime | None
    targets: list[TargetView]
    results: list[ResultView]
    waivers: list[dict[str, Any]]  # the applied waivers, by id
    attestations: list[dict[str, Any]]  # see assessor.audit.attestations.attestation_dict
    evidence: dict[str, EvidenceInfo]  # every evidence document a result judged, by hash
    catalog: Catalog
    tool_version: str
    _bodies: dict[str, bytes] = field(default_factory=dict, repr=False)
    expired_waivers: list[dict[str, Any]] = field(default_factory=list)
    target_evidence: list[TargetEvidence] = field(default_factory=list)
    finalised_at: datetime | None = None
    scanner_host: str | None = None
    note: str | None = None
    previous_digest: str | None = None
    _store: Store | None = field(default=None, repr=False)
    _frameworks: dict[str, FrameworkStatus] | None = field(default=None, repr=False)
    _row: Assessment | None = field(default=None, repr=False)

    @property
    def id(self) -> int:
        return int(self.assessment["id"])

    @property
    def uuid(self) -> str:
        return str(self.assessment["uuid"])

    @property
    def period(self) -> str:
        return str(self.assessment["period"])

    @property
    def system(self) -> str | None:
        value = self.assessment.get("system")
        return str(value) if value is not None else None

    @property
    def status(self) -> str:
        return str(self.assessment["status"])

    @property
    def scope(self) -> list[str]:
        return list(self.assessment.get("scope") or [])

    @property
    def finalised_by(self) -> str | None:
        value = self.assessment.get("finalised_by")
        return str(value) if value is not None else None

    @property
    def digest(self) -> str | None:
        value = self.assessment.get("digest")
        return str(value) if value is not None else None

    @property
    def catalog_digest(self) -> str:
        return str(self.assessment.get("catalog_digest") or "")

    @property
    def end(self) -> datetime:
        """When the assessment ended (its start when it never finished)."""
        return self.finished or self.started

    @property
    def counts(self) -> dict[str, int]:
        """Results by shown status, every key of RESULT_STATUSES."""
        c = Counter(r.status for r in self.results)
        return {s: c.get(s, 0) for s in RESULT_STATUSES}

    @property
    def frameworks(self) -> dict[str, FrameworkStatus]:
        """Every framework of the catalog, rolled up (computed once)."""
        if self._frameworks is None:
            self._frameworks = {
                fw: _framework_status(self, fw) for fw in sorted(self.catalog.frameworks)
            }
        return self._frameworks

    def result_counts(self, framework: str | None = None) -> dict[str, int]:
        """Results by shown status: all of them, or those referencing ``framework``."""
        if framework is None:
            return self.counts
        return dict(self.frameworks[framework].result_counts)

    def evidence_document(self, sha256: str | None) -> dict[str, Any] | None:
        """The stored evidence document (redacted at collection), or None."""
        if sha256 is None:
            return None
        body = self._bodies.get(sha256)
        if body is None and self._store is not None:
            from assessor.store.models import Evidence

            with self._store.session() as s:
                row = s.get(Evidence, sha256)
                if row is not None:
                    body = row.body
                    self._bodies[sha256] = body
        if body is None:
            return None
        doc: dict[str, Any] = json.loads(zlib.decompress(body))
        return doc

    def attachment(self, sha256: str) -> bytes | None:
        """A file attached to an attestation, by its SHA-256, read from the store (while it is
        open); None when it is not stored."""
        if self._store is None:
            return None
        from assessor.audit.attestations import read_attachment

        with self._store.session() as s:
            return read_attachment(s, sha256)

    def sources(self, result: ResultView) -> list[str]:
        """What the result's rule read: one line per evidence path (assessor.evaluate.sources)."""
        from assessor.evaluate.sources import sources

        rule = self.catalog.rules.get(result.rule)
        if rule is None:
            return []
        return sources(rule.evidence, self.evidence_document(result.evidence))

    def failing(self) -> Iterator[ResultView]:
        """Results that fail or errored (waived ones excluded), in export order."""
        return (r for r in self.results if r.status in FAILING_STATUSES)

    def trend(self, frameworks: Sequence[str], limit: int = 8) -> list[PeriodPoint]:
        """Requirement counts of the latest assessment of each period up to this one (the
        report's chart and ``assessor trend`` read the same points). Needs the store open."""
        from assessor.audit.trend import period_trend

        if self._store is None or self._row is None:
            return []
        return period_trend(self._store, self._row, frameworks, limit)


# Kept for the export modules' names (assessor.export.data re-exports these).
ExportData = AssessmentView
ExportResult = ResultView
ExportTarget = TargetView


def _framework_status(view: AssessmentView, fw_id: str) -> FrameworkStatus:
    catalog = view.catalog
    fw = catalog.frameworks[fw_id]
    req_rules: dict[str, dict[str, None]] = defaultdict(dict)
    req_results: dict[str, list[ResultView]] = defaultdict(list)
    result_counts: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    for r in view.results:
        ids = r.references.get(fw_id)
        if not ids:
            continue
        result_counts[r.status] += 1
        if r.status == Status.FAIL:
            failures[r.severity] += 1
        for rid in dict.fromkeys(ids):
            req_rules[rid][r.rule] = None
            req_results[rid].append(r)
    attested = {
        str(a["requirement"]): a for a in view.attestations if str(a.get("framework")) == fw_id
    }
    requirements: list[RequirementStatus] = []
    counts: dict[str, int] = dict.fromkeys(REQUIREMENT_STATUSES, 0)
    for req in fw.requirements:
        results = req_results.get(req.id, [])
        att = attested.get(req.id)
        status = requirement_status(
            (r.status for r in results), str(att["status"]) if att is not None else None
        )
        counts[status] += 1
        seen = req_rules.get(req.id, {})
        rc = Counter(r.status for r in results)
        requirements.append(
            RequirementStatus(
                framework=fw_id,
                id=req.id,
                title=req.title,
                section=req.section or "",
                section_title=req.section_title or "",
                status=status,
                coverage=catalog.coverage(req).value,
                rules=tuple(seen),
                idle_rules=tuple(r for r in req.rules if r not in seen),
                result_ids=tuple(r.id for r in results),
                counts={s: rc.get(s, 0) for s in RESULT_STATUSES},
                attestation=dict(att) if att is not None else None,
            )
        )
    return FrameworkStatus(
        id=fw_id,
        title=fw.framework.title,
        version=fw.framework.version,
        requirements=requirements,
        counts=counts,
        result_counts={s: result_counts.get(s, 0) for s in RESULT_STATUSES},
        failures_by_severity={s: failures.get(s, 0) for s in SEVERITIES_WORST_FIRST},
    )


# every character XML 1.0 forbids: C0 controls but tab/newline/return, surrogates, FFFE/FFFF
# (named, not as the complement of what XML allows: re compiles that negated class in ~5 ms,
# on every import of this module)
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(text: object) -> str:
    """``text`` as a string XML 1.0 can hold (XCCDF, ARF, JUnit): forbidden characters, which
    stored target content may hold, are dropped."""
    return _XML_ILLEGAL.sub("", str(text))


def iso(dt: datetime | None) -> str | None:
    """RFC 3339 in UTC with a Z, whole seconds: the form every format here accepts."""
    if dt is None:
        return None
    return dt.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def load(
    store: Store, catalog: Catalog, ref: str | None = None, *, with_bodies: bool = False
) -> AssessmentView:
    """Read an assessment (``ref`` an id or uuid; the latest when None).

    ``with_bodies`` loads every judged evidence body at once (formats that show many
    excerpts); otherwise bodies are read on demand while ``store`` is open.
    """
    from assessor.audit.attestations import attestations_for
    from assessor.audit.waivers import applied_waivers, expired_waivers
    from assessor.store import queries
    from assessor.store.models import Assessment

    a = queries.get_assessment(store, ref)
    with store.session() as s:
        a = s.get(Assessment, a.id) or a
        waivers = applied_waivers(s, a)
        expired = expired_waivers(s, a)
        attestations = attestations_for(s, a)
        targets = [
            TargetView(t.id, t.uri, t.kind, t.status, dict(t.identity or {}), t.error, n)
            for t, n in queries.target_rows(s, a.id)
        ]
        by_id = {t.id: t for t in targets}
        results = _results(queries.result_rows(s, a.id), targets, waivers)
        target_evidence = [
            TargetEvidence(h, kind, size, by_id[tid].uri, res)
            for tid, h, res, kind, size in queries.target_evidence_rows(s, list(by_id))
        ]
        hashes = sorted({r.evidence for r in results if r.evidence})
        evidence: dict[str, EvidenceInfo] = {}
        bodies: dict[str, bytes] = {}
        for h, kind, size, body in queries.evidence_rows(s, hashes, with_bodies=with_bodies):
            evidence[h] = EvidenceInfo(h, kind, size)
            if body is not None:
                bodies[h] = body
        s.expunge(a)
    return AssessmentView(
        assessment=assessment_json(a),
        started=a.started,
        finished=a.finished,
        targets=targets,
        results=results,
        waivers=_each_waiver(waivers),
        attestations=attestations,
        evidence=dict(sorted(evidence.items())),
        catalog=catalog,
        tool_version=a.tool_version or __version__,
        _bodies=bodies,
        expired_waivers=expired,
        target_evidence=target_evidence,
        finalised_at=a.finalised_at,
        scanner_host=a.scanner_host,
        note=a.note,
        previous_digest=a.previous_digest,
        _store=store,
        _row=a,
    )


def _results(
    rows: list[StoredResult], targets: list[TargetView], waivers: dict[int, dict[str, Any]]
) -> list[ResultView]:
    """The stored results as shown, in target order then rule, resource and id; a fail an
    applied waiver covers shows as waived."""
    by_id = {t.id: t for t in targets}
    order = {t.id: i for i, t in enumerate(targets)}
    rows = sorted(rows, key=lambda r: (order[r.target_id], r.rule, r.resource, r.id))
    results = []
    for r in rows:
        stored = _STORED.get(r.status)
        if stored is None:
            raise StoreError(f"result {r.id} has the status {r.status!r}, which no scan stores")
        w = waivers.get(r.id) if stored is Status.FAIL else None
        t = by_id[r.target_id]
        results.append(
            ResultView(
                id=r.id,
                rule=r.rule,
                title=r.title,
                severity=r.severity,
                target=t.uri,
                resource=r.resource,
                status=Status.WAIVED if w is not None else stored,
                raw_status=stored,
                message=r.message,
                evidence=r.evidence_hash,
                references={k: list(v) for k, v in sorted((r.references or {}).items())},
                waiver=dict(w) if w is not None else None,
                target_id=t.id,
                target_kind=t.kind,
            )
        )
    return results


def _each_waiver(by_result: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """The applied waivers (result id -> waiver), each once, by id."""
    first: dict[int, dict[str, Any]] = {}
    for w in by_result.values():
        first.setdefault(int(w["id"]), w)
    return [first[k] for k in sorted(first)]


__all__ = [
    "AssessmentView",
    "EvidenceInfo",
    "ExportData",
    "ExportResult",
    "ExportTarget",
    "FrameworkStatus",
    "RequirementStatus",
    "ResultView",
    "TargetEvidence",
    "TargetView",
    "assessment_json",
    "clean",
    "iso",
    "load",
]
