"""``assessor assessments`` and ``assessor results``: read stored assessments."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import typer

from assessor.cli._common import DB_OPTION, open_db, print_json

if TYPE_CHECKING:
    from assessor.catalog import Catalog
    from assessor.store import Store
    from assessor.store.models import Result


class ResultsFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


STATUSES = ("pass", "fail", "not_applicable", "manual", "error", "waived")


def assessments(
    db: str = DB_OPTION,
    fmt: ResultsFormat = typer.Option(ResultsFormat.TABLE, "--format", help="table or json."),
    limit: int = typer.Option(100, "--limit", min=1, help="Newest first, at most this many."),
) -> None:
    """List stored assessments, newest first. Counts are of stored results: a waived fail
    counts as fail here ('assessor results' shows it waived)."""
    from assessor.cli._output import STATUS_ORDER
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
    for col in ("id", "started", "period", "system", "status", "targets", *STATUS_ORDER):
        table.add_column(col, no_wrap=col != "targets", overflow="fold")
    for a, counts in rows:
        table.add_row(
            str(a.id),
            a.started.strftime("%Y-%m-%d %H:%M:%SZ"),
            a.period,
            a.system or "",
            a.status,
            ", ".join(a.scope),
            *(str(counts.get(s, 0)) for s in STATUS_ORDER),
        )
    console().print(table if rows else "no assessments stored yet")


def results(
    assessment: str = typer.Argument(
        None, metavar="[ASSESSMENT]", help="Id or uuid; default the latest."
    ),
    status: list[str] = typer.Option(
        None, "--status", help="Only these statuses (repeatable): " + ", ".join(STATUSES) + "."
    ),
    fmt: ResultsFormat = typer.Option(ResultsFormat.TABLE, "--format", help="table, json or csv."),
    db: str = DB_OPTION,
) -> None:
    """Print the results of a stored assessment. A fail an active waiver covers reads
    "waived" (JSON keeps "raw_status": "fail" and adds the "waiver")."""
    from assessor.audit.waivers import applied_waivers
    from assessor.cli import _output
    from assessor.store import queries

    for s in status or []:
        if s not in STATUSES:
            raise typer.BadParameter(
                f"{s!r} is not one of {', '.join(STATUSES)}", param_hint="--status"
            )
    store = open_db(db)
    try:
        a = queries.get_assessment(store, assessment)
        wanted = set(status or ())
        raw = {"fail"} | (wanted - {"waived"}) if "waived" in wanted else wanted
        rows = queries.get_results(store, a.id, sorted(raw))
        with store.session() as session:
            waivers = applied_waivers(session, a)
        if wanted:
            rows = [(r, t) for r, t in rows if _output.shown_status(r, waivers) in wanted]
        read = sources_of(store, rows) if fmt is ResultsFormat.JSON else None
    finally:
        store.close()
    if fmt is ResultsFormat.JSON:
        print_json(_output.document(a, rows, waivers, read))
    elif fmt is ResultsFormat.CSV:
        _output.print_csv(rows, waivers)
    else:
        _output.print_table(a, rows, waivers=waivers)


def sources_of(
    store: Store, rows: Sequence[tuple[Result, str]], catalog: Catalog | None = None
) -> dict[int, list[str]]:
    """Per result, what its rule read: computed from the rule and the stored evidence."""
    import json
    import zlib

    from sqlalchemy import select

    from assessor.cli._common import load
    from assessor.evaluate.sources import sources
    from assessor.store.models import Evidence as EvidenceRow

    catalog = catalog or load(None)
    hashes = sorted({r.evidence_hash for r, _ in rows if r.evidence_hash})
    docs: dict[str, dict[str, Any]] = {}
    with store.session() as s:
        for i in range(0, len(hashes), 500):  # bounded IN lists
            q = select(EvidenceRow.hash, EvidenceRow.body).where(
                EvidenceRow.hash.in_(hashes[i : i + 500])
            )
            docs.update((h, json.loads(zlib.decompress(body))) for h, body in s.execute(q))
    out: dict[int, list[str]] = {}
    for r, _ in rows:
        rule = catalog.rules.get(r.rule)
        doc = docs.get(r.evidence_hash) if r.evidence_hash else None
        out[r.id] = sources(rule.evidence, doc) if rule is not None else []
    return out
