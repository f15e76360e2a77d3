"""``assessor import oscap-arf``: store another tool's results in an assessment."""

from __future__ import annotations

from pathlib import Path

import typer

from assessor.cli._common import CONTROLS_OPTION, DB_OPTION, load, open_db

app = typer.Typer(
    help="Import results of other tools into an assessment.",
    no_args_is_help=True,
)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {what}" for what, n in counts.items()) or "none"


@app.command("oscap-arf")
def oscap_arf(
    file: Path = typer.Argument(
        ...,
        metavar="FILE",
        help="OpenSCAP result: the ARF of 'oscap xccdf eval --results-arf' (or --results).",
    ),
    system: str = typer.Option(
        None, "--system", help="The system the host belongs to (as given to 'assessor scan')."
    ),
    assessment: str = typer.Option(
        None,
        "--assessment",
        help="Id or uuid of the assessment to import into. Default: the latest of --system.",
    ),
    new: bool = typer.Option(
        False, "--new", help="Import into a new assessment (complete, scope the OpenSCAP targets)."
    ),
    period: str = typer.Option(
        None,
        "--period",
        help="Period (2026-Q4): picks the latest assessment of --system in it, or names the new "
        "one. Default: any period; a new one gets the current quarter.",
    ),
    controls: list[Path] = CONTROLS_OPTION,
    db: str = DB_OPTION,
) -> None:
    """Store the host OS results of an OpenSCAP evaluation: one target openscap:HOST/PROFILE
    with one result of rule host-os-baseline-scan per evaluated XCCDF rule (notselected ones
    are skipped), which the NIST IR 8176 4.1 and CIS Docker 1.2.1 requirements roll up.

    Into the latest assessment of --system (none: assessments without a system), or
    --assessment, or a new one (--new, or when there is none). Exit 2 for a file that is not
    an OpenSCAP result, a finalised assessment, or a host and profile already imported into
    it."""
    from assessor.imports import import_oscap_arf

    catalog = load(controls)
    store = open_db(db)
    try:
        summary = import_oscap_arf(
            store,
            catalog,
            file,
            system=system,
            assessment=assessment,
            new=new,
            period=period,
        )
    finally:
        store.close()
    where = f"{summary.period}, system {summary.system or '(none)'}"
    made = "new assessment" if summary.created else "assessment"
    for run in summary.runs:
        typer.echo(
            f"assessor: imported {len(run.results)} OpenSCAP results (profile {run.profile}: "
            f"{_counts(run.counts)}) from {file} into {made} {summary.assessment_id} ({where}), "
            f"target {run.uri}"
        )
    for note in summary.notes:
        typer.echo(f"note: {note}", err=True)
