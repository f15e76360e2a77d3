"""``assessor diff``: what changed between two assessments of a system."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import typer

from assessor.cli._common import DB_OPTION, open_db, print_json


class DiffFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def diff(
    assessments: list[str] = typer.Argument(
        None,
        metavar="[A B]",
        help="Ids or uuids, older first. One: it against the previous assessment of its "
        "system. None: the last two complete assessments of the system.",
    ),
    system: str = typer.Option(
        None, "--system", help="The system whose last two assessments to compare."
    ),
    fmt: DiffFormat = typer.Option(DiffFormat.TABLE, "--format", help="table or json."),
    db: str = DB_OPTION,
) -> None:
    """New failures, fixed findings, new and removed targets, changed waivers and catalog
    changes between two assessments."""
    from assessor.audit import diff as d
    from assessor.store import queries

    refs = assessments or []
    if len(refs) > 2:
        raise typer.BadParameter("give at most two assessments: A B", param_hint="[A B]")
    if refs and system is not None:
        raise typer.BadParameter("--system picks the assessments; do not name them too")
    store = open_db(db)
    try:
        if len(refs) == 2:
            before = queries.get_assessment(store, refs[0])
            after = queries.get_assessment(store, refs[1])
        elif len(refs) == 1:
            after = queries.get_assessment(store, refs[0])
            before = d.previous_of(store, after)
        else:
            before, after = d.default_pair(store, system, system_given=system is not None)
        result = d.diff(store, before, after)
    finally:
        store.close()
    if fmt is DiffFormat.JSON:
        from assessor.readmodel import assessment_json

        print_json(d.to_json(result, assessment_json))
        return
    _table(result)


def _label(a: Any) -> str:
    system = f", {a.system}" if a.system else ""
    return f"{a.id} ({a.period}{system}, {a.started.strftime('%Y-%m-%d')})"


def _table(result: Any) -> None:
    from rich.table import Table

    from assessor.audit.diff import summary
    from assessor.cli._output import console

    out = console()
    out.print(f"assessment {_label(result.before)} -> {_label(result.after)}", highlight=False)

    def findings(title: str, items: list[dict[str, Any]], waiver: bool = False) -> None:
        if not items:
            return
        table = Table(title=f"{title} ({len(items)})", title_justify="left")
        for col in ("severity", "rule", "target", "resource", "before", "now"):
            table.add_column(col, no_wrap=col in ("severity", "rule", "before", "now"))
        if waiver:
            table.add_column("waiver", overflow="fold")
        for f in items:
            row = [f["severity"], f["rule"], f["target"], f["resource"]]
            row += [f["before"] or "-", f["now"] or "-"]
            if waiver:
                w = f.get("waiver") or {}
                row.append(str(w.get("reason") or w.get("id") or ""))
            table.add_row(*row)
        out.print(table)

    findings("new failures", result.new_failures)
    findings("fixed", result.fixed)
    for title, targets in (("new targets", result.targets_added),
                           ("removed targets", result.targets_removed)):  # fmt: skip
        if targets:
            table = Table(title=f"{title} ({len(targets)})", title_justify="left")
            for col in ("uri", "kind", "status"):
                table.add_column(col)
            for t in targets:
                table.add_row(t["uri"], t["kind"], t["status"])
            out.print(table)
    findings("no longer waived", result.no_longer_waived, waiver=True)
    findings("newly waived", result.newly_waived, waiver=True)
    if result.catalog_changed:
        out.print(
            f"catalog changed: {result.before.catalog_digest} -> {result.after.catalog_digest}",
            highlight=False,
        )
    if result.rules_added:
        out.print("rules added: " + ", ".join(result.rules_added), highlight=False)
    if result.rules_removed:
        out.print("rules removed: " + ", ".join(result.rules_removed), highlight=False)
    counts = summary(result)
    line = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items())
    if not result.waivers_known:
        line += " (waivers: not supported by this assessor)"
    out.print(line, highlight=False)
