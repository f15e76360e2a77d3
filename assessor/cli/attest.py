"""``assessor attest``: record a person's answer to a manual requirement, with evidence."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from assessor.audit.periods import check_period, check_system, current_period
from assessor.cli._common import (
    CONTROLS_OPTION,
    DB_OPTION,
    PERIOD_OPTION,
    load,
    open_db,
    setting,
)
from assessor.vocab import Status


class AttestStatus(StrEnum):
    """--status: the choices of vocab.ATTESTATION_STATUSES (Typer's choices are an enum)."""

    PASS = Status.PASS.value
    FAIL = Status.FAIL.value


_REQUIREMENT = typer.Argument(
    ...,
    metavar="REQUIREMENT",
    help="FRAMEWORK:ID (nistir-8176:4.6, cis-docker-1.8.0:1.1.1), or ID with --framework.",
)
_EVIDENCE = typer.Option(
    None, "--evidence", metavar="FILE", help="A file of evidence (repeatable; 20 MiB each)."
)
_EXPIRES = typer.Option(
    None, "--expires", metavar="YYYY-MM-DD", help="Last day the answer holds. Default: none."
)
_SYSTEM = typer.Option(
    None, "--system", envvar="ASSESSOR_SYSTEM", help="The system it holds for. Default: none."
)
_FRAMEWORK = typer.Option(None, "--framework", help="The framework, when REQUIREMENT is a bare id.")


def attest(
    requirement: str = _REQUIREMENT,
    status: AttestStatus = typer.Option(..., "--status", help="pass or fail (required)."),
    by: str = typer.Option(..., "--by", help="Who attests (required)."),
    note: str = typer.Option(..., "--note", help="What was checked and found (required)."),
    evidence: list[Path] = _EVIDENCE,
    expires: str = _EXPIRES,
    period: str = PERIOD_OPTION,
    system: str = _SYSTEM,
    framework: str = _FRAMEWORK,
    db: str = DB_OPTION,
    controls: list[Path] = CONTROLS_OPTION,
) -> None:
    """Attest a manual requirement for a system and period. Prints the attestation's id."""
    from assessor.audit.attestations import (
        AttestationSpec,
        add_attestation,
        read_evidence,
        resolve_requirement,
    )
    from assessor.audit.waivers import end_of_day, parse_day

    fw, rid = resolve_requirement(load(controls), requirement, framework)
    spec = AttestationSpec(
        framework=fw,
        requirement=rid,
        system=check_system(setting(system, "system")),
        period=check_period(setting(period, "period") or current_period()),
        status=status.value,
        by=by,
        note=note,
        expires=end_of_day(parse_day(expires)) if expires else None,
    )
    files = [read_evidence(p) for p in evidence or []]
    store = open_db(db)
    try:
        with store.session() as s:
            row = add_attestation(s, spec, files)
            s.commit()
            aid = row.id
    finally:
        store.close()
    typer.echo(str(aid))
