"""The trend charts are drawn in a forked child (assessor.report.render.Charts), so the report's
own process never holds matplotlib while WeasyPrint lays the PDF out; the SVG is the same as
drawn in-process, and a failing child falls back to drawing in-process."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = r"""
import json, os, sys
from assessor.audit.trend import PeriodPoint
from assessor.report import render

points = [
    PeriodPoint("2026-Q3", 1, "2026-07-01", {"fw": {"pass": 5, "fail": 3, "manual": 1}}),
    PeriodPoint("2026-Q4", 2, "2026-10-01", {"fw": {"pass": 7, "fail": 1, "error": 1}}),
]
jobs = [(points, "fw"), (points[:1], "fw")]
mode = sys.argv[1]
if mode == "fail":  # the child dies before writing: the parent must draw them itself
    real_fork = os.fork
    def fork():
        pid = real_fork()
        if pid == 0:
            os._exit(3)
        return pid
    os.fork = fork
forked = render.Charts(jobs).start().drawn()
loaded = "matplotlib" in sys.modules
from assessor.report.chart import trend_svg
direct = [trend_svg(p, f) for p, f in jobs]
print(json.dumps({"loaded": loaded, "same": forked == direct, "n": len(forked),
                  "svg": all(s.startswith("<svg") for s in forked)}))
"""


def _run(mode: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_charts_drawn_in_a_child_are_the_same_and_leave_no_matplotlib_here() -> None:
    got = _run("fork")
    assert got == {"loaded": False, "same": True, "n": 2, "svg": True}


def test_a_failing_child_falls_back_to_drawing_here() -> None:
    got = _run("fail")
    assert got == {"loaded": True, "same": True, "n": 2, "svg": True}
