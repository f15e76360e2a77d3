"""``assessor waive`` and ``assessor waivers list|show|revoke|import``."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import typer

from assessor.audit.periods import check_system
from assessor.cli._common import CONTROLS_OPTION, DB_OPTION, load, open_db, print_json
from assessor.errors import NotFoundError

app = typer.Typer(
    help="List, show, revoke and import waivers.", no_args_is_help=True, rich_markup_mode=None
)


class ListFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def waive(
    rule: str = typer.Argument(..., metavar="RULE", help="The rule id whose failures are waived."),
    resource: str = typer.Option(
        "*", "--resource", metavar="PATTERN", help="Glob on the resource (fnmatch). Default: *."
    ),
    target: str = typer.Option(
        "*", "--target", metavar="PATTERN", help="Glob on the target URI (fnmatch). Default: *."
    ),
    system: str = typer.Option(
        None, "--system", help="Only assessments of this system. Default: any system."
    ),
    reason: str = typer.Option(..., "--reason", help="Why the failure is accepted (required)."),
    approver: str = typer.Option(..., "--approver", help="Who approved it (required)."),
    expires: str = typer.Option(
        ...,
        "--expires",
        metavar="YYYY-MM-DD",
        help="Last day it applies, UTC (required; at most 366 days away).",
    ),
    compensating: str = typer.Option(
        None, "--compensating", help="The compensating control, if any."
    ),
    allow_long: bool = typer.Option(
        False, "--allow-long", help="Accept an expiry more than 366 days away."
    ),
    db: str = DB_OPTION,
    controls: list[Path] = CONTROLS_OPTION,
) -> None:
    """Record a waiver: a rule's failures on matching resources read "waived" until it expires.

    Prints the waiver's id.
    """
    from assessor.audit.waivers import WaiverSpec, add_waiver, check_spec, parse_day

    spec = WaiverSpec(
        rule=rule,
        resource=resource,
        target=target,
        system=check_system(system),
        reason=reason,
        approver=approver,
        expires=parse_day(expires),
        compensating=compensating,
    )
    check_spec(spec, load(controls), today=datetime.now(UTC).date(), allow_long=allow_long)
    store = open_db(db)
    try:
        with store.session() as s:
            row, created = add_waiver(s, spec, "cli")
            s.commit()
            wid = row.id
    finally:
        store.close()
    if not created:
        typer.echo(f"an identical waiver is already stored: {wid}", err=True)
    typer.echo(str(wid))


@app.command("list")
def list_(
    all_: bool = typer.Option(False, "--all", help="Include expired and revoked waivers."),
    fmt: ListFormat = typer.Option(ListFormat.TABLE, "--format", help="table or json."),
    db: str = DB_OPTION,
) -> None:
    """List waivers (active ones; --all for every waiver with its state)."""
    from sqlalchemy import select

    from assessor.audit.waivers import state, waiver_dict
    from assessor.store.models import Waiver

    now = datetime.now(UTC)
    store = open_db(db)
    try:
        with store.session() as s:
            rows = list(s.scalars(select(Waiver).order_by(Waiver.id)))
    finally:
        store.close()
    shown = [(w, state(w, now)) for w in rows]
    if not all_:
        shown = [(w, st) for w, st in shown if st == "active"]
    if fmt is ListFormat.JSON:
        print_json({"waivers": [{**waiver_dict(w), "state": st} for w, st in shown]})
        return
    from rich.table import Table
    from rich.text import Text

    from assessor.cli._output import console

    if not shown:
        typer.echo("no waivers" if all_ else "no active waivers ('--all' lists every waiver)")
        return
    table = Table()
    cols = ["id", *(["state"] if all_ else []), "rule", "resource", "target", "system"]
    for col in [*cols, "approver", "expires", "reason"]:
        table.add_column(col, overflow="fold", no_wrap=col in ("id", "state", "expires"))
    for w, st in shown:
        cells = [
            str(w.id),
            *([st] if all_ else []),
            w.rule,
            w.resource_pattern,
            w.target_pattern,
            w.system or "(any)",
            w.approver,
            w.expires.strftime("%Y-%m-%d"),
            w.reason,
        ]
        table.add_row(*(Text(c) for c in cells))
    console().print(table)


@app.command("show")
def show(
    waiver_id: int = typer.Argument(..., metavar="ID"),
    fmt: ListFormat = typer.Option(ListFormat.TABLE, "--format", help="table or json."),
    db: str = DB_OPTION,
) -> None:
    """Show one waiver, with its state and revocation."""
    from assessor.audit.waivers import iso, state, waiver_dict
    from assessor.store.models import Waiver

    store = open_db(db)
    try:
        with store.session() as s:
            w = s.get(Waiver, waiver_id)
    finally:
        store.close()
    if w is None:
        raise NotFoundError(f"no waiver {waiver_id}", hint="'assessor waivers list --all'")
    doc = {
        **waiver_dict(w),
        "state": state(w, datetime.now(UTC)),
        "created": iso(w.created),
        "revoked_at": iso(w.revoked_at),
        "revoked_by": w.revoked_by,
        "revoke_reason": w.revoke_reason,
    }
    if fmt is ListFormat.JSON:
        print_json(doc)
        return
    for key, value in doc.items():
        if value is not None:
            typer.echo(f"{key + ':':15} {value}")


@app.command("revoke")
def revoke(
    waiver_id: int = typer.Argument(..., metavar="ID"),
    by: str = typer.Option(..., "--by", help="Who revokes it (required)."),
    reason: str = typer.Option(..., "--reason", help="Why (required)."),
    db: str = DB_OPTION,
) -> None:
    """Revoke a waiver: it stops applying now (reports of finalised assessments keep it)."""
    from assessor.audit import waivers

    store = open_db(db)
    try:
        with store.session() as s:
            waivers.revoke(s, waiver_id, by, reason)
            s.commit()
    finally:
        store.close()
    typer.echo(f"waiver {waiver_id} revoked")


def import_file(path: Path, db: str | None, controls: list[Path] | None) -> None:
    """Validate the waivers file (before anything is scanned) and store its waivers."""
    from assessor.audit.waivers import import_waivers, read_waivers_file

    today = datetime.now(UTC).date()
    items = read_waivers_file(path, load(controls), today)
    store = open_db(db)
    try:
        with store.session() as s:
            outcome = import_waivers(s, items, today)
            s.commit()
    finally:
        store.close()
    for w in outcome.warnings:
        typer.echo(f"assessor: warning: {w}", err=True)
    typer.echo(
        f"{path}: {len(outcome.added)} waiver(s) added, {len(outcome.existing)} already stored",
        err=True,
    )


@app.command("import")
def import_(
    path: Path = typer.Argument(..., metavar="FILE", help="A reviewed YAML list of waivers."),
    db: str = DB_OPTION,
    controls: list[Path] = CONTROLS_OPTION,
) -> None:
    """Import waivers from a reviewed YAML file (validated: file:line:field on error)."""
    import_file(path, db, controls)
