"""The HTML report's filter controls cost the PDF nothing: WeasyPrint lays out the same pages
with the same text whether the controls (reports/templates/_filters.html.j2) are in the HTML
or not. (Chromium's side, the filtering itself, is tests/e2e/test_report_browser.py.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, missing, run_cli

FILTERS = re.compile(r"<!-- filters -->.*?<!-- /filters -->\n?", re.DOTALL)


def _text(pdf: bytes, tmp: Path, name: str) -> tuple[int, list[str]]:
    """(pages, text of each page) by poppler's pdftotext."""
    tool = shutil.which("pdftotext")
    if tool is None:
        missing("pdftotext (poppler-utils)")
    assert tool is not None
    path = tmp / f"{name}.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        [tool, "-layout", str(path), "-"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    pages = out.split("\f")[:-1]
    return len(pages), pages


def test_pdf_is_the_same_with_and_without_the_filter_controls(tmp_path: Path) -> None:
    from assessor.report.render import render_pdf

    image = tmp_path / "image"
    subprocess.run(
        [sys.executable, str(ROOT / "tools/sample_image.py"), str(image)], check=True, timeout=60
    )
    db = f"sqlite:///{tmp_path / 'a.db'}"
    scan = run_cli("scan", "host:/", f"image:oci:{image}", db=db)
    assert scan.code in (0, 1), scan.err
    out = tmp_path / "r.html"
    run = run_cli("report", "-o", str(out), db=db)
    assert run.code == 0, run.err
    html = out.read_text(encoding="utf-8")
    controls = FILTERS.findall(html)
    assert len(controls) == 1 and "<select" in controls[0], "the report has its filter controls"
    assert 'class="filterable' in html, "and blocks to filter"
    with_filters = _text(render_pdf(html), tmp_path, "with")
    without = _text(render_pdf(FILTERS.sub("", html)), tmp_path, "without")
    assert with_filters[0] == without[0] > 3
    assert with_filters[1] == without[1]
    assert "show all" not in "".join(with_filters[1])
