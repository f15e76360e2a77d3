"""``assessor report``: an auditor-ready HTML or PDF report of a stored assessment, signed."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import typer

from assessor.cli._common import (
    CERT_OPTION,
    CONTROLS_OPTION,
    DB_OPTION,
    KEY_OPTION,
    PKCS12_OPTION,
    TSA_OPTION,
    controls_dirs,
    setting,
)
from assessor.extras import require
from assessor.publish import ReportRequest, ReportWritten, Signing, write_report

ATTACHED_MIB = 32  # assessor.report.attachments.MAX_SHIPPED_BYTES (not imported: start-up time)


class ReportFormat(StrEnum):
    HTML = "html"
    PDF = "pdf"


_ASSESSMENT = typer.Argument(None, metavar="[ASSESSMENT]", help="Id or uuid; default the latest.")
_FMT = typer.Option(None, "--format", help="html or pdf. Default: from the output file's suffix.")
_OUTPUT = typer.Option(
    ...,
    "--output",
    "-o",
    help="The report file to write (whole or not at all; a symlink there is replaced, "
    "never followed).",
)
_SIGN = typer.Option(
    False,
    "--sign",
    help="Sign the report: PDF with an embedded PAdES signature, HTML with a detached "
    "CMS signature written to OUTPUT.p7s.",
)
_FRAMEWORKS = typer.Option(
    None,
    "--framework",
    help="Only this framework (repeatable). Default: nistir-8176, cis-docker-1.8.0, sp800-190.",
)
_ORGANISATION = typer.Option(
    None, "--organisation", envvar="ASSESSOR_ORGANISATION", help="Shown on the cover."
)
_SYSTEM = typer.Option(
    None,
    "--system",
    help="The system under assessment (shown on the cover; default the assessment's). With "
    "--period: the system whose fleet is reported.",
)
_PERIOD = typer.Option(
    None,
    "--period",
    help="A fleet report: every host of --system in this period (e.g. 2026-Q4), each as last "
    "read there, worst first; no ASSESSMENT then.",
)
_ASSESSOR_NAME = typer.Option(
    None,
    "--assessor",
    envvar="ASSESSOR_ASSESSOR",
    help="Who prepared this report, shown on the cover as 'Report prepared by'. Who "
    "finalised the assessment comes from the database ('assessor finalise --by').",
)
_MAX_FINDINGS = typer.Option(
    500,
    "--max-findings",
    min=0,
    help="Failing resources listed under one rule; the rest are counted. 0: all.",
)
_MAX_ATTACHED = typer.Option(
    ATTACHED_MIB,
    "--max-attached",
    min=0,
    metavar="MIB",
    help="Attestation files and cited evidence documents carried with the report "
    "(PDF attachments, or OUTPUT.files/ beside an HTML report), at most this many MiB in "
    "all; the rest stay in the database and the command says how many. 0: none.",
)


def report(
    assessment: str = _ASSESSMENT,
    fmt: ReportFormat = _FMT,
    output: Path = _OUTPUT,
    sign: bool = _SIGN,
    frameworks: list[str] = _FRAMEWORKS,
    organisation: str = _ORGANISATION,
    system: str = _SYSTEM,
    period: str = _PERIOD,
    assessor_name: str = _ASSESSOR_NAME,
    logo: Path = typer.Option(None, "--logo", help="A PNG or JPEG logo for the cover (≤ 1 MiB)."),
    key: Path = KEY_OPTION,
    cert: Path = CERT_OPTION,
    pkcs12: Path = PKCS12_OPTION,
    tsa_url: str = TSA_OPTION,
    max_findings: int = _MAX_FINDINGS,
    max_attached: int = _MAX_ATTACHED,
    db: str = DB_OPTION,
    controls: list[Path] = CONTROLS_OPTION,
) -> None:
    """Write an auditor-ready HTML or PDF report of a stored assessment, optionally signed.

    The attestations' evidence files and the evidence documents the findings cite go with it:
    embedded as PDF attachments, or for HTML in the folder OUTPUT.files/ beside it, listed
    with their SHA-256 in the HTML (so the signature over the HTML covers them).
    With --system S --period P (and no ASSESSMENT): the fleet report, every host of S in P
    from every complete assessment there (each host as last read), worst hosts first, each
    host's findings in a file of OUTPUT.files/hosts/ (HTML) or in an appendix (PDF).
    Needs the 'report' extra (pip install 'assessor[report]').
    """
    require("report", "PDF and HTML reports")
    if period is not None:
        _check_fleet(assessment, setting(system, "system"))
    fmt = fmt or _format_of(output)
    if sign and setting(None, "sign_key") and key is None:
        key = Path(setting(None, "sign_key"))
    done = write_report(
        ReportRequest(
            assessment,
            fmt.value,
            output,
            frameworks=frameworks or setting(None, "frameworks") or (),
            organisation=setting(organisation, "organisation") or "",
            system=setting(system, "system") or "",
            assessor=setting(assessor_name, "assessor") or "",
            logo=logo or (Path(setting(None, "logo")) if setting(None, "logo") else None),
            max_findings=max_findings,
            max_attached_mib=max_attached,
            signing=Signing(key, cert, pkcs12, tsa_url) if sign else None,
            db=setting(db, "db"),
            controls=controls_dirs(controls),
            period=period,
        )
    )
    _print_written(done)


def _check_fleet(assessment: str | None, system: str | None) -> None:
    """A fleet report (--period) names a system and no assessment."""
    if assessment is not None:
        raise typer.BadParameter(
            "a fleet report (--period) covers every assessment of the period; give no ASSESSMENT",
            param_hint="--period",
        )
    if not system:
        raise typer.BadParameter("a fleet report needs --system", param_hint="--period")


def _format_of(output: Path) -> ReportFormat:
    suffix = output.suffix.lower().lstrip(".")
    if suffix not in ("html", "htm", "pdf"):
        raise typer.BadParameter(
            "give --format html|pdf (the output's suffix does not say)", param_hint="--format"
        )
    return ReportFormat.PDF if suffix == "pdf" else ReportFormat.HTML


def _print_written(done: ReportWritten) -> None:
    out, shipment, pdf = done.published, done.shipment, done.published.fmt == "pdf"
    signed = ""
    if out.signature is not None:
        where = "embedded" if pdf else f"in {out.path.name}.p7s"
        signed = f", signed by {out.signature['signer']} ({where})"
    sys.stderr.write(
        f"assessor: wrote {out.path} ({out.fmt}, {out.size} bytes, sha256 {out.sha256}{signed})\n"
    )
    if shipment.files or shipment.omitted:
        where = "embedded" if pdf else f"in {done.folder}/"
        left = ""
        if shipment.omitted:
            left = (
                f"; {len(shipment.omitted)} more ({sum(n for _, n in shipment.omitted)} bytes) "
                f"left out: the {shipment.cap >> 20} MiB cap was reached (they stay in the "
                "database)"
            )
        sys.stderr.write(
            f"assessor: {len(shipment.files)} file(s) attached ({shipment.total} bytes, "
            f"{where}){left}\n"
        )
