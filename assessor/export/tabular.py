"""The stable JSON (the shape of ``assessor results --format json``) and CSV of an assessment.

Every row (CSV) and every result (JSON) names the assessment it belongs to, so rows of
several assessments can be concatenated, filtered or loaded into a spreadsheet or database
and still say what they are about. The CSV columns, in this order (stable; new columns are
only ever added at the end):

====================  =============================================================
``assessment_id``     the assessment's id in its store
``assessment_uuid``   the assessment's uuid (unique across stores)
``system``            the system assessed (empty when the assessment names none)
``period``            the assessment period, e.g. ``2026-Q4``
``target``            the target URI (``host:/``, ``engine:unix:///var/run/docker.sock``)
``target_kind``       host | engine | image | registry (the target string's kind)
``resource``          what was judged: a container, an image, a host; ``*`` is the target
``resource_kind``     what the resource is: the rule's kind (container, image, engine, ...)
``rule``              the rule id
``title``             the rule title as judged
``severity``          critical | high | medium | low | info
``status``            as shown: fail | error | waived | manual | pass | not_applicable
``raw_status``        as stored (a waived result's is ``fail``)
``message``           what the rule found
``evidence``          sha256 of the evidence document judged
``references``        ``FRAMEWORK:REQ,REQ; FRAMEWORK:REQ`` (frameworks sorted, ``; `` between)
``waiver``            the id of the waiver applied (waived results only)
====================  =============================================================

Per-framework counts come from ``references``: a row counts for a framework when the
framework is named there (the same rule as the report's and the other exports').

The JSON document is ``{"assessment": {...}, "results": [...]}``; each result holds the same
fields as a CSV row (``references`` as an object, ``waiver`` as the applied waiver itself,
``raw_status`` only on waived results) and ``sources``: what the rule read.

:func:`write_csv` and :func:`document` are what ``assessor results --format csv|json`` print
too, so a results listing and an export of the same assessment agree.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from assessor.export.data import ExportData, ExportResult

CSV_COLUMNS = (
    "assessment_id",
    "assessment_uuid",
    "system",
    "period",
    "target",
    "target_kind",
    "resource",
    "resource_kind",
    "rule",
    "title",
    "severity",
    "status",
    "raw_status",
    "message",
    "evidence",
    "references",
    "waiver",
)


def target_kind(data: ExportData, r: ExportResult) -> str:
    """The kind of the result's target (host, engine, image, registry)."""
    kind = str(getattr(r, "target_kind", "") or "")
    if kind:
        return kind
    return next((t.kind for t in data.targets if t.uri == r.target), "")


def resource_kind(data: ExportData, r: ExportResult) -> str:
    """What the resource is: the kind of target its rule judges (a container rule's resource
    is a container, even on an engine target); the target's kind for a rule no longer in the
    catalog."""
    rule = data.catalog.rules.get(r.rule)
    return rule.target.value if rule is not None else target_kind(data, r)


def references_text(references: dict[str, list[str]]) -> str:
    """``FRAMEWORK:REQ,REQ; FRAMEWORK:REQ``, frameworks sorted."""
    return "; ".join(f"{fw}:{','.join(ids)}" for fw, ids in sorted(references.items()))


def result_json(data: ExportData, r: ExportResult) -> dict[str, Any]:
    """One result as the JSON export and ``assessor results --format json`` show it."""
    a = data.assessment
    doc: dict[str, Any] = {
        "assessment_id": a.get("id"),
        "assessment_uuid": a.get("uuid"),
        "system": a.get("system"),
        "period": a.get("period"),
        "target": r.target,
        "target_kind": target_kind(data, r),
        "resource": r.resource,
        "resource_kind": resource_kind(data, r),
        "rule": r.rule,
        "title": r.title,
        "severity": r.severity,
        "status": r.status,
        "message": r.message,
        "evidence": r.evidence,
        "references": r.references,
    }
    if r.waiver is not None:
        doc["raw_status"] = r.raw_status
        doc["waiver"] = r.waiver
    return doc


def document(
    data: ExportData, results: Iterable[ExportResult] | None = None, *, read: bool = True
) -> dict[str, Any]:
    """``{"assessment": {...}, "results": [...]}`` of ``results`` (default: all of them, in
    export order). ``read`` adds each result's ``sources`` (needs the evidence bodies:
    ``load(..., with_bodies=True)``; without them the lists are empty)."""
    rows = data.results if results is None else results
    return {
        "assessment": data.assessment,
        "results": [
            {**result_json(data, r), **({"sources": data.sources(r)} if read else {})} for r in rows
        ],
    }


def render_json(data: ExportData) -> bytes:
    """The JSON document of every result, as ``assessor results --format json``."""
    return (json.dumps(document(data), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def csv_row(data: ExportData, r: ExportResult) -> list[str]:
    """The cells of one result, in CSV_COLUMNS order (not yet made formula-safe)."""
    a = data.assessment
    return [
        str(a.get("id") or ""),
        str(a.get("uuid") or ""),
        str(a.get("system") or ""),
        str(a.get("period") or ""),
        r.target,
        target_kind(data, r),
        r.resource,
        resource_kind(data, r),
        r.rule,
        r.title,
        r.severity,
        r.status,
        r.raw_status,
        r.message,
        r.evidence or "",
        references_text(r.references),
        str(r.waiver["id"]) if r.waiver is not None else "",
    ]


def write_csv(out: TextIO, data: ExportData, results: Iterable[ExportResult] | None = None) -> None:
    """The header and one row per result (default: all of them, in export order) to ``out``.
    Cells that a spreadsheet would read as a formula get a quote in front (:func:`safe_cell`)."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in data.results if results is None else results:
        w.writerow([safe_cell(c) for c in csv_row(data, r)])


def render_csv(data: ExportData) -> bytes:
    """Every result as CSV (UTF-8), as ``assessor results --format csv``."""
    out = io.StringIO()
    write_csv(out, data)
    return out.getvalue().encode("utf-8")


def safe_cell(value: str) -> str:
    """A cell a spreadsheet shows as text: target content (container names, messages) must not
    run as a formula, so a leading = + - @ tab or CR gets a quote in front."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
