"""HTML from the Jinja2 templates in reports/templates; PDF from that same HTML by WeasyPrint."""

from __future__ import annotations

import gc
import io
import logging
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from assessor.errors import AssessorError
from assessor.report.attachments import safe_name
from assessor.report.chart import trend_svg
from assessor.resources import data_dir

if TYPE_CHECKING:
    from collections.abc import Sequence

    from jinja2 import Environment

    from assessor.audit.trend import PeriodPoint
    from assessor.report.attachments import ShippedFile
    from assessor.report.data import ReportData
    from assessor.report.fleet import FleetData

# The visible PDF signature sits where the cover's .sigbox is drawn (reports/static/report.css:
# A4 cover page, 20 mm margins, a 90 x 28 mm box at the bottom left). PDF units are points,
# from the bottom left corner of the page.
_MM = 72 / 25.4
SIGNATURE_BOX = (round(20 * _MM), round(20 * _MM), round(110 * _MM), round(48 * _MM))

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_ACTIVE = re.compile(r"<\s*(script|foreignObject|iframe)|\son[a-z]+\s*=|javascript:", re.IGNORECASE)


def _safe_svg(svg: str) -> Any:
    """Our chart's SVG, inlined unescaped: comments dropped, anything active refused."""
    from markupsafe import Markup

    cleaned = _COMMENT.sub("", svg)
    if _ACTIVE.search(cleaned):
        raise AssessorError("the trend chart holds active content; refusing to inline it")
    return Markup(cleaned)  # noqa: S704 - written by assessor.report.chart, texts escaped


