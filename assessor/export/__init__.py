"""Exports of a stored assessment for other systems: OSCAL assessment results, XCCDF 1.2 and
ARF, SARIF 2.1.0, JUnit XML, CSV and the stable JSON.

Every format reads one ``ExportData`` (``assessor.export.data.load``) and returns bytes.
Exports are deterministic: the same stored assessment gives the same bytes (no clock, no
random identifiers: OSCAL uuids are derived from the assessment's uuid). Format modules are
imported only when used, so the CLI starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assessor.export.data import ExportData

# format -> (module, function, file suffix, media type)
FORMATS: dict[str, tuple[str, str, str, str]] = {
    "oscal": ("assessor.export.oscal", "render_assessment_results", "json", "application/json"),
    "xccdf": ("assessor.export.xccdf", "render_xccdf", "xml", "application/xml"),
    "arf": ("assessor.export.arf", "render_arf", "xml", "application/xml"),
    "sarif": ("assessor.export.sarif", "render_sarif", "sarif", "application/sarif+json"),
    "junit": ("assessor.export.junit", "render_junit", "xml", "application/xml"),
    "csv": ("assessor.export.tabular", "render_csv", "csv", "text/csv"),
    "json": ("assessor.export.tabular", "render_json", "json", "application/json"),
}

# formats that need the evidence documents themselves, not only their hashes
NEEDS_BODIES = frozenset({"arf", "json"})  # json: each result's sources


# formats that carry only the findings unless asked for every result (the others always do)
FINDINGS_ONLY = {"sarif": "render_sarif_all"}


def render(fmt: str, data: ExportData, *, every_result: bool = False) -> bytes:
    """The assessment in ``fmt`` (a key of FORMATS); ``every_result``: a findings-only format
    (SARIF) carries every result too, each status as itself."""
    module, function, _, _ = FORMATS[fmt]
    if every_result and fmt in FINDINGS_ONLY:
        function = FINDINGS_ONLY[fmt]
    out: bytes = getattr(importlib.import_module(module), function)(data)
    return out


__all__ = ["FINDINGS_ONLY", "FORMATS", "NEEDS_BODIES", "render"]
