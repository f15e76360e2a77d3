"""The PDF report's pages looked at as an auditor sees them: how many pages the body takes, and
whether its tables fit (rendered to pixels by pdftoppm, words placed by pdftotext -bbox-layout).

A demo-like assessment (this host and the sample image, scanned by the CLI, with a waiver and
an attestation with an evidence file) is rendered to PDF once. Checked:

- the body (cover to the coverage matrix) fits in 25 pages, the summary in one;
- every word lies inside the page's text area (16 mm side margins), and no ink crosses the side
  margins: no table cell overflows the page;
- no word of a table header is broken inside the word (a header cell's words are whole words
  of the HTML's header texts).
"""

from __future__ import annotations

import html as htmllib
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, missing, run_cli

BODY_PAGES = 25  # issue 19: the body of the demo assessment fits in 25 pages
MM = 72 / 25.4
A4 = (210 * MM, 297 * MM)
SIDE = 16 * MM  # reports/static/report.css @page margin, left and right
FIRST_APPENDIX = "Appendix A: Manual procedures"


def _need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        missing(f"{binary} (apt-get install -y poppler-utils)")
    assert path is not None
    return path


def _tool(*args: str) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"{args}: {proc.stderr}"
    return proc.stdout


@dataclass
class Rendered:
    tmp: Path
    pdf: Path
    html: str
    pages: list[str]  # pdftotext -layout, one string per page


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    for tool in ("pdftoppm", "pdftotext"):
        _need(tool)
    tmp = tmp_path_factory.mktemp("report-pages")
    image = tmp / "image"
    subprocess.run(
        [sys.executable, str(ROOT / "tools/sample_image.py"), str(image)], check=True, timeout=60
    )
    db = f"sqlite:///{tmp / 'pages.db'}"
    run = run_cli("scan", "host:/", f"image:oci:{image}", "--period", "2026-Q4", db=db)
    assert run.code in (0, 1), run.err
    expires = (datetime.now(UTC) + timedelta(days=60)).date().isoformat()
    run = run_cli(
        "waive",
        "image-healthcheck",
        "--reason",
        "liveness is probed by the orchestrator",
        "--approver",
        "R. Approver",
        "--expires",
        expires,
        "--compensating",
        "orchestrator probes",
        db=db,
    )
    assert run.code == 0, run.err
    proof = tmp / "patch-report.txt"
    proof.write_text("kernel and engine patched 2026-11-30\n")
    run = run_cli(
        "attest",
        "cis-docker-1.8.0:1.2.2",
        "--status",
        "pass",
        "--by",
        "J. Tester",
        "--note",
        "engine version checked against the vendor's advisories",
        "--evidence",
        str(proof),
        "--period",
        "2026-Q4",
        db=db,
    )
    assert run.code == 0, run.err
    pdf, html = tmp / "report.pdf", tmp / "report.html"
    for out in (pdf, html):
        run = run_cli("report", "-o", str(out), "--organisation", "Pages Ltd", db=db)
        assert run.code == 0, run.err
    text = _tool("pdftotext", "-layout", str(pdf), "-")
    pages = text.split("\f")
    if pages and not pages[-1].strip():
        pages.pop()
    return Rendered(tmp, pdf, html.read_text(encoding="utf-8"), pages)


def _heading_page(pages: list[str], heading: str, after: int = 2) -> int:
    """The 1-based page a part's heading starts (past the cover and the contents)."""
    for i, text in enumerate(pages[after:], after + 1):
        if re.search(rf"^\s*{re.escape(heading)}\s*$", text, re.M):
            return i
    raise AssertionError(f"no page starts {heading!r}")


def test_body_fits_in_25_pages_and_the_summary_in_one(report: Rendered) -> None:
    first_appendix = _heading_page(report.pages, FIRST_APPENDIX)
    body = first_appendix - 1
    assert body <= BODY_PAGES, f"the body takes {body} pages (at most {BODY_PAGES})"
    assert len(report.pages) > body, "the appendices are missing"
    summary = _heading_page(report.pages, "Executive summary")
    findings = _heading_page(report.pages, "Findings")
    assert findings == summary + 1, f"the summary takes {findings - summary} pages"
    # the coverage matrix is the last part of the body, manual procedures are not in it
    coverage = _heading_page(report.pages, "Coverage: CIS Docker Benchmark 1.8.0")
    assert findings < coverage < first_appendix
    # procedures ("... Record: what to keep") are in the appendix only
    assert not any(re.search(r"^\s*Record: ", p, re.M) for p in report.pages[:body])
    assert any(re.search(r"^\s*Record: ", p, re.M) for p in report.pages[body:])


_WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>'
)


def _words(pdf: Path) -> list[tuple[int, float, float, float, float, str]]:
    """(page, xMin, yMin, xMax, yMax, text) of every word pdftotext places."""
    out = _tool("pdftotext", "-bbox-layout", str(pdf), "-")
    words = []
    for number, page in enumerate(out.split("<page ")[1:], 1):
        for m in _WORD.finditer(page):
            x0, y0, x1, y1 = map(float, m.groups()[:4])
            words.append((number, x0, y0, x1, y1, htmllib.unescape(m[5])))
    return words


