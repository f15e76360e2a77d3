"""The trend chart (assessor.report.chart) is an SVG written from the numbers: a stacked bar
per period in the statuses' colours, scaled to one left axis, the share passed as a line on a
0-100 % right axis, the periods as labels, every text escaped, nothing active, no ids (several
charts sit in one HTML document)."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from assessor.audit.trend import PeriodPoint
from assessor.report.chart import SERIES, trend_svg
from assessor.report.render import _safe_svg
from tests.conftest import ROOT

NS = "{http://www.w3.org/2000/svg}"
COLOUR = {key: colour for key, _, colour in SERIES}
POINTS = [
    PeriodPoint("2026-Q3", 1, "2026-07-01", {"fw": {"pass": 5, "fail": 3, "manual": 1}}),
    PeriodPoint("2026-Q4", 2, "2026-10-01", {"fw": {"pass": 7, "fail": 1, "error": 1}}),
]


def approx(x: float) -> object:
    return pytest.approx(x, abs=0.02)  # coordinates are written with two decimals


def _bars(svg: str) -> dict[tuple[str, str], tuple[float, float, float]]:
    """(period, colour) -> (x centre, bottom y, height) of each bar segment."""
    out = {}
    for path in ET.fromstring(svg).iter(f"{NS}path"):
        title = path.find(f"{NS}title")
        if title is None:
            continue
        x0, y0, x1, y1 = (
            float(v)
            for v in re.fullmatch(r"M(\S+) (\S+)H(\S+)V(\S+)H\S+Z", path.get("d", "")).groups()
        )
        out[(str(title.text).split(":")[0], path.get("fill", ""))] = ((x0 + x1) / 2, y0, y0 - y1)
    return out


def test_bars_stack_each_status_in_its_colour_in_proportion() -> None:
    bars = _bars(trend_svg(POINTS, "fw"))
    assert set(bars) == {
        ("2026-Q3", COLOUR["pass"]),
        ("2026-Q3", COLOUR["fail"]),
        ("2026-Q3", COLOUR["manual"]),
        ("2026-Q4", COLOUR["pass"]),
        ("2026-Q4", COLOUR["fail"]),
        ("2026-Q4", COLOUR["error"]),
    }
    unit = bars[("2026-Q3", COLOUR["fail"])][2] / 3
    assert bars[("2026-Q3", COLOUR["pass"])][2] == approx(5 * unit)
    assert bars[("2026-Q4", COLOUR["pass"])][2] == approx(7 * unit)
    assert bars[("2026-Q4", COLOUR["error"])][2] == approx(unit)
    # stacked bottom to top in SERIES order: pass, then manual on it, then fail on that
    pass_bottom, pass_height = bars[("2026-Q3", COLOUR["pass"])][1:]
    assert bars[("2026-Q3", COLOUR["manual"])][1] == approx(pass_bottom - pass_height)
    assert bars[("2026-Q3", COLOUR["pass"])][0] < bars[("2026-Q4", COLOUR["pass"])][0]


def test_axes_periods_and_share_line() -> None:
    root = ET.fromstring(trend_svg(POINTS, "fw", title="CIS"))
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "CIS" in texts and "2026-Q3" in texts and "2026-Q4" in texts
    assert {"0%", "50%", "100%"} <= set(texts)
    assert "10" in texts  # the left axis reaches the tallest bar (9 requirements)
    dots = [c.find(f"{NS}title").text for c in root.iter(f"{NS}circle")]  # type: ignore[union-attr]
    assert dots == ["2026-Q3: 56% passed", "2026-Q4: 78% passed"]


def test_texts_are_escaped_and_nothing_is_active_or_named() -> None:
    hostile = [
        PeriodPoint('<script>alert(1)</script>"', 1, "x", {"fw": {"pass": 1}}),
        PeriodPoint("a&b", 2, "y", {}),
    ]
    svg = trend_svg(hostile, "fw", title="<img src=x onerror=alert(1)>")
    root = ET.fromstring(svg)  # well-formed XML
    assert not any(e.tag in (f"{NS}script", f"{NS}foreignObject") for e in root.iter())
    assert "<script" not in svg and "<img" not in svg and " id=" not in svg
    assert '<script>alert(1)</script>"' in [t.text for t in root.iter(f"{NS}text")]
    plain = trend_svg(hostile, "fw")
    assert str(_safe_svg(plain)) == plain  # the report's guard lets the chart in as it is
    assert plain == trend_svg(hostile, "fw")


def test_no_periods_and_empty_counts_still_draw_axes() -> None:
    root = ET.fromstring(trend_svg([], "fw"))
    assert [t.text for t in root.iter(f"{NS}text")] == ["0", "1", "0%", "50%", "100%"]
    assert not list(root.iter(f"{NS}circle"))


def test_a_report_loads_no_plotting_library() -> None:
    script = (
        "import sys; from assessor.audit.trend import PeriodPoint; "
        "from assessor.report.render import Charts; "
        "Charts([([PeriodPoint('p', 1, 'x', {'f': {'pass': 1}})], 'f')]).start().drawn(); "
        "print(sorted(m for m in ('matplotlib', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "[]"
