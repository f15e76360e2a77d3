"""``assessor trend``: per period, how a system's posture moved."""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING

import typer

from assessor.cli._common import DB_OPTION, load, open_db, print_json
from assessor.vocab import COUNT_ORDER, SEVERITIES_WORST_FIRST

if TYPE_CHECKING:
    from assessor.audit.trend import PeriodPoint


class TrendFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def trend(
    framework: list[str] = typer.Option(
        None,
        "--framework",
        help="Framework id (repeatable); default nistir-8176, cis-docker-1.8.0, sp800-190.",
    ),
    system: str = typer.Option(
        None, "--system", help="The system; default the latest complete assessment's."
    ),
    fmt: TrendFormat = typer.Option(TrendFormat.TABLE, "--format", help="table, json or csv."),
    periods: int = typer.Option(8, "--periods", min=1, help="At most this many periods."),
    db: str = DB_OPTION,
) -> None:
    """Per period (each host's latest reading among the system's complete assessments of
    the period: a fleet of many hosts counts each host once): share of requirements passed,
    requirements by status, failures by severity, waivers applied."""
    from assessor.audit import trend as t
    from assessor.report.data import DEFAULT_FRAMEWORKS

    catalog = load(None)
    fws = list(dict.fromkeys(framework or [])) or [
        f for f in DEFAULT_FRAMEWORKS if f in catalog.frameworks
    ]
    for fw in fws:
        if fw not in catalog.frameworks:
            raise typer.BadParameter(
                f"unknown framework {fw!r}; one of {', '.join(sorted(catalog.frameworks))}",
                param_hint="--framework",
            )
    store = open_db(db)
    try:
        a = t.anchor(store, system)
        points = t.period_trend(store, a, fws, limit=periods, whole_history=True)
    finally:
        store.close()
    if fmt is TrendFormat.JSON:
        print_json(t.to_json(a, points, fws))
    elif fmt is TrendFormat.CSV:
        _csv(points, fws)
    else:
        from assessor.cli._output import console

        out = console()
        what = f"system {a.system}" if a.system else f"scope {', '.join(a.scope)} (no system)"
        out.print(f"trend of {what}: {len(points)} period(s)", highlight=False)
        _table(points, fws)


def _assessments(p: PeriodPoint) -> str:
    """The assessment read, or the latest of a fleet's and how many more."""
    more = len(p.assessments) - 1
    return f"{p.assessment_id} +{more}" if more > 0 else str(p.assessment_id)


def _share(p: PeriodPoint, fw: str) -> str:
    from assessor.audit.trend import share_passed

    s = share_passed(p.counts.get(fw, {}))
    return "-" if s is None else f"{100 * s:.1f}%"


def _table(points: Sequence[PeriodPoint], fws: Sequence[str]) -> None:
    from rich.table import Table

    from assessor.cli._output import console

    out = console()
    known = any(p.waivers_known for p in points)
    for fw in fws:
        table = Table(title=fw, title_justify="left")
        cols = ("period", "assessment", "hosts", "passed", *COUNT_ORDER, "failures by severity")
        for col in cols:
            table.add_column(col, no_wrap=True, justify="left" if col == "period" else "right")
        table.add_column("waived results", justify="right")
        for p in points:
            c = p.counts.get(fw, {})
            f = p.failures.get(fw, {})
            sev = " ".join(f"{s[0]}:{f[s]}" for s in SEVERITIES_WORST_FIRST if f.get(s)) or "-"
            table.add_row(
                p.period,
                _assessments(p),
                str(p.hosts),
                _share(p, fw),
                *(str(c.get(s, 0)) for s in COUNT_ORDER),
                sev,
                str(p.waived_results) if known else "n/a",
            )
        out.print(table)
    note = "passed = pass / (pass + fail + error + waived + manual) requirements"
    if not known:
        note += "; waivers: not supported by this assessor (counted as 0)"
    out.print(note, highlight=False)


def _csv(points: Sequence[PeriodPoint], fws: Sequence[str]) -> None:
    from assessor.audit.trend import share_passed

    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(
        [
            "period",
            "assessment",
            "started",
            "framework",
            "share_passed",
            *(f"requirements_{s}" for s in COUNT_ORDER),
            *(f"failures_{s}" for s in SEVERITIES_WORST_FIRST),
            "waived_results",
            "waivers",
            "hosts",
            "assessments",
        ]
    )
    for p in points:
        for fw in fws:
            c = p.counts.get(fw, {})
            f = p.failures.get(fw, {})
            s = share_passed(c)
            w.writerow(
                [
                    p.period,
                    p.assessment_id,
                    p.started,
                    fw,
                    "" if s is None else f"{s:.4f}",
                    *(c.get(x, 0) for x in COUNT_ORDER),
                    *(f.get(x, 0) for x in SEVERITIES_WORST_FIRST),
                    p.waived_results,
                    p.waivers,
                    p.hosts,
                    " ".join(str(a) for a in p.assessments),
                ]
            )
