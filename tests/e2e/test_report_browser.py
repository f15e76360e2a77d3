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
from html import escape
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, missing, run_cli

WIDTHS = (1280, 800)
SECTIONS = ("Executive summary", "Findings", "Waivers and attestations", "Coverage: ", "Appendix")
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
      inResults: !!t.closest('#findings, section.coverage, #all-findings'),
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
    kinds = [t["cls"].split()[0] for t in results]
    assert kinds.count("matrix") >= 3, "a coverage matrix per default framework"
    assert "hits" in kinds, "the findings list the resources they hit"
    if loaded.kind == "big":  # the long case really is long: a long matrix, every container named
        assert max(t["rows"] for t in results) >= 100
        assert "bench-00149" in loaded.page.locator("#all-findings").inner_text()
    for t in info["tables"]:  # every table, results tables first of all
        assert t["scrollWidth"] <= t["clientWidth"] + 1, f"table overflows its box: {t}"
        assert t["right"] <= info["docClientWidth"] + 1, f"table sticks out of the page: {t}"
    assert info["docScrollWidth"] <= info["innerWidth"], (
        f"horizontal scrolling: document {info['docScrollWidth']} px wide in a "
        f"{info['innerWidth']} px window; too wide: {info['wide']}"
    )

    for title in SECTIONS:
        assert any(h.startswith(title) for h in info["h2"]), (title, info["h2"])
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
        # a bar segment per status drawn (each with its count as a tooltip), axes and labels
        assert svg.locator("path > title").count() >= 2, "no stacked bar segments"
        labels = svg.locator("text").all_text_contents()
        assert {"0%", "50%", "100%"} <= set(labels), labels
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
        # the charts draw both periods; the table under them gives their numbers, one row each
        assert page.page.locator("figure.chart svg").count() >= 3
        periods = page.page.locator("table.trend tbody th").all_inner_texts()
        assert periods == ["2026-Q3", "2026-Q4"], periods
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


# -- filtering by status, severity, framework and target (CSS :has(), no script) -------------

FILTERS = {
    "status": "status",
    "severity": "severity",
    "framework": "frameworks",
    "target": "target",
}  # <select id="filter-NAME"> -> the data-ATTR it filters on

# For every .filterable block: its data-* tokens, and whether Chromium lays it out.
FILTERABLE_JS = """() => [...document.querySelectorAll('.filterable')].map((e) => ({
  id: e.id, tag: e.tagName,
  status: (e.dataset.status || '').split(/\\s+/).filter(Boolean),
  severity: (e.dataset.severity || '').split(/\\s+/).filter(Boolean),
  frameworks: (e.dataset.frameworks || '').split(/\\s+/).filter(Boolean),
  target: (e.dataset.target || '').split(/\\s+/).filter(Boolean),
  visible: e.getClientRects().length > 0,
}))"""
OPTIONS_JS = """(name) => [...document.querySelectorAll('#filter-' + name + ' option')]
  .map((o) => ({value: o.value, token: o.dataset.value || null, label: o.textContent.trim()}))"""


def _choose(page: Any, choice: dict[str, str]) -> list[dict[str, Any]]:
    """Select ``choice`` (filter name -> option value, "any" for the rest) and read the blocks."""
    for name in FILTERS:
        page.select_option(f"#filter-{name}", choice.get(name, "any"))
    rows: list[dict[str, Any]] = page.evaluate(FILTERABLE_JS)
    return rows


def _expected(row: dict[str, Any], tokens: dict[str, str]) -> bool:
    return all(tok in row[FILTERS[name]] for name, tok in tokens.items())


