"""The console table of results, read from the one read model (``assessor.readmodel``).

The JSON and CSV of results are the export's (``assessor.export.tabular``), so ``assessor
results``, ``assessor scan --format json`` and ``assessor export`` print the same thing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from assessor.readmodel import AssessmentView, ResultView

import sys

from assessor.readmodel import assessment_json as assessment_json
from assessor.vocab import RESULT_STATUSES, Status, severity_place, status_place

STATUS_STYLE: dict[str, str] = {
    Status.FAIL: "bold red",
    Status.WAIVED: "cyan",
    Status.ERROR: "magenta",
    Status.MANUAL: "yellow",
    Status.PASS: "green",
    Status.NOT_APPLICABLE: "dim",
}


def _sort_key(r: ResultView) -> tuple[int, int, str, str]:
    return status_place(r.status), severity_place(r.severity), r.rule, r.resource


def console() -> Console:
    """A rich console; when piped, wide enough that rule ids and resources stay whole."""
    import shutil

    from rich.console import Console

    width = None if sys.stdout.isatty() else max(160, shutil.get_terminal_size().columns)
    return Console(soft_wrap=False, width=width)


def print_table(
    view: AssessmentView,
    rows: Sequence[ResultView],
    *,
    title: str | None = None,
    counted: Sequence[ResultView] | None = None,
) -> None:
    """The rows as a table, then a summary line counting ``counted`` (default: the rows)."""
    from rich.table import Table
    from rich.text import Text

    out = console()
    counts = Counter(r.status for r in (rows if counted is None else counted))
    table = Table(title=title, show_lines=False, expand=False)
    table.add_column("status", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("resource", overflow="fold")
    table.add_column("message", overflow="fold")
    for r in sorted(rows, key=_sort_key):
        message = r.message
        if r.waiver is not None:
            w = r.waiver
            message = (
                f"{message} [waiver {w['id']}: {w['reason']}; approved by {w['approver']}, "
                f"expires {str(w['expires'])[:10]}]"
            )
        table.add_row(
            Text(r.status, style=STATUS_STYLE.get(r.status, "")),
            r.severity,
            Text(r.rule),
            Text(r.resource),
            Text(message),
        )
    if rows:
        out.print(table)
    summary = ", ".join(f"{counts[s]} {s}" for s in RESULT_STATUSES if counts[s])
    out.print(
        f"assessment {view.id} ({view.period}, {view.status}): {summary or 'no results'}",
        highlight=False,
    )
