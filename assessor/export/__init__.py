"""Exports of a stored assessment for other systems: OSCAL assessment results, XCCDF 1.2 and
ARF, SARIF 2.1.0, JUnit XML, CSV and the stable JSON.

Every format reads one ``ExportData`` (``assessor.export.data.load``) and returns bytes.
Exports are deterministic: the same stored assessment gives the same bytes (no clock, no
random identifiers: OSCAL uuids are derived from the assessment's uuid). Format modules are
imported only when used, so the CLI starts fast; the formats, built in and from plugins, are
listed in assessor.extensions (EXPORTERS).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from assessor import extensions

if TYPE_CHECKING:
    from assessor.export.data import ExportData


def render(fmt: str, data: ExportData, *, every_result: bool = False) -> bytes:
    """The assessment in ``fmt`` (a built-in format of assessor.extensions.EXPORTERS or a
    plugin's); ``every_result``: a findings-only format (SARIF) carries every result too, each
    status as itself."""
    exporter = extensions.exporter(fmt)
    spec = exporter.every_result if every_result and exporter.every_result else exporter.render
    function = cast(Callable[["ExportData"], bytes], extensions.render_function(spec))
    out = function(data)
    if not isinstance(out, bytes):
        raise extensions.PluginError(
            f"export format {fmt!r}: {spec} returned {type(out).__name__}, not bytes"
        )
    return out


__all__ = ["render"]
