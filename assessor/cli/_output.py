"""The documented JSON shape and the table and CSV views of stored results."""

from __future__ import annotations

import csv
import sys
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

from assessor.store.models import Assessment, Result

STATUS_ORDER = ("fail", "error", "manual", "pass", "not_applicable")
STATUS_STYLE = {
    "fail": "bold red",
    "error": "magenta",
    "manual": "yellow",
    "pass": "green",
    "not_applicable": "dim",
}
SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")


def _iso(dt: Any) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt is not None else None


def assessment_json(a: Assessment) -> dict[str, Any]:
    return {
        "id": a.id,
        "uuid": a.uuid,
        "started": _iso(a.started),
        "finished": _iso(a.finished),
        "period": a.period,
        "system": a.system,
        "status": a.status,
        "scope": a.scope,
        "catalog_digest": a.catalog_digest,
        "tool_version": a.tool_version,
    }


def result_json(r: Result, target: str) -> dict[str, Any]:
    return {
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


def document(a: Assessment, rows: Sequence[tuple[Result, str]]) -> dict[str, Any]:
    return {"assessment": assessment_json(a), "results": [result_json(r, t) for r, t in rows]}


def _sort_key(item: tuple[Result, str]) -> tuple[int, int, str, str]:
    r, _ = item
    status = STATUS_ORDER.index(r.status) if r.status in STATUS_ORDER else 9
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
) -> None:
    """The rows as a table, then a summary line counting ``counted`` (default: the rows)."""
    from rich.table import Table

    out = console()
    counts = Counter(r.status for r, _ in (rows if counted is None else counted))
    table = Table(title=title, show_lines=False, expand=False)
    table.add_column("status", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("resource", overflow="fold")
    table.add_column("message", overflow="fold")
    for r, _target in sorted(rows, key=_sort_key):
        table.add_row(
            f"[{STATUS_STYLE.get(r.status, '')}]{r.status}[/]",
            r.severity,
            r.rule,
            r.resource,
            r.message,
        )
    if rows:
        out.print(table)
    summary = ", ".join(f"{counts[s]} {s}" for s in STATUS_ORDER if counts[s])
    out.print(
        f"assessment {a.id} ({a.period}, {a.status}): {summary or 'no results'}",
        highlight=False,
    )


def print_csv(rows: Sequence[tuple[Result, str]]) -> None:
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(
        [
            "rule",
            "title",
            "severity",
            "target",
            "resource",
            "status",
            "message",
            "evidence",
            "references",
        ]
    )
    for r, t in rows:
        refs = "; ".join(f"{fw}:{','.join(ids)}" for fw, ids in sorted(r.references.items()))
        w.writerow(
            [
                r.rule,
                r.title,
                r.severity,
                t,
                r.resource,
                r.status,
                r.message,
                r.evidence_hash or "",
                refs,
            ]
        )