def test_every_word_lies_inside_the_text_area(report: Rendered) -> None:
    words = _words(report.pdf)
    assert len(words) > 1000
    outside = [
        (page, text, round(x0 / MM, 1), round(x1 / MM, 1))
        for page, x0, y0, x1, y1, text in words
        if x0 < SIDE - 0.5 or x1 > A4[0] - SIDE + 0.5 or y0 < 0 or y1 > A4[1]
    ]
    assert not outside, (
        f"{len(outside)} words outside the text area (page, word, mm): {outside[:8]}"
    )


def test_no_ink_in_the_side_margins(report: Rendered) -> None:
    from PIL import Image

    out = report.tmp / "pixels"
    out.mkdir()
    _tool("pdftoppm", "-r", "50", "-gray", str(report.pdf), str(out / "p"))
    pngs = sorted(out.glob("p-*.pgm")) or sorted(out.glob("p-*.png"))
    assert len(pngs) == len(report.pages)
    crossed = []
    for png in pngs[1:]:  # the cover has its own 20 mm margins and nothing near them
        img: Any = Image.open(png).convert("L")
        w, h = img.size
        px = w / 210
        for name, box in (
            ("left", (0, 0, int((16 - 0.7) * px), h)),
            ("right", (int((210 - 16 + 0.7) * px), 0, w, h)),
        ):
            low, _ = img.crop(box).getextrema()
            if low < 200:
                crossed.append((png.name, name, low))
    assert not crossed, f"ink in the side margins: {crossed[:8]}"


class _Text(HTMLParser):
    """The HTML's text: all of it, and the text of each table header cell."""

    def __init__(self) -> None:
        super().__init__()
        self.words: set[str] = set()
        self.headers: list[str] = []
        self._th: list[str] | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script", "svg"):
            self._skip += 1
        elif tag == "th":
            self._th = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "svg"):
            self._skip -= 1
        elif tag == "th" and self._th is not None:
            self.headers.append(" ".join("".join(self._th).split()))
            self._th = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.words.update(data.split())
        if self._th is not None:
            self._th.append(data)


def test_no_table_header_word_is_broken(report: Rendered) -> None:
    parsed = _Text()
    parsed.feed(report.html)
    header_words = {w for text in parsed.headers for w in text.split()}
    assert {"requirement", "status", "waived", "manual", "severity"} <= header_words
    broken = []
    for page, _x0, _y0, _x1, _y1, text in _words(report.pdf):
        # a piece of a word: not a word of the document, but the start or end of a header word
        if text in parsed.words or not re.fullmatch(r"[A-Za-z/%.()-]{2,}", text):
            continue
        whole = sorted(
            h for h in header_words if h != text and (h.startswith(text) or h.endswith(text))
        )
        if whole:
            broken.append((page, text, whole[:3]))
    assert not broken, f"{len(broken)} header words broken inside the word: {broken[:10]}"


def test_no_two_words_overlap(report: Rendered) -> None:
    """A header or cell too narrow for its text lets it run into the next cell: two words of
    one line then share ink. The cover is left out: its running header strings are laid out
    there, clipped to nothing, only to name the pages that follow."""
    by_page: dict[int, list[tuple[float, float, float, float, str]]] = {}
    for page, x0, y0, x1, y1, text in _words(report.pdf):
        by_page.setdefault(page, []).append((x0, y0, x1, y1, text))
    clashes = []
    for page, words in sorted(by_page.items()):
        if page == 1:
            continue
        words.sort()
        for i, (_x0, y0, x1, y1, text) in enumerate(words):
            for bx0, by0, _bx1, by1, other in words[i + 1 :]:
                if bx0 >= x1 - 0.5:
                    break  # sorted by left edge: nothing further right can overlap this word
                same_line = min(y1, by1) - max(y0, by0) > 0.5 * min(y1 - y0, by1 - by0)
                if same_line:
                    clashes.append((page, text, other))
    assert not clashes, f"{len(clashes)} overlapping words (page, word, word): {clashes[:8]}"


def test_the_body_stays_short_whatever_the_number_of_failing_resources(
    tmp_path: Path,
) -> None:
    """143 containers failing 7 rules alike (about 1,000 failing results): the body names a few
    of them per finding and appendix B names every one (DESIGN §6: the body stays short)."""
    from tests.reportdata import make_assessment

    _need("pdftotext")
    db = f"sqlite:///{tmp_path / 'big.db'}"
    _, failing = make_assessment(db, 143)
    assert failing >= 1000
    pdf = tmp_path / "big.pdf"
    run = run_cli("report", "-o", str(pdf), db=db)
    assert run.code == 0, run.err
    text = _tool("pdftotext", "-layout", str(pdf), "-")
    pages = [p for p in text.split("\f") if p.strip()]
    body = _heading_page(pages, FIRST_APPENDIX) - 1
    assert body <= BODY_PAGES, f"the body takes {body} pages"
    appendix = " ".join(" ".join(pages[body:]).split())
    for i in (0, 71, 142):
        assert f"bench-{i:05d}" in appendix, f"bench-{i:05d} is in no appendix"