def _dt(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else ""


def _filesize(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


def _css_string(value: object) -> Any:
    """A double-quoted CSS string holding ``value``, safe inside a <style> element: every
    character but letters, digits, '-', '_', '.', ':' and '/' is a CSS hex escape, so no
    quote, backslash, '<' or newline from a target reaches the stylesheet as itself."""
    from markupsafe import Markup

    text = str(value)
    out = "".join(
        c if c.isascii() and (c.isalnum() or c in "-_.:/") else f"\\{ord(c):x} " for c in text
    )
    return Markup(f'"{out}"')  # noqa: S704 - every other character escaped above


def environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(data_dir("reports") / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["safe_svg"] = _safe_svg
    env.filters["dt"] = _dt
    env.filters["filesize"] = _filesize
    env.filters["css_string"] = _css_string
    return env


class Charts:
    """The trend charts' SVG (assessor.report.chart) of a report's frameworks. Written from the
    numbers in this process (a few milliseconds each); ``start`` then ``finish`` puts each into
    its framework view."""

    def __init__(
        self, jobs: Sequence[tuple[Sequence[PeriodPoint], str]], todo: Sequence[Any] = ()
    ) -> None:
        self.jobs = list(jobs)  # (points, framework id) of each chart
        self.todo = list(todo)  # the framework views they go into (finish), if any

    @classmethod
    def of(cls, data: ReportData) -> Charts:
        """The charts ``data``'s frameworks still lack."""
        todo = [fw for fw in data.frameworks if not fw.chart_svg]
        return cls([(fw.trend, fw.id) for fw in todo], todo)

    def start(self) -> Charts:
        return self

    def drawn(self) -> list[str]:
        """Each chart's SVG, in the order of the jobs."""
        return [trend_svg(points, fw) for points, fw in self.jobs]

    def finish(self) -> None:
        """Put each chart's SVG into its framework view."""
        for fw, svg in zip(self.todo, self.drawn(), strict=True):
            fw.chart_svg = svg
        self.todo, self.jobs = [], []


def render_html(
    data: ReportData, manifest: str = "", note: str = "", charts: Charts | None = None
) -> str:
    """The whole report as one self-contained HTML document (CSS and charts inline).

    ``charts``: the report's charts (``Charts.of(data).start()``) if the caller made them;
    else they are written here.

    ``note`` (what is attached) and ``manifest`` (the files shipped beside an HTML report,
    so that a signature over the HTML covers them), both from assessor.report.attachments,
    go at the end of the body."""
    (charts or Charts.of(data).start()).finish()
    from markupsafe import Markup

    css = (data_dir("reports") / "static" / "report.css").read_text(encoding="utf-8")
    if "</" in css:
        raise AssessorError("reports/static/report.css must not contain '</'")
    template = environment().get_template("report.html.j2")
    html = template.render(r=data, css=Markup(css))  # noqa: S704 - our stylesheet, checked above
    if manifest or note:
        end = html.rfind("</body>")
        if end < 0:
            raise AssessorError("the report template has no </body>")
        html = html[:end] + note + manifest + html[end:]
    return html


def render_pdf(html: str, attachments: Sequence[ShippedFile] = ()) -> bytes:
    """The same HTML as a PDF (print CSS, bookmarks from headings), with ``attachments``
    embedded as PDF file attachments (named by their path). Nothing is fetched: the document
    holds no external resource, and any URL it names is refused."""
    from weasyprint import HTML, Attachment, URLFetcher  # type: ignore[import-untyped]

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)

    # Only data: URLs (the logo) are read; anything else a hostile string might name is refused.
    fetcher = URLFetcher(allowed_protocols={"data"}, allow_redirects=False, timeout=1)
    files = [
        Attachment(
            file_obj=io.BytesIO(f.body),
            name=f.path,
            description=f"{f.description}; sha256 {f.sha256}",
            url_fetcher=fetcher,
            relationship="Supplement",
        )
        for f in attachments
    ]
    # WeasyPrint allocates some million short-lived objects and almost no garbage cycles; the
    # cyclic collector's passes over them cost about a tenth of the layout time, for a few MiB
    # it would find (tests/bench/bench_report.py). Off while rendering, back on after.
    enabled = gc.isenabled()
    gc.disable()
    try:
        document = HTML(string=html, url_fetcher=fetcher, base_url="about:blank").render()
        del html
        pdf: bytes = document.write_pdf(attachments=files or None)
    finally:
        if enabled:
            gc.enable()
    return pdf


def _stylesheet() -> str:
    css = (data_dir("reports") / "static" / "report.css").read_text(encoding="utf-8")
    if "</" in css:
        raise AssessorError("reports/static/report.css must not contain '</'")
    return css


def render_fleet_html(data: FleetData, manifest: str = "", note: str = "") -> str:
    """The fleet report (assessor.report.fleet) as one HTML document, its charts drawn here;
    ``manifest`` (the per-host files shipped beside it) and ``note`` go at the end."""
    from markupsafe import Markup

    data.charts = {fw: trend_svg(data.trend, fw) for fw in data.frameworks} if data.trend else {}
    template = environment().get_template("fleet.html.j2")
    html = template.render(r=data, css=Markup(_stylesheet()))  # noqa: S704 - our stylesheet
    if manifest or note:
        end = html.rfind("</body>")
        html = html[:end] + note + manifest + html[end:]
    return html


def render_fleet_hosts(data: FleetData) -> list[tuple[str, bytes]]:
    """Each host's detail as its own HTML file, ``hosts/NNNN-NAME.html``, with the stylesheet
    they share, ``hosts/style.css``: (path, bytes), the stylesheet first."""
    template = environment().get_template("fleet_host.html.j2")
    files = [("hosts/style.css", _stylesheet().encode("utf-8"))]
    files += (
        (host_file(h.number, h.name), template.render(r=data, h=h).encode("utf-8"))
        for h in data.hosts
    )
    return files


def host_file(number: int, name: str) -> str:
    """A host's detail file in the report's folder: its place worst first, and its name
    reduced to ``[A-Za-z0-9._-]`` (a hostile name cannot leave the folder)."""
    return f"hosts/{number:05d}-{safe_name(name, 60)}.html"
