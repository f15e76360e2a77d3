"""What every export format reads: one stored assessment, its targets, results, waivers and
attestations, and the catalog, gathered once and in a fixed order.

Exports read stored assessments only, never a live target. Everything here is ordered
(targets by id, results by target, rule and resource) so that the same assessment exports
to the same bytes. Nothing here reads the clock: the times an export shows are the
assessment's own. The waivers are those the assessment reads now (the frozen ones once it is
finalised), as ``assessor results`` and ``assessor report`` show them.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assessor.catalog import Catalog
    from assessor.store import Store


@dataclass(frozen=True, slots=True)
class ExportTarget:
    id: int
    uri: str
    kind: str  # host | engine | image | registry (the target string's kind)
    status: str  # collected | unreachable | error
    identity: dict[str, Any]
    error: str | None


@dataclass(frozen=True, slots=True)
class ExportResult:
    id: int  # the result row's id: unique within the store
    rule: str
    title: str  # as judged (kept with the result, so history reads right)
    severity: str  # critical | high | medium | low | info
    target: str  # the target URI
    resource: str  # what was judged: a container name, an image path, "*" for the target
    status: str  # as shown: a fail an applied waiver covers reads "waived"
    raw_status: str  # as stored: pass | fail | not_applicable | manual | error
    message: str
    evidence: str | None  # SHA-256 of the evidence document judged
    references: dict[str, list[str]]  # framework id -> requirement ids
    waiver: dict[str, Any] | None  # the applied waiver (see assessor.audit.waivers.waiver_dict)


@dataclass(frozen=True, slots=True)
class EvidenceInfo:
    sha256: str
    kind: str
    size: int  # bytes of canonical JSON


@dataclass(slots=True)
class ExportData:
    assessment: dict[str, Any]  # assessor.cli._output.assessment_json
    started: datetime
    finished: datetime | None
    targets: list[ExportTarget]
    results: list[ExportResult]
    waivers: list[dict[str, Any]]  # the applied waivers, by id
    attestations: list[dict[str, Any]]  # see assessor.audit.attestations.attestation_dict
    evidence: dict[str, EvidenceInfo]  # every evidence document a result judged, by hash
    catalog: Catalog
    tool_version: str
    _bodies: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def id(self) -> int:
        return int(self.assessment["id"])

    @property
    def uuid(self) -> str:
        return str(self.assessment["uuid"])

    @property
    def end(self) -> datetime:
        """When the assessment ended (its start when it never finished)."""
        return self.finished or self.started

    def evidence_document(self, sha256: str) -> dict[str, Any] | None:
        """The stored evidence document (redacted at collection), or None."""
        body = self._bodies.get(sha256)
        if body is None:
            return None
        doc: dict[str, Any] = json.loads(zlib.decompress(body))
        return doc

    def failing(self) -> Iterator[ExportResult]:
        """Results that fail or errored (waived ones excluded), in export order."""
        return (r for r in self.results if r.status in ("fail", "error"))


# every character XML 1.0 forbids: C0 controls but tab/newline/return, surrogates, FFFE/FFFF
_XML_ILLEGAL = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


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
    store: Store, catalog: Catalog, ref: str | None, *, with_bodies: bool = False
) -> ExportData:
    """Gather an assessment (``ref`` an id or uuid; the latest when None) for export.

    ``with_bodies`` also loads the compressed evidence bodies, for formats that show excerpts.
    """
    from sqlalchemy import select

    from assessor import __version__
    from assessor.audit.attestations import attestations_for
    from assessor.audit.waivers import applied_waivers
    from assessor.cli._output import assessment_json
    from assessor.store import queries
    from assessor.store.models import Evidence, Result, Target

    a = queries.get_assessment(store, ref)
    with store.session() as s:
        waivers = applied_waivers(s, a)
        attestations = attestations_for(s, a)
        targets = [
            ExportTarget(t.id, t.uri, t.kind, t.status, dict(t.identity or {}), t.error)
            for t in s.scalars(
                select(Target).where(Target.assessment_id == a.id).order_by(Target.id)
            )
        ]
        uri = {t.id: t.uri for t in targets}
        order = {t.id: i for i, t in enumerate(targets)}
        rows = list(s.scalars(select(Result).where(Result.assessment_id == a.id)))
        rows.sort(key=lambda r: (order[r.target_id], r.rule, r.resource, r.id))
        results = []
        for r in rows:
            w = waivers.get(r.id) if r.status == "fail" else None
            results.append(
                ExportResult(
                    id=r.id,
                    rule=r.rule,
                    title=r.title,
                    severity=r.severity,
                    target=uri[r.target_id],
                    resource=r.resource,
                    status="waived" if w is not None else r.status,
                    raw_status=r.status,
                    message=r.message,
                    evidence=r.evidence_hash,
                    references={k: list(v) for k, v in sorted((r.references or {}).items())},
                    waiver=dict(w) if w is not None else None,
                )
            )
        hashes = sorted({r.evidence for r in results if r.evidence})
        evidence: dict[str, EvidenceInfo] = {}
        bodies: dict[str, bytes] = {}
        for start in range(0, len(hashes), 500):
            chunk = hashes[start : start + 500]
            cols = (Evidence.hash, Evidence.kind, Evidence.size) + (
                (Evidence.body,) if with_bodies else ()
            )
            for row in s.execute(select(*cols).where(Evidence.hash.in_(chunk))):
                evidence[row[0]] = EvidenceInfo(row[0], row[1], row[2])
                if with_bodies:
                    bodies[row[0]] = row[3]
    by_id = {int(w["id"]): w for w in waivers.values()}
    return ExportData(
        assessment=assessment_json(a),
        started=a.started,
        finished=a.finished,
        targets=targets,
        results=results,
        waivers=[by_id[k] for k in sorted(by_id)],
        attestations=attestations,
        evidence=dict(sorted(evidence.items())),
        catalog=catalog,
        tool_version=a.tool_version or __version__,
        _bodies=bodies,
    )
