"""The HTML report in a real browser: Debian's Chromium driven by Playwright.

A real assessment (this host and the sample image, scanned in two periods so the trend chart
has two bars) and a synthetic one of 150 containers (a long results table) are rendered with
`assessor report` and loaded from file:// at a desktop and a narrow viewport. The page must
run no script, fetch nothing, overflow nothing, draw its charts, and link only to ids it has.
Chromium's own print engine must also lay it out over several pages (the print CSS works
outside WeasyPrint).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, missing, run_cli

WIDTHS = (1280, 800)
SECTIONS = ("Executive summary", "Scope", "Methodology", "Appendix")
PASS_RGB = (0x2E, 0x7D, 0x32)  # assessor/report/chart.py SERIES
FAIL_RGB = (0xC6, 0x28, 0x28)


def _need(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        missing(f"{binary} ({package})")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{"real": two-period host+image report, "big": 150 synthetic containers} as HTML files."""
    tmp = tmp_path_factory.mktemp("report-browser")
    image = tmp / "image"
    subprocess.run(
        [sys.executable, str(ROOT / "tools/sample_image.py"), str(image)], check=True, timeout=60
    )
    real_db = f"sqlite:///{tmp / 'real.db'}"
    for period in ("2026-Q3", "2026-Q4"):
        run = run_cli("scan", "host:/", f"image:oci:{image}", "--period", period, db=real_db)
        assert run.code == 0, run.err
    out: dict[str, Path] = {"real": tmp / "real.html", "big": tmp / "big.html"}
    run = run_cli("report", "-o", str(out["real"]), "--organisation", "ACME Org", db=real_db)
    assert run.code == 0, run.err

    from tests.reportdata import make_assessment

    big_db = f"sqlite:///{tmp / 'big.db'}"
    _, failing = make_assessment(big_db, 150)
    assert failing >= 150 * 5
    run = run_cli("report", "-o", str(out["big"]), db=big_db)
    assert run.code == 0, run.err
    return out


class Loaded:
    """One report loaded in a fresh page, with everything the page said and asked for."""

    def __init__(self, browser: Any, path: Path, width: int, kind: str = "") -> None:
        self.kind = kind
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on(
            "console", lambda m: self.console.append(m.text) if m.type == "error" else None
        )
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.resolve().as_uri(), wait_until="load")

    def close(self) -> None:
        self.context.close()


@pytest.fixture(
    params=[(kind, w) for kind in ("real", "big") for w in WIDTHS],
    ids=lambda p: f"{p[0]}-{p[1]}px",
)
def loaded(
    request: pytest.FixtureRequest, browser: Any, reports: dict[str, Path]
) -> Iterator[Loaded]:
    kind, width = request.param
    page = Loaded(browser, reports[kind], width, kind)
    try:
        yield page
    finally:
        page.close()


# Everything measured in one pass over the DOM (ids, anchors, table widths).
LAYOUT_JS = """() => {
  const doc = document.documentElement;
  const tables = [...document.querySelectorAll('table')].map((t) => {
    const r = t.getBoundingClientRect();
    return {
      cls: t.className, caption: t.caption ? t.caption.textContent.slice(0, 80) : '',
      inResults: !!t.closest('.results') || t.classList.contains('findings'),
      scrollWidth: t.scrollWidth, clientWidth: t.clientWidth, right: r.right + window.scrollX,
      rows: t.rows.length,
    };
  });
  const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
  const seen = new Set(); const dups = new Set();
  for (const id of ids) { if (seen.has(id)) dups.add(id); seen.add(id); }
  const hrefs = [...document.querySelectorAll('a[href^="#"]')].map((a) => a.getAttribute('href'));
  const broken = hrefs.filter((h) => h.length < 2 || !document.getElementById(
    decodeURIComponent(h.slice(1))));
  return {
    scripts: document.scripts.length,
    docScrollWidth: doc.scrollWidth, docClientWidth: doc.clientWidth,
    innerWidth: window.innerWidth, tables, dups: [...dups], hrefs: hrefs.length, broken,
    h2: [...document.querySelectorAll('h2')].map((h) => h.textContent.trim()),
    wide: [...document.body.querySelectorAll('*')]
      .filter((e) => e.getBoundingClientRect().right + window.scrollX > doc.clientWidth + 1)
      .slice(0, 5).map((e) => e.tagName + '.' + e.className),
  };
}"""


