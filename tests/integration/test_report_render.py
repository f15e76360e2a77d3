"""The PDF report looked at: rendered to pixels by poppler, read as text, checked for bookmarks,
its PAdES signature checked by pdfsig and `assessor verify`, and its visible stamp found.

One small real assessment (this host and the sample image) is rendered twice: unsigned with
the default frameworks, and signed (`assessor keys init` into a temporary key directory) with
one framework, both processes at once.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, missing, run_cli

ORG = "Render Check Ltd (Ærøskøbing)"
SECTIONS = (
    "Executive summary",
    "Findings",
    "Waivers and attestations",
    "Coverage: ",
    "Appendix A: Manual procedures",
    "Appendix D: Scope",
    "Appendix E: Methodology",
    "Page 2 of",
)
PASS_RGB = (0x2E, 0x7D, 0x32)  # assessor/report/chart.py SERIES, reports/static/report.css
FAIL_RGB = (0xC6, 0x28, 0x28)
A4_MM = (210.0, 297.0)
# the visible signature: assessor/report/render.py SIGNATURE_BOX, in mm from the bottom left
SIG_BOX_MM = (20.0, 20.0, 110.0, 48.0)


def _need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        missing(f"{binary} (apt-get install -y poppler-utils)")
    assert path is not None
    return path


def _tool(*args: str) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"{args}: {proc.stderr}"
    return proc.stdout


@dataclass
class Rendered:
    tmp: Path
    unsigned: Path
    signed: Path
    db_unsigned: Path
    db_signed: Path
    env: dict[str, str]


def _start_report(pdf: Path, db: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    """`assessor report` as run_cli runs it, but not waited for."""
    full_env = {**os.environ, **env}
    full_env.pop("ASSESSOR_DB", None)
    args = ["report", "-o", str(pdf), "--organisation", ORG, "--assessor", "A. Auditor"]
    return subprocess.Popen(
        [sys.executable, "-m", "assessor", *args, "--db", f"sqlite:///{db}", *extra],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    for tool in ("pdftoppm", "pdftotext", "pdfinfo", "pdfsig"):
        _need(tool)
    tmp = tmp_path_factory.mktemp("report-render")
    image = tmp / "image"
    subprocess.run(
        [sys.executable, str(ROOT / "tools/sample_image.py"), str(image)], check=True, timeout=60
    )
    db_unsigned, db_signed = tmp / "unsigned.db", tmp / "signed.db"
    run = run_cli(
        "scan", "host:/", f"image:oci:{image}", "--period", "2026-Q4", db=f"sqlite:///{db_unsigned}"
    )
    assert run.code == 0, run.err
    # one database per writer, as the renders run at once
    with sqlite3.connect(db_unsigned) as src, sqlite3.connect(db_signed) as dst:
        src.backup(dst)
    env = {"ASSESSOR_KEY_DIR": str(tmp / "keys"), "ASSESSOR_KEY_PASSPHRASE": ""}
    run = run_cli("keys", "init", "--organisation", "Render Check Auditors", env=env)
    assert run.code == 0, run.err

    out = Rendered(tmp, tmp / "unsigned.pdf", tmp / "signed.pdf", db_unsigned, db_signed, env)
    # both renders at once (WeasyPrint is single-threaded), each writing its own database
    procs = [
        _start_report(out.unsigned, db_unsigned, env),
        # the signed copy with one framework only: half the pages, half the render time
        _start_report(out.signed, db_signed, env, "--sign", "--framework", "cis-docker-1.8.0"),
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    return out


def _page_texts(pdf: Path) -> list[str]:
    """pdftotext separates pages with form feeds."""
    text = _tool("pdftotext", "-layout", str(pdf), "-")
    pages = text.split("\f")
    if pages and not pages[-1].strip():
        pages.pop()
    return pages


def _page_count(pdf: Path) -> int:
    info = _tool("pdfinfo", str(pdf))
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M)[1])  # type: ignore[index]


def _render(pdf: Path, out: Path, dpi: int, first: int | None = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    args = ["pdftoppm", "-r", str(dpi), "-png"]
    if first is not None:
        args += ["-f", str(first), "-l", str(first)]
    _tool(*args, str(pdf), str(out / "p"))
    return sorted(out.glob("p-*.png"))


def _gray(png: Path) -> Any:
    from PIL import Image

    return Image.open(png).convert("L")


def _fraction_below(img: Any, level: int) -> float:
    hist: list[int] = img.histogram()
    return sum(hist[:level]) / sum(hist)


@pytest.mark.parametrize("which", ["unsigned", "signed"])
def test_every_page_has_content(pdfs: Rendered, which: str) -> None:
    pdf = getattr(pdfs, which)
    pages = _render(pdf, pdfs.tmp / f"pages-{which}", 40)
    assert len(pages) == _page_count(pdf) > 10
    for png in pages:
        img = _gray(png)
        low, high = img.getextrema()
        assert low < high, f"{png.name}: one flat colour"
        w, h = img.size
        mm = h / A4_MM[1]
        # the body between the running header and footer (18 mm margins) must hold something
        body = img.crop((0, int(19 * mm), w, int(h - 19 * mm)))
        inked = _fraction_below(body, 240)
        assert inked > 0.002, f"{which} {png.name}: blank page ({inked:.3%} of its body inked)"


def test_cover_contents_and_running_footer(pdfs: Rendered) -> None:
    cover = _tool("pdftotext", "-f", "1", "-l", "1", str(pdfs.unsigned), "-")
    assert ORG in cover and "A. Auditor" in cover and "2026-Q4" in cover, cover
    # --assessor is who prepared the report; who finalised it comes from the store (no one yet)
    assert "Report prepared by" in cover and "Not finalised." in cover, cover
    assert "host:/" in cover, "the cover names the scope"
    whole = _tool("pdftotext", str(pdfs.unsigned), "-")
    for text in SECTIONS:
        assert text in whole, f"{text!r} missing from the PDF's text"
    n = _page_count(pdfs.unsigned)
    assert f"Page 2 of {n}" in whole and f"Page {n} of {n}" in whole


def _near(img: Any, rgb: tuple[int, int, int], tol: int = 24) -> int:
    return sum(
        count
        for count, colour in img.getcolors(maxcolors=1 << 22) or []
        if all(abs(a - b) <= tol for a, b in zip(colour, rgb, strict=True))
    )


def test_summary_page_shows_the_trend_chart(pdfs: Rendered) -> None:
    from PIL import Image

    texts = _page_texts(pdfs.unsigned)
    chart_pages = [
        i + 1
        for i, t in enumerate(texts)
        if "Executive summary" in t and "Requirements by status per period" in t
    ]
    assert chart_pages, "no summary page with a chart caption"
    for number in chart_pages:
        (png,) = _render(pdfs.unsigned, pdfs.tmp / f"summary-{number}", 72, first=number)
        img = Image.open(png).convert("RGB")
        green, red = _near(img, PASS_RGB), _near(img, FAIL_RGB)
        # the chart draws bars and legend swatches in exactly these colours; text alone would
        # not give dozens of pixels of the pass green on a summary page
        assert green >= 30 and red >= 30, f"page {number}: green {green}, red {red} pixels"


def test_pdf_has_bookmarks_for_each_part(pdfs: Rendered) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    with pdfs.unsigned.open("rb") as f:
        root = PdfFileReader(f).root
        assert "/Outlines" in root, "the PDF has no outline"
        outlines = root["/Outlines"]
        assert "/First" in outlines, "the outline is empty"
        item = outlines["/First"]  # subscripting resolves indirect objects
        titles = [str(item["/Title"])]
        while "/Next" in item and len(titles) < 1000:
            item = item["/Next"]
            titles.append(str(item["/Title"]))
    for part in ("Contents", "Executive summary", "Findings", "Waivers and attestations"):
        assert part in titles, titles
    assert any(t.startswith("Coverage: ") for t in titles), titles
    appendices = [t.split(":")[0] for t in titles if t.startswith("Appendix")]
    assert appendices == [f"Appendix {x}" for x in "ABCDEF"], titles


def _tampered(src: Path, dest: Path) -> Path:
    """A copy with one byte changed inside the signed byte range (in the Producer string,
    outside the /Contents hex of the signature)."""
    data = bytearray(src.read_bytes())
    m = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data)
    assert m is not None, "no /ByteRange: not signed?"
    start1, len1, start2, len2 = map(int, m.groups())
    assert start1 == 0 and start2 + len2 == len(data), "the signature does not cover the file"
    pos = data.find(b"WeasyPrint")
    if not (0 <= pos < len1 or start2 <= pos < start2 + len2):
        pos = len1 // 2  # somewhere in the first signed range
    assert not (len1 <= pos < start2)
    data[pos] ^= 0x20
    dest.write_bytes(bytes(data))
    return dest


def test_signature_valid_and_any_change_detected(pdfs: Rendered) -> None:
    out = _tool("pdfsig", str(pdfs.signed))
    assert "Signature is Valid" in out and "Total document signed" in out, out
    run = run_cli("verify", str(pdfs.signed), env=pdfs.env)
    assert run.code == 0, run.out + run.err
    assert "VALID" in run.out

    bad = _tampered(pdfs.signed, pdfs.tmp / "tampered.pdf")
    proc = subprocess.run(["pdfsig", str(bad)], capture_output=True, text=True, timeout=60)
    assert "Signature is Valid" not in proc.stdout + proc.stderr, proc.stdout
    run = run_cli("verify", str(bad), env=pdfs.env)
    assert run.code == 1, (run.code, run.out, run.err)
    assert "INVALID" in run.out

    plain = subprocess.run(
        ["pdfsig", str(pdfs.unsigned)], capture_output=True, text=True, timeout=60
    )
    assert "Signature is Valid" not in plain.stdout, "the unsigned report has a signature"


def _sig_region(pdf: Path, out: Path) -> Any:
    (png,) = _render(pdf, out, 72, first=1)
    img = _gray(png)
    w, h = img.size
    sx, sy = w / A4_MM[0], h / A4_MM[1]
    x0, y0, x1, y1 = SIG_BOX_MM
    return img.crop((int(x0 * sx), int(h - y1 * sy), int(x1 * sx), int(h - y0 * sy)))


def test_visible_signature_stamp_on_the_cover(pdfs: Rendered) -> None:
    signed = _sig_region(pdfs.signed, pdfs.tmp / "stamp-signed")
    unsigned = _sig_region(pdfs.unsigned, pdfs.tmp / "stamp-unsigned")
    dark_signed = _fraction_below(signed, 128)
    dark_unsigned = _fraction_below(unsigned, 200)
    assert dark_signed > 0.01, f"no stamp drawn in the signature box ({dark_signed:.2%} dark)"
    assert dark_unsigned == 0, f"the unsigned cover has ink in the box ({dark_unsigned:.2%})"


def test_report_rows_record_each_file(pdfs: Rendered) -> None:
    for pdf, db, signed in (
        (pdfs.unsigned, pdfs.db_unsigned, False),
        (pdfs.signed, pdfs.db_signed, True),
    ):
        digest = hashlib.sha256(pdf.read_bytes()).hexdigest()
        with sqlite3.connect(db) as conn:
            rows = conn.execute(
                "SELECT sha256, format, path, size, signature FROM report"
            ).fetchall()
        assert len(rows) == 1, rows
        sha, fmt, path, size, signature = rows[0]
        assert (sha, fmt, Path(path), size) == (digest, "pdf", pdf.resolve(), pdf.stat().st_size)
        assert (signature not in (None, "null")) is signed, signature
        if signed:
            assert '"pades"' in signature
