"""The trend chart: requirement statuses per period as a small SVG, written from the numbers.

No plotting library: a stacked bar per period, a left axis of requirement counts, the share
passed as a line on a right axis (0-100 %), and the periods under the bars. Every text is
XML-escaped and the document holds no script, style sheet, link or id, so it can sit inline
in the HTML report (reports/templates/_summary.html.j2) and in WeasyPrint's PDF.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from assessor.audit.trend import PeriodPoint
from assessor.report.data.labels import STATUS_LABELS
from assessor.vocab import JUDGED_STATUSES, Status

# Drawn bottom to top; colours match reports/static/report.css and the legend of the summary.
SERIES = tuple(
    (status, STATUS_LABELS[status], colour)
    for status, colour in (
        (Status.PASS, "#2e7d32"),
        (Status.WAIVED, "#6d8fb3"),
        (Status.MANUAL, "#f2b13c"),
        (Status.ERROR, "#8e44ad"),
        (Status.FAIL, "#c62828"),
    )
)

WIDTH, HEIGHT = 250, 155  # the drawing's units; the report's CSS scales it to its column
LEFT, RIGHT, BOTTOM = 32.5, 210.0, 130.2  # the plot area, as a fraction of the figure before
TOP, TOP_TITLED = 12.4, 24.8
FONT = 9.5
INK, LINE = "#1b1b1b", "#1b1b1b"
BAR = 0.6  # a bar's width, in periods


def _num(x: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros (same numbers, same text)."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _step(top: int) -> int:
    """A round tick step (1, 2 or 5 times a power of ten) giving at most five ticks to ``top``."""
    raw = max(top, 1) / 5
    power = 10 ** max(0, math.floor(math.log10(raw))) if raw >= 1 else 1
    for m in (1, 2, 5, 10):
        if m * power >= raw:
            return m * power
    return 10 * power


def _text(x: float, y: float, text: str, anchor: str = "middle") -> str:
    return (
        f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}">{escape(text, quote=True)}'
        "</text>"
    )


@dataclass(frozen=True, slots=True)
class _Frame:
    """The plot area of one chart: ``slots`` periods wide, counts from 0 to ``y_max``."""

    top_y: float
    y_max: int
    slots: int

    def x_of(self, i: float) -> float:  # a period's centre; the axis runs -0.7 to slots - 0.3
        return LEFT + (i + 0.7) / (self.slots + 0.4) * (RIGHT - LEFT)

    def y_of(self, v: float, top: float | None = None) -> float:
        return BOTTOM - v / (self.y_max if top is None else top) * (BOTTOM - self.top_y)


def trend_svg(points: Sequence[PeriodPoint], framework: str, title: str = "") -> str:
    """A stacked bar per period (requirements by status) with the share passed as a line.

    Drawn small (three side by side on the summary page) and without a legend: the report
    prints one legend for all of them, in the colours of ``SERIES``."""
    counts = [p.counts.get(framework, {}) for p in points]
    totals = [sum(c.get(k, 0) for k, _, _ in SERIES) for c in counts]
    step = _step(max(totals, default=0))
    frame = _Frame(
        top_y=TOP_TITLED if title else TOP,
        y_max=max(step, math.ceil(max(totals, default=0) / step) * step),
        slots=max(len(points), 4),
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" font-family="DejaVu Sans, Arial, sans-serif" '
        f'font-size="{FONT}" fill="{INK}" role="img">'
    ]
    if title:
        out.append(_text(LEFT, 12, title, "start"))
    out += _bars(frame, points, counts)
    out += _axes(frame, points, step)
    out += _share_line(frame, points, counts)
    out.append("</svg>\n")
    return "".join(out)


def _bars(frame: _Frame, points: Sequence[PeriodPoint], counts: list[dict[str, int]]) -> list[str]:
    """One path per status and period, bottom to top."""
    out = []
    half = BAR / 2 / (frame.slots + 0.4) * (RIGHT - LEFT)
    for i, c in enumerate(counts):
        base = 0
        for key, label, colour in SERIES:
            value = c.get(key, 0)
            if value <= 0:
                continue
            x0, y0, y1 = frame.x_of(i) - half, frame.y_of(base), frame.y_of(base + value)
            out.append(
                f'<path d="M{_num(x0)} {_num(y0)}H{_num(x0 + 2 * half)}V{_num(y1)}H{_num(x0)}Z" '
                f'fill="{colour}"><title>{escape(points[i].period)}: {value} {label}</title></path>'
            )
            base += value
    return out


def _axes(frame: _Frame, points: Sequence[PeriodPoint], step: int) -> list[str]:
    """Left (counts), bottom (periods), right (share passed); no top frame."""
    top_y, x_of, y_of = frame.top_y, frame.x_of, frame.y_of
    out = [
        f'<path d="M{_num(LEFT)} {_num(top_y)}V{_num(BOTTOM)}H{_num(RIGHT)}V{_num(top_y)}" '
        f'fill="none" stroke="{LINE}" stroke-width="0.8"/>'
    ]
    ticks = []
    for v in range(0, frame.y_max + 1, step):
        y = y_of(v)
        ticks.append(f"M{_num(LEFT - 3)} {_num(y)}H{_num(LEFT)}")
        out.append(_text(LEFT - 5, y + FONT / 3, str(v), "end"))
    for share in (0, 50, 100):
        y = y_of(share, 100)
        ticks.append(f"M{_num(RIGHT)} {_num(y)}H{_num(RIGHT + 3)}")
        out.append(_text(RIGHT + 5, y + FONT / 3, f"{share}%", "start"))
    for i, p in enumerate(points):
        ticks.append(f"M{_num(x_of(i))} {_num(BOTTOM)}V{_num(BOTTOM + 3)}")
        out.append(_text(x_of(i), BOTTOM + 3 + FONT, p.period))
    out.append(f'<path d="{"".join(ticks)}" fill="none" stroke="{LINE}" stroke-width="0.8"/>')
    return out


def _share_line(
    frame: _Frame, points: Sequence[PeriodPoint], counts: list[dict[str, int]]
) -> list[str]:
    """The share passed of the requirements judged, per period: a line with a dot per period."""
    shares = []
    for c in counts:
        judged = sum(c.get(k, 0) for k in JUDGED_STATUSES)
        shares.append(100.0 * c.get(Status.PASS, 0) / judged if judged else 0.0)
    if not shares:
        return []
    x_of, y_of = frame.x_of, frame.y_of
    line = "".join(
        f"{'M' if i == 0 else 'L'}{_num(x_of(i))} {_num(y_of(s, 100))}"
        for i, s in enumerate(shares)
    )
    return [
        f'<path d="{line}" fill="none" stroke="{INK}" stroke-width="1"/>',
        *(
            f'<circle cx="{_num(x_of(i))}" cy="{_num(y_of(s, 100))}" r="2" fill="{INK}">'
            f"<title>{escape(points[i].period)}: {s:.0f}% passed</title></circle>"
            for i, s in enumerate(shares)
        ),
    ]
