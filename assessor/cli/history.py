"""``assessor finalise`` and ``assessor history list|verify``: the tamper-evident chain."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import typer

from assessor.audit.periods import check_system
from assessor.cli._common import DB_OPTION, open_db, print_json
from assessor.errors import EXIT_FINDINGS

app = typer.Typer(
    help="The chain of finalised assessments per system: list it, verify it.",
    no_args_is_help=True,
)


class HistoryFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


SYSTEM_OPTION = typer.Option(
    None,
    "--system",
    help="Only this system's chain. Default: every system (assessments with no system form "
    "their own chain).",
)


def finalise(
    assessment: str = typer.Argument(
        None, metavar="[ASSESSMENT]", help="Id or uuid. Default: the latest."
    ),
    by: str = typer.Option(..., "--by", help="Who finalises it (recorded and hashed)."),
    db: str = DB_OPTION,
) -> None:
    """Freeze a complete assessment (its results, the waivers that applied, the attestations)
    and chain its digest to the previous finalised assessment of the same system.

    Exit 2 if it is already finalised, not complete, or does not exist.
    """
    from assessor.audit.history import finalise as do_finalise

    store = open_db(db)
    try:
        done = do_finalise(store, assessment, by)
    finally:
        store.close()
    system = done.system if done.system is not None else "(no system)"
    typer.echo(
        f"finalised assessment {done.id} ({done.period}, system {system}) by {by.strip()}: "
        f"{done.waivers} waivers and {done.attestations} attestations frozen"
    )
    typer.echo(f"digest:          {done.digest}")
    previous = (
        f"{done.previous_digest} (assessment {done.previous_id})"
        if done.previous_digest is not None
        else "none (first finalised assessment of this system)"
    )
    typer.echo(f"previous digest: {previous}")


def _chains(db: str | None, system: str | None, system_given: bool) -> list[Any]:
    from assessor.audit import history

    store = open_db(db)
    try:
        return history.verify(store, system) if system_given else history.verify(store)
    finally:
        store.close()


def _system_arg(system: str | None) -> tuple[str | None, bool]:
    if system is None:
        return None, False

    return check_system(system), True


@app.command("verify")
def verify(
    system: str = SYSTEM_OPTION,
    db: str = DB_OPTION,
    fmt: HistoryFormat = typer.Option(HistoryFormat.TABLE, "--format", help="table or json."),
) -> None:
    """Recompute every finalised assessment's digest, check each links to its predecessor, and
    re-hash the evidence they refer to. Exit 0 intact, 1 broken (every break is listed)."""
    name, given = _system_arg(system)
    chains = _chains(db, name, given)
    broken = any(not c.intact for c in chains)
    if fmt is HistoryFormat.JSON:
        print_json({"intact": not broken, "systems": [c.to_json() for c in chains]})
    else:
        if not chains:
            typer.echo("no finalised assessments")
        for c in chains:
            label = c.system if c.system is not None else "(no system)"
            if c.intact:
                typer.echo(f"system {label}: intact, {len(c.entries)} finalised assessments")
                continue
            typer.echo(
                f"system {label}: BROKEN, {len(c.breaks)} problems in {len(c.entries)} "
                "finalised assessments"
            )
            for b in c.breaks:
                typer.echo(
                    f"  assessment {b.assessment_id} (uuid {b.uuid}, period {b.period}): "
                    f"{b.problem}: {b.detail}"
                )
    if broken:
        raise typer.Exit(EXIT_FINDINGS)


@app.command("list")
def list_(
    system: str = SYSTEM_OPTION,
    db: str = DB_OPTION,
    fmt: HistoryFormat = typer.Option(HistoryFormat.TABLE, "--format", help="table or json."),
) -> None:
    """Show each system's chain of finalised assessments, oldest first, with a verification
    mark (as 'history verify' computes it)."""
    name, given = _system_arg(system)
    chains = _chains(db, name, given)
    if fmt is HistoryFormat.JSON:
        print_json({"systems": [c.to_json() for c in chains]})
        return
    from rich.table import Table

    from assessor.cli._output import console

    out = console()
    if not chains:
        out.print("no finalised assessments")
    for c in chains:
        table = Table(title=f"system {c.system if c.system is not None else '(no system)'}")
        for col in ("id", "period", "finalised", "by", "digest", "previous", "ok"):
            table.add_column(col, no_wrap=True)
        for e in c.entries:
            table.add_row(
                str(e.id),
                e.period,
                (e.finalised_at or "")[:19].replace("T", " "),
                e.finalised_by or "",
                (e.digest or "")[:16],
                (e.previous_digest or "-")[:16],
                "yes" if e.ok else "NO",
            )
        out.print(table)
