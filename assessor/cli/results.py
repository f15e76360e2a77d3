"""``assessor assessments`` and ``assessor results``: read stored assessments."""

from __future__ import annotations

import sys
from enum import StrEnum

import typer

from assessor.cli._common import DB_OPTION, load, open_db, print_json
from assessor.vocab import RESULT_STATUSES, STORED_STATUSES


class ResultsFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def assessments(
    db: str = DB_OPTION,
    fmt: ResultsFormat = typer.Option(ResultsFormat.TABLE, "--format", help="table or json."),
    limit: int = typer.Option(100, "--limit", min=1, help="Newest first, at most this many."),
) -> None:
    """List stored assessments, newest first. Counts are of stored results: a waived fail
    counts as fail here ('assessor results' shows it waived)."""
    from assessor.readmodel import assessment_json
    from assessor.store import queries

    store = open_db(db)
    try:
        rows = queries.list_assessments(store, limit)
    finally:
        store.close()
    if fmt is ResultsFormat.JSON:
        print_json({"assessments": [{**assessment_json(a), "counts": c} for a, c in rows]})
        return
    if fmt is ResultsFormat.CSV:
        raise typer.BadParameter("assessments has no csv format", param_hint="--format")
    from rich.table import Table

    from assessor.cli._output import console

    table = Table()
    for col in ("id", "started", "period", "system", "status", "targets", *STORED_STATUSES):
        table.add_column(col, no_wrap=col != "targets", overflow="fold")
    for a, counts in rows:
        table.add_row(
            str(a.id),
            a.started.strftime("%Y-%m-%d %H:%M:%SZ"),
            a.period,
            a.system or "",
            a.status,
            ", ".join(a.scope),
            *(str(counts.get(s, 0)) for s in STORED_STATUSES),
        )
    console().print(table if rows else "no assessments stored yet")


def results(
    assessment: str = typer.Argument(
        None, metavar="[ASSESSMENT]", help="Id or uuid; default the latest."
    ),
    status: list[str] = typer.Option(
        None,
        "--status",
        help="Only these statuses (repeatable): " + ", ".join(RESULT_STATUSES) + ".",
    ),
    fmt: ResultsFormat = typer.Option(ResultsFormat.TABLE, "--format", help="table, json or csv."),
    db: str = DB_OPTION,
) -> None:
    """Print the results of a stored assessment. A fail an active waiver covers reads
    "waived" (JSON keeps "raw_status": "fail" and adds the "waiver"). JSON and CSV are those of
    'assessor export' (the same rows and columns)."""
    from assessor import readmodel
    from assessor.cli import _output
    from assessor.export import tabular

    for s in status or []:
        if s not in RESULT_STATUSES:
            raise typer.BadParameter(
                f"{s!r} is not one of {', '.join(RESULT_STATUSES)}", param_hint="--status"
            )
    catalog = load(None)
    store = open_db(db)
    try:
        view = readmodel.load(store, catalog, assessment)
        wanted = set(status or ())
        rows = [r for r in view.results if not wanted or r.status in wanted]
        if fmt is ResultsFormat.JSON:
            print_json(tabular.document(view, rows))
        elif fmt is ResultsFormat.CSV:
            tabular.write_csv(sys.stdout, view, rows)
        else:
            _output.print_table(view, rows)
    finally:
        store.close()
