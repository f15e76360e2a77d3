"""The report's cover, summary and scope: who and what it is about (meta, signature), the
targets and evidence, and the findings new or fixed since the previous period."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from assessor import __version__
from assessor.audit.diff import diff
from assessor.store import queries
from assessor.vocab import BundleNote

if TYPE_CHECKING:
    from assessor.audit.trend import PeriodPoint
    from assessor.catalog import Catalog
    from assessor.readmodel import AssessmentView
    from assessor.store.db import Store


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

    @property
    def bundle(self) -> str | None:
        """Where the evidence came from when ``assessor ingest`` stored it from an evidence
        bundle (the note's first clause: the bundle, its signer or that it had none, the
        collecting host); None for an assessment scanned by this database's own scans."""
        note = self.note or ""
        if not note.startswith((BundleNote.SIGNED, BundleNote.UNSIGNED)):
            return None
        return note.split("; ")[0]

    @property
    def unsigned_bundle(self) -> bool:
        return (self.note or "").startswith(BundleNote.UNSIGNED)


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


def _label(key: str) -> str:
    return key.replace("_", " ")


def identity_rows(identity: dict[str, Any]) -> list[tuple[str, str]]:
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


def generation_time() -> datetime:
    """Now, or SOURCE_DATE_EPOCH when set (the reproducible-builds convention), so a report
    of the same stored assessment can be rebuilt to the same bytes."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    return datetime.now(UTC)


def changes(store: Store, v: AssessmentView, trend: list[PeriodPoint]) -> Changes | None:
    """New and fixed findings against the previous period's assessment of the same scope: what
    ``assessor diff PREVIOUS THIS`` lists (assessor.audit.diff), so the two never disagree; a
    target or rule no longer assessed is not "fixed"."""
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


def report_meta(
    v: AssessmentView,
    catalog: Catalog,
    organisation: str,
    system: str,
    assessor: str,
    logo_data_uri: str | None,
) -> ReportMeta:
    """The cover's facts: who the report is for and by, the assessment and the tools."""
    return ReportMeta(
        organisation=organisation,
        system=system or v.system or ", ".join(v.scope),
        assessor=assessor,
        period=v.period,
        generated=generation_time(),
        assessment_id=v.id,
        assessment_uuid=v.uuid,
        started=v.started,
        finished=v.finished,
        status=v.status,
        note=v.note,
        scan_tool_version=str(v.assessment.get("tool_version") or v.tool_version),
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


def target_views(v: AssessmentView) -> list[TargetView]:
    return [
        TargetView(t.uri, t.kind, t.status, identity_rows(t.identity), t.error, t.evidence_count)
        for t in v.targets
    ]
