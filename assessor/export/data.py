"""What every export format reads: the one read model of a stored assessment
(``assessor.readmodel``), under the names the export modules have always used."""

from __future__ import annotations

from assessor.readmodel import (
    AssessmentView,
    EvidenceInfo,
    ExportData,
    ExportResult,
    ExportTarget,
    clean,
    iso,
    load,
)

__all__ = [
    "AssessmentView",
    "EvidenceInfo",
    "ExportData",
    "ExportResult",
    "ExportTarget",
    "clean",
    "iso",
    "load",
]
