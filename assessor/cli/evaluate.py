"""``assessor evaluate``: re-run the current catalog on a stored assessment's evidence."""

from __future__ import annotations

from pathlib import Path

import typer

from assessor.cli._common import CONTROLS_OPTION, DB_OPTION, interactive, load, open_db
from assessor.vocab import FAILING_STATUSES


def evaluate(
    assessment: str = typer.Argument(..., metavar="ASSESSMENT", help="Id or uuid."),
    controls: list[Path] = CONTROLS_OPTION,
    db: str = DB_OPTION,
    period: str = typer.Option(
        None, "--period", help="Period of the new assessment. Default: the source's period."
    ),
    all_results: bool = typer.Option(False, "--all", help="List every result, not only findings."),
) -> None:
    """Re-evaluate ASSESSMENT's stored evidence with the current catalog (plus --controls) into
    a NEW assessment with the same scope and system; the source is left unchanged, finalised
    or not. No target is contacted. Exit 2 if a stored evidence body no longer matches its
    hash."""
    from assessor.cli import _output
    from assessor.pipeline import evaluate_stored
    from assessor.store import queries

    catalog = load(controls)
    store = open_db(db)
    try:
        source = queries.get_assessment(store, assessment)
        if interactive():
            from rich.console import Console

            with Console(stderr=True).status("evaluating") as status:
                summary = evaluate_stored(
                    store, catalog, source.id, period, lambda m: status.update(m)
                )
        else:
            summary = evaluate_stored(store, catalog, source.id, period)
        from assessor import readmodel

        new = readmodel.load(store, catalog, str(summary.assessment_id))
        rows = new.results
        typer.echo(
            f"assessment {new.id}: re-evaluated from assessment {source.id} with catalog "
            f"{catalog.digest} ({summary.evidence} evidence documents, {len(rows)} results)"
        )
        shown = rows if all_results else [r for r in rows if r.raw_status in FAILING_STATUSES]
        _output.print_table(new, shown, counted=rows)
    finally:
        store.close()
