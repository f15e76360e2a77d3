"""The stable JSON (the shape of ``assessor results --format json``) and CSV of an assessment."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from assessor.export.data import ExportData, ExportResult

CSV_COLUMNS = (
    "rule",
    "title",
    "severity",
    "target",
    "resource",
    "status",
    "message",
    "evidence",
    "references",
    "raw_status",
    "waiver",
)


def result_json(r: ExportResult) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "rule": r.rule,
        "title": r.title,
        "severity": r.severity,
        "target": r.target,
        "resource": r.resource,
        "status": r.raw_status,
        "message": r.message,
        "evidence": r.evidence,
        "references": r.references,
    }
    if r.waiver is not None:
        doc["status"] = "waived"
        doc["raw_status"] = r.raw_status
        doc["waiver"] = r.waiver
    return doc


def _read(data: ExportData, r: ExportResult) -> list[str]:
    """What the result's rule read (``sources`` of ``assessor results --format json``)."""
    from assessor.evaluate.sources import sources

    rule = data.catalog.rules.get(r.rule)
    if rule is None or r.evidence is None:
        return []
    return sources(rule.evidence, data.evidence_document(r.evidence))


def render_json(data: ExportData) -> bytes:
    """``{"assessment": {...}, "results": [...]}``, as ``assessor results --format json``."""
    doc = {
        "assessment": data.assessment,
        "results": [{**result_json(r), "sources": _read(data, r)} for r in data.results],
    }
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def csv_row(r: ExportResult) -> list[str]:
    refs = "; ".join(f"{fw}:{','.join(ids)}" for fw, ids in sorted(r.references.items()))
    return [
        r.rule,
        r.title,
        r.severity,
        r.target,
        r.resource,
        r.status,
        r.message,
        r.evidence or "",
        refs,
        r.raw_status,
        str(r.waiver["id"]) if r.waiver is not None else "",
    ]


def render_csv(data: ExportData) -> bytes:
    """One row per result, the columns of ``assessor results --format csv``. Cells that a
    spreadsheet would read as a formula (= + - @ first) are prefixed with a quote."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in data.results:
        w.writerow([safe_cell(c) for c in csv_row(r)])
    return out.getvalue().encode("utf-8")


def safe_cell(value: str) -> str:
    """A cell a spreadsheet shows as text: target content (container names, messages) must not
    run as a formula, so a leading = + - @ tab or CR gets a quote in front."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
