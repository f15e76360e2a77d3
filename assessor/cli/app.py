"""The Typer application: one module per command group, registered here."""

from __future__ import annotations

import typer

from assessor import __version__
from assessor.cli import (
    attest,
    controls,
    db,
    diff,
    evaluate,
    export,
    history,
    importer,
    keys,
    report,
    results,
    scan,
    trend,
    verify,
    waivers,
)

app = typer.Typer(
    name="assessor",
    help="Assess Linux container deployments against the CIS Docker Benchmark and NIST IR 8176.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"assessor {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Assess Linux container deployments against the CIS Docker Benchmark and NIST IR 8176."""


app.command("scan")(scan.scan)
app.command("assessments")(results.assessments)
app.command("results")(results.results)
app.command("report")(report.report)
app.command("verify")(verify.verify)
app.add_typer(keys.app, name="keys")
app.add_typer(controls.app, name="controls")
app.add_typer(db.app, name="db")
app.command("waive")(waivers.waive)
app.add_typer(waivers.app, name="waivers")
app.command("attest")(attest.attest)
app.command("finalise")(history.finalise)
app.add_typer(history.app, name="history")
app.command("evaluate")(evaluate.evaluate)
app.command("diff")(diff.diff)
app.command("trend")(trend.trend)
app.command("export")(export.export)
app.add_typer(importer.app, name="import")
