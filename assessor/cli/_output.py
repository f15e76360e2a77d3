"""The documented JSON shape and the table and CSV views of stored results."""

from __future__ import annotations

import csv
import sys
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

from assessor.readmodel import assessment_json as assessment_json
from assessor.store.models import Assessment, Result

STATUS_ORDER = ("fail", "error", "manual", "pass", "not_applicable")
# results as shown: a waived fail reads "waived" (the stored result stays "fail")
SHOWN_ORDER = ("fail", "error", "waived", "manual", "pass", "not_applicable")
STATUS_STYLE = {
    "fail": "bold red",
    "waived": "cyan",
    "error": "magenta",
    "manual": "yellow",
    "pass": "green",
    "not_applicable": "dim",
}
SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")


Waivers = dict[int, dict[str, Any]]


def shown_status(r: Result, waivers: Waivers | None) -> str:
    """``waived`` for a fail an applied waiver covers, else the stored status."""
    return "waived" if waivers and r.status == "fail" and r.id in waivers else r.status


def result_json(
    r: Result, target: str, waivers: Waivers | None = None, read: list[str] | None = None
) -> dict[str, Any]:
    """One result; a waived fail reads ``"status": "waived"`` and adds ``raw_status`` (the
    stored ``fail``) and the applied ``waiver``. ``read`` (when given) becomes ``sources``:
    what the rule read, one line per evidence path (assessor.evaluate.sources)."""
    doc: dict[str, Any] = {
        "rule": r.rule,
        "title": r.title,
        "severity": r.severity,
        "target": target,
        "resource": r.resource,
        "status": r.status,
        "message": r.message,
        "evidence": r.evidence_hash,
        "references": r.references,
    }
    if shown_status(r, waivers) == "waived" and waivers:
        doc["status"] = "waived"
        doc["raw_status"] = r.status
        doc["waiver"] = waivers[r.id]
    if read is not None:
        doc["sources"] = read
    return doc


def document(
    a: Assessment,
    rows: Sequence[tuple[Result, str]],
    waivers: Waivers | None = None,
    read: dict[int, list[str]] | None = None,
) -> dict[str, Any]:
    return {
        "assessment": assessment_json(a),
        "results": [
            result_json(r, t, waivers, read.get(r.id, []) if read is not None else None)
            for r, t in rows
        ],
    }


def _sort_key(
    item: tuple[Result, str], waivers: Waivers | None = None
) -> tuple[int, int, str, str]:
    r, _ = item
    st = shown_status(r, waivers)
    status = SHOWN_ORDER.index(st) if st in SHOWN_ORDER else 9
    sev = SEVERITY_ORDER.index(r.severity) if r.severity in SEVERITY_ORDER else 9
    return status, sev, r.rule, r.resource


def console() -> Console:
    """A rich console; when piped, wide enough that rule ids and resources stay whole."""
    import shutil
    import sys

    from rich.console import Console

    width = None if sys.stdout.isatty() else max(160, shutil.get_terminal_size().columns)
    return Console(soft_wrap=False, width=width)


def print_table(
    a: Assessment,
    rows: Sequence[tuple[Result, str]],
    *,
    title: str | None = None,
    counted: Sequence[tuple[Result, str]] | None = None,
    waivers: Waivers | None = None,
) -> None:
    """The rows as a table, then a summary line counting ``counted`` (default: the rows)."""
    from rich.table import Table

    out = console()
    counts = Counter(shown_status(r, waivers) for r, _ in (rows if counted is None else counted))
    table = Table(title=title, show_lines=False, expand=False)
    table.add_column("status", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("resource", overflow="fold")
    table.add_column("message", overflow="fold")
    from rich.text import Text

    for r, _target in sorted(rows, key=lambda item: _sort_key(item, waivers)):
        st = shown_status(r, waivers)
        message = r.message
        if st == "waived" and waivers:
            w = waivers[r.id]
            message = (
                f"{message} [waiver {w['id']}: {w['reason']}; approved by {w['approver']}, "
                f"expires {str(w['expires'])[:10]}]"
            )
        table.add_row(
            Text(st, style=STATUS_STYLE.get(st, "")),
            r.severity,
            Text(r.rule),
            Text(r.resource),
            Text(message),
        )
    if rows:
        out.print(table)
    summary = ", ".join(f"{counts[s]} {s}" for s in SHOWN_ORDER if counts[s])
    out.print(
        f"assessment {a.id} ({a.period}, {a.status}): {summary or 'no results'}",
        highlight=False,
    )


def print_csv(rows: Sequence[tuple[Result, str]], waivers: Waivers | None = None) -> None:
    from assessor.export.tabular import CSV_COLUMNS, safe_cell

    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(CSV_COLUMNS)

    for r, t in rows:
        refs = "; ".join(f"{fw}:{','.join(ids)}" for fw, ids in sorted(r.references.items()))
        cells = [
            r.rule,
            r.title,
            r.severity,
            t,
            r.resource,
            shown_status(r, waivers),
            r.message,
            r.evidence_hash or "",
            refs,
            r.status,
            str((waivers or {}).get(r.id, {}).get("id", "")) if r.status == "fail" else "",
        ]
        w.writerow([safe_cell(c) for c in cells])
