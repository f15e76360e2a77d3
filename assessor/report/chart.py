"""The trend chart: requirement statuses per period, drawn by matplotlib as SVG.

SVG text is drawn as paths, so the chart looks the same in a browser and in WeasyPrint's
PDF whatever fonts either has.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from assessor.audit.trend import PeriodPoint

# Drawn bottom to top; colours match reports/static/report.css.
SERIES = (
    ("pass", "passed", "#2e7d32"),
    ("waived", "waived", "#6d8fb3"),
    ("manual", "manual", "#f2b13c"),
    ("error", "error", "#8e44ad"),
    ("fail", "failed", "#c62828"),
)


def trend_svg(points: Sequence[PeriodPoint], framework: str, title: str = "") -> str:
    """A stacked bar per period (requirements by status) with the share passed as a line.

    Drawn small (three side by side on the summary page) and without a legend: the report
    prints one legend for all of them, in the colours of ``SERIES``."""
    import matplotlib

    matplotlib.use("svg", force=False)
    from matplotlib.figure import Figure

    with matplotlib.rc_context(
        {"svg.hashsalt": "assessor", "svg.fonttype": "path", "font.size": 7, "axes.titlesize": 8}
    ):
        fig = Figure(figsize=(2.5, 1.55), dpi=100)
        ax = fig.add_subplot()
        periods = [p.period for p in points]
        xs = list(range(len(points)))
        bottom = [0] * len(points)
        for key, label, colour in SERIES:
            values = [p.counts.get(framework, {}).get(key, 0) for p in points]
            if not any(values) and key in ("waived", "error"):
                continue
            ax.bar(xs, values, 0.6, bottom=bottom, label=label, color=colour)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_xticks(xs, periods)
        ax.set_xlim(-0.7, max(len(points), 4) - 0.3)
        ax.spines[["top", "right"]].set_visible(False)
        share = ax.twinx()
        shares = []
        for p in points:
            c = p.counts.get(framework, {})
            judged = sum(c.get(k, 0) for k in ("pass", "fail", "error", "waived", "manual"))
            shares.append(100.0 * c.get("pass", 0) / judged if judged else 0.0)
        share.plot(xs, shares, color="#1b1b1b", marker="o", markersize=3, linewidth=1.0)
        share.set_ylim(0, 100)
        share.set_yticks([0, 50, 100], ["0%", "50%", "100%"])
        share.spines[["top"]].set_visible(False)
        if title:
            ax.set_title(title, loc="left")
        fig.subplots_adjust(left=0.13, right=0.84, bottom=0.16, top=0.92 if not title else 0.84)
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    svg = out.getvalue()
    # drop the XML prolog and DOCTYPE so the SVG can sit inline in HTML
    start = svg.find("<svg")
    return svg[start:]