@pytest.mark.parametrize("kind", ["real", "big"])
def test_filters_show_exactly_the_matching_blocks(
    browser: Any, reports: dict[str, Path], kind: str
) -> None:
    page = Loaded(browser, reports[kind], 1280, kind)
    try:
        p = page.page
        assert p.evaluate("document.scripts.length") == 0, "the filters run no script"
        assert p.locator("#filters select").count() == len(FILTERS)
        everything = _choose(p, {})
        assert len(everything) >= 20, "findings, coverage rows, manual checks are filterable"
        assert all(r["visible"] for r in everything), "nothing is hidden before a choice"
        kinds = {r["tag"] for r in everything}
        assert {"ARTICLE", "TR"} <= kinds, kinds
        options = {name: p.evaluate(OPTIONS_JS, name) for name in FILTERS}
        # every value the blocks carry can be chosen, and no option is an empty value
        for name, attr in FILTERS.items():
            offered = {o["token"] for o in options[name] if o["value"] != "any"}
            assert None not in offered and "" not in offered, options[name]
            carried = {tok for r in everything for tok in r[attr]}
            assert carried <= offered, f"{name}: blocks carry {carried - offered} not offered"
        narrowed = 0
        for name in FILTERS:
            for o in options[name]:
                if o["value"] == "any":
                    continue
                rows = _choose(p, {name: o["value"]})
                wrong = [r["id"] for r in rows if r["visible"] != _expected(r, {name: o["token"]})]
                assert not wrong, f"{name}={o['token']}: shown/hidden wrongly: {wrong[:5]}"
                shown = sum(r["visible"] for r in rows)
                narrowed += 0 < shown < len(rows)
                note = p.locator("#filters .filtered")
                assert note.is_visible(), "a filtered view says so"
        assert narrowed >= 3, "some choices must hide some blocks and keep others"
        # two filters at once: the blocks matching both, and the reset shows everything again
        fail = next(o for o in options["status"] if o["token"] == "fail")
        sev = next(
            o
            for o in options["severity"]
            if o["value"] != "any"
            and any("fail" in r["status"] and o["token"] in r["severity"] for r in everything)
        )
        rows = _choose(p, {"status": fail["value"], "severity": sev["value"]})
        want = {"status": "fail", "severity": sev["token"]}
        assert [r["visible"] for r in rows] == [_expected(r, want) for r in rows]
        assert 0 < sum(r["visible"] for r in rows) < len(rows)
        p.click("#filters button[type=reset]")
        assert all(r["visible"] for r in p.evaluate(FILTERABLE_JS)), "reset shows everything"
        assert not p.locator("#filters .filtered").is_visible()
        assert page.errors == [] and page.console == []
        assert [u for u in page.requests if not u.startswith(("file:", "data:"))] == []
    finally:
        page.close()


def test_filtered_page_prints_everything_without_the_controls(
    browser: Any, reports: dict[str, Path]
) -> None:
    """Printing (Chromium's print engine, print media) shows no control and hides no block."""
    page = Loaded(browser, reports["real"], 1280)
    try:
        p = page.page
        fail = next(o for o in p.evaluate(OPTIONS_JS, "status") if o["token"] == "fail")
        rows = _choose(p, {"status": fail["value"]})
        assert not all(r["visible"] for r in rows)
        p.emulate_media(media="print")
        assert all(r["visible"] for r in p.evaluate(FILTERABLE_JS))
        assert not p.locator("#filters").is_visible()
    finally:
        page.close()


HOSTILE = 'image:oci:/tmp/a"]</style><script>window.pwned=1</script><b\\'
SPACED = "image:oci:/tmp/with space"


def test_filter_on_a_hostile_target_name_matches_it_and_runs_nothing(browser: Any) -> None:
    """A target string that tries to end the style element and the CSS string: the filter's CSS
    escapes it, so choosing it shows exactly the blocks of that target and runs no script."""
    from types import SimpleNamespace

    from assessor.report.render import environment

    fw = SimpleNamespace(id="fw-1", label="Framework <1>")
    r = SimpleNamespace(
        statuses=("fail", "pass"),
        status_labels={"fail": "failed", "pass": "passed"},
        severities=("high", "low"),
        frameworks=[fw],
        targets=[SimpleNamespace(uri=t) for t in (HOSTILE, "host:/", SPACED)],
    )
    controls = environment().get_template("_filters.html.j2").render(r=r)
    assert "</style><script" not in controls
    blocks = "".join(
        f'<div class="filterable" id="b{i}" data-status="fail" data-severity="high" '
        f'data-frameworks="fw-1" data-target="{escape(t)}">{i}</div>'
        for i, t in enumerate([HOSTILE, "host:/", f"host:/ {HOSTILE}", SPACED])
    )
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content(f"<!DOCTYPE html><html><body>{controls}{blocks}</body></html>")
        assert page.evaluate("document.scripts.length") == 0
        for target, want in ((HOSTILE, ["b0", "b2"]), ("host:/", ["b1", "b2"]), (SPACED, ["b3"])):
            value = page.evaluate(
                "(t) => [...document.querySelectorAll('#filter-target option')]"
                ".find((o) => o.dataset.value === t).value",
                target,
            )
            page.select_option("#filter-target", value)
            shown = page.evaluate(
                "[...document.querySelectorAll('.filterable')]"
                ".filter((e) => e.getClientRects().length).map((e) => e.id)"
            )
            assert shown == want, target
        assert page.evaluate("window.pwned === undefined")
    finally:
        context.close()
