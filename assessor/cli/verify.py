"""``assessor verify FILE``: signature, certificate and integrity of a signed report."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from assessor.cli._common import print_json
from assessor.extras import require

if TYPE_CHECKING:
    from assessor.sign.verify import Verification


class VerifyFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def verify(
    file: Path = typer.Argument(
        ..., metavar="FILE", help="The signed report: a PDF, or any file with a detached FILE.p7s."
    ),
    signature: Path = typer.Option(
        None,
        "--signature",
        metavar="SIG",
        help="Detached CMS signature (DER or PEM). Default: FILE.p7s.",
    ),
    trust: list[Path] = typer.Option(
        None,
        "--trust",
        metavar="CERT",
        help="Trusted certificate(s), PEM or DER (repeatable). "
        "Default: the certificate in the key directory.",
    ),
    fmt: VerifyFormat = typer.Option(VerifyFormat.TABLE, "--format", help="table or json."),
) -> None:
    """Verify a signed report. Exit 0 valid, 1 invalid, 2 unreadable input.

    An HTML report's files shipped beside it (REPORT.files/: attestation evidence and
    evidence documents) are checked too, against the SHA-256 list inside the signed HTML: a
    changed, missing or extra file makes the report invalid. A PDF carries them as
    attachments, under its signature. Needs the 'report' extra (pip install 'assessor[report]').
    """
    require("report", "signature checks")
    from assessor.sign.verify import verify_file

    result = verify_file(file, signature=signature, trust=list(trust or []) or None)
    if fmt is VerifyFormat.JSON:
        print_json(result.as_json())
    else:
        _print_table(result)
    if not result.valid:
        raise typer.Exit(1)


def _print_table(result: Verification) -> None:
    kind = "PDF (PAdES)" if result.kind == "pdf" else "detached CMS"
    if result.signature is not None:
        kind += f" ({result.signature})"
    at = result.signed_at.strftime("%Y-%m-%d %H:%M:%S %Z") if result.signed_at else "-"
    rows = [
        ("file", str(result.path)),
        ("kind", kind),
        ("signer", result.signer or "-"),
        ("signed at", at),
        ("sha256", result.sha256),
        (
            "trust anchor",
            result.trust_anchor or ("none: the signer is NOT trusted" if result.signer else "-"),
        ),
        ("reason", result.reason),
    ]
    typer.echo("VALID" if result.valid else "INVALID")
    for k, v in rows:
        typer.echo(f"  {k + ':':<14}{v}")