def test_report_loads_cleanly_without_script_requests_or_overflow(loaded: Loaded) -> None:
    info = loaded.page.evaluate(LAYOUT_JS)
    assert loaded.console == [], f"console errors: {loaded.console}"
    assert loaded.errors == [], f"page errors: {loaded.errors}"
    assert info["scripts"] == 0
    assert (
        loaded.page.evaluate("document.querySelectorAll('[onload],[onerror],[onclick]').length")
        == 0
    )
    foreign = [u for u in loaded.requests if not u.startswith(("file:", "data:"))]
    assert foreign == [], f"the report asked for {foreign[:5]}"
    assert loaded.requests, "the page load itself should have been seen"

    results = [t for t in info["tables"] if t["inResults"]]
    assert len(results) >= 20, "the results sections hold the rule and findings tables"
    if loaded.kind == "big":  # the long-table case really is long
        assert max(t["rows"] for t in results) > 150
    for t in info["tables"]:  # every table, results tables first of all
        assert t["scrollWidth"] <= t["clientWidth"] + 1, f"table overflows its box: {t}"
        assert t["right"] <= info["docClientWidth"] + 1, f"table sticks out of the page: {t}"
    assert info["docScrollWidth"] <= info["innerWidth"], (
        f"horizontal scrolling: document {info['docScrollWidth']} px wide in a "
        f"{info['innerWidth']} px window; too wide: {info['wide']}"
    )

    for title in SECTIONS:
        assert any(h.startswith(title) for h in info["h2"]), (title, info["h2"])
    assert any(h.startswith("Results: ") for h in info["h2"])
    assert info["hrefs"] >= 8, "contents links at least"
    assert info["broken"] == [], f"links to missing ids: {info['broken'][:10]}"
    assert info["dups"] == [], f"ids used more than once: {info['dups'][:10]}"


def _colours(png: bytes) -> tuple[int, float, Any]:
    from PIL import Image, ImageStat

    img = Image.open(io.BytesIO(png)).convert("RGB")
    distinct = img.getcolors(maxcolors=1 << 20)
    stddev = max(ImageStat.Stat(img.convert("L")).stddev)
    return (len(distinct) if distinct is not None else 1 << 20), stddev, img


def _has_colour(img: Any, rgb: tuple[int, int, int], tol: int = 30, at_least: int = 20) -> bool:
    found = 0
    for count, colour in img.getcolors(maxcolors=1 << 20) or []:
        if all(abs(a - b) <= tol for a, b in zip(colour, rgb, strict=True)):
            found += count
    return found >= at_least


def test_trend_charts_are_drawn_and_visible(loaded: Loaded) -> None:
    figures = loaded.page.locator("figure.chart")
    n = figures.count()
    assert n >= 3, "one trend chart per default framework"
    for i in range(n):
        fig = figures.nth(i)
        svg = fig.locator("svg")
        assert svg.count() == 1
        svg.scroll_into_view_if_needed()
        assert svg.is_visible()
        box = svg.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 80, box
        assert svg.locator("path").count() >= 10, "bars, axes and glyphs are paths"
        distinct, stddev, img = _colours(fig.screenshot())
        assert distinct > 2 and stddev > 5, (
            f"chart {i} screenshot is flat: {distinct} colours, stddev {stddev:.1f}"
        )
        assert _has_colour(img, PASS_RGB) and _has_colour(img, FAIL_RGB), (
            f"chart {i}: no pass/fail colour drawn"
        )


def test_real_report_trend_has_both_periods(browser: Any, reports: dict[str, Path]) -> None:
    page = Loaded(browser, reports["real"], 1280)
    try:
        captions = page.page.locator("figure.chart figcaption").all_inner_texts()
        assert captions and all("2 periods: 2026-Q3, 2026-Q4" in c for c in captions), captions
    finally:
        page.close()


def test_chromium_prints_the_report_over_several_pages(
    browser: Any, reports: dict[str, Path], tmp_path: Path
) -> None:
    pdfinfo = _need("pdfinfo", "poppler-utils")
    page = Loaded(browser, reports["real"], 1280)
    try:
        pdf = tmp_path / "chromium.pdf"
        page.page.pdf(path=str(pdf), format="A4", print_background=True)
    finally:
        page.close()
    info = subprocess.run(
        [pdfinfo, str(pdf)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    pages = int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))
    assert pages > 3, info
