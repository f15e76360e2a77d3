"""``assessor report``: an auditor-ready HTML or PDF report of a stored assessment, signed."""

from __future__ import annotations

import base64
import hashlib
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from assessor.cli._common import (
    CERT_OPTION,
    CONTROLS_OPTION,
    DB_OPTION,
    KEY_OPTION,
    PKCS12_OPTION,
    TSA_OPTION,
    check_output,
    load,
    open_db,
    setting,
    write_atomic,
)
from assessor.errors import AssessorError

if TYPE_CHECKING:
    from assessor.report.data import SignatureInfo
    from assessor.sign.keys import SigningIdentity

MAX_LOGO_BYTES = 1 << 20
ATTACHED_MIB = 32  # assessor.report.attachments.MAX_SHIPPED_BYTES (not imported: start-up time)
_LOGO_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


class ReportFormat(StrEnum):
    HTML = "html"
    PDF = "pdf"


def _logo(path: Path | None) -> str | None:
    """A PNG or JPEG logo as a data: URI (never SVG: it could carry script)."""
    if path is None:
        return None
    try:
        with path.open("rb") as f:
            data = f.read(MAX_LOGO_BYTES + 1)
    except OSError as e:
        raise AssessorError(f"{path}: cannot read the logo: {e.strerror}") from e
    if len(data) > MAX_LOGO_BYTES:
        raise AssessorError(f"{path}: the logo is larger than 1 MiB")
    for magic, mime in _LOGO_TYPES.items():
        if data.startswith(magic):
            return f"data:{mime};base64,{base64.b64encode(data).decode()}"
    raise AssessorError(f"{path}: the logo must be a PNG or JPEG file")


def _signature_info(identity: SigningIdentity, kind: str) -> SignatureInfo:
    from assessor.report.data import SignatureInfo
    from assessor.sign.keys import fingerprint, subject_line

    cert = identity.certificate
    return SignatureInfo(
        kind=kind,
        signer=subject_line(cert),
        certificate_sha256=fingerprint(cert),
        not_after=cert.not_valid_after_utc.strftime("%Y-%m-%d"),
    )


def report(
    assessment: str = typer.Argument(
        None, metavar="[ASSESSMENT]", help="Id or uuid; default the latest."
    ),
    fmt: ReportFormat = typer.Option(
        None, "--format", help="html or pdf. Default: from the output file's suffix."
    ),
    output: Path = typer.Option(
        ...,
        "--output",
        "-o",
        help="The report file to write (whole or not at all; a symlink there is replaced, "
        "never followed).",
    ),
    sign: bool = typer.Option(
        False,
        "--sign",
        help="Sign the report: PDF with an embedded PAdES signature, HTML with a detached "
        "CMS signature written to OUTPUT.p7s.",
    ),
    frameworks: list[str] = typer.Option(
        None,
        "--framework",
        help="Only this framework (repeatable). Default: nistir-8176, cis-docker-1.8.0, sp800-190.",
    ),
    organisation: str = typer.Option(
        None, "--organisation", envvar="ASSESSOR_ORGANISATION", help="Shown on the cover."
    ),
    system: str = typer.Option(
        None, "--system", help="The system under assessment. Default: the assessment's targets."
    ),
    assessor_name: str = typer.Option(
        None,
        "--assessor",
        envvar="ASSESSOR_ASSESSOR",
        help="Who prepared this report, shown on the cover as 'Report prepared by'. Who "
        "finalised the assessment comes from the database ('assessor finalise --by').",
    ),
    logo: Path = typer.Option(None, "--logo", help="A PNG or JPEG logo for the cover (≤ 1 MiB)."),
    key: Path = KEY_OPTION,
    cert: Path = CERT_OPTION,
    pkcs12: Path = PKCS12_OPTION,
    tsa_url: str = TSA_OPTION,
    max_findings: int = typer.Option(
        500,
        "--max-findings",
        min=0,
        help="Failing resources listed under one rule; the rest are counted. 0: all.",
    ),
    max_attached: int = typer.Option(
        ATTACHED_MIB,
        "--max-attached",
        min=0,
        metavar="MIB",
        help="Attestation files and cited evidence documents carried with the report "
        "(PDF attachments, or OUTPUT.files/ beside an HTML report), at most this many MiB in "
        "all; the rest stay in the database and the command says how many. 0: none.",
    ),
    db: str = DB_OPTION,
    controls: list[Path] = CONTROLS_OPTION,
) -> None:
    """Write an auditor-ready HTML or PDF report of a stored assessment, optionally signed.

    The attestations' evidence files and the evidence documents the findings cite go with it:
    embedded as PDF attachments, or for HTML in the folder OUTPUT.files/ beside it, listed
    with their SHA-256 in the HTML (so the signature over the HTML covers them).
    """
    import gc

    from assessor import readmodel
    from assessor.report.attachments import (
        collect,
        folder_for,
        manifest_html,
        note_html,
        write_folder,
    )
    from assessor.report.data import build
    from assessor.report.render import SIGNATURE_BOX, Charts, render_html, render_pdf
    from assessor.store import queries

    if fmt is None:
        suffix = output.suffix.lower().lstrip(".")
        if suffix not in ("html", "htm", "pdf"):
            raise typer.BadParameter(
                "give --format html|pdf (the output's suffix does not say)", param_hint="--format"
            )
        fmt = ReportFormat.PDF if suffix == "pdf" else ReportFormat.HTML
    check_output(output)  # a missing or unwritable folder stops before a long render
    if sign and setting(None, "sign_key") and key is None:
        key = Path(setting(None, "sign_key"))
    logo_uri = _logo(logo or (Path(setting(None, "logo")) if setting(None, "logo") else None))

    identity = None
    if sign:  # load the key first: a wrong passphrase should stop before a long render
        from assessor.sign.keys import load_identity

        identity = load_identity(key=key, cert=cert, pkcs12=pkcs12)
    catalog = load(controls)
    store = open_db(db)
    try:
        view = readmodel.load(store, catalog, assessment)
        shipment = collect(store, view, cap=max_attached << 20)
        folder = folder_for(output.name)
        data = build(
            store,
            catalog,
            assessment,
            frameworks=frameworks or setting(None, "frameworks") or (),
            organisation=setting(organisation, "organisation") or "",
            system=setting(system, "system") or "",
            assessor=setting(assessor_name, "assessor") or "",
            logo_data_uri=logo_uri,
            max_findings=max_findings,
            signature=(
                _signature_info(identity, "pades" if fmt is ReportFormat.PDF else "cms")
                if identity is not None
                else None
            ),
            attachments=shipment.hrefs("" if fmt is ReportFormat.PDF else folder),
            view=view,
        )
        aid, fw_ids = data.meta.assessment_id, [f.id for f in data.frameworks]
        note = ""
        if shipment.files or shipment.omitted:
            where = (
                "in this PDF's attachments"
                if fmt is ReportFormat.PDF
                else f"in the folder {folder}/ beside this file"
            )
            note = note_html(shipment, where)
        manifest = manifest_html(shipment.files, folder) if fmt is ReportFormat.HTML else ""
        # the charts are drawn in a child process while this one loads WeasyPrint (not
        # pyHanko: loaded after the layout, it reuses the memory WeasyPrint let go of)
        charts = Charts.of(data).start()
        if fmt is ReportFormat.PDF:
            import weasyprint  # type: ignore[import-untyped]  # noqa: F401
        html = render_html(data, manifest, note, charts)
        # the read model and report data are not needed any more: free them before WeasyPrint
        # lays out the document, which is what sets the command's peak memory
        del data, view
        gc.collect()
        pdf = fmt is ReportFormat.PDF
        body = render_pdf(html, shipment.files) if pdf else html.encode("utf-8")
        del html
        signature: dict[str, object] | None = None
        detached: bytes | None = None
        if identity is not None:
            from assessor.sign.keys import fingerprint, subject_line

            info = {
                "signer": subject_line(identity.certificate),
                "certificate_sha256": fingerprint(identity.certificate),
            }
            if fmt is ReportFormat.PDF:
                from assessor.sign.pdf import sign_pdf

                body = sign_pdf(body, identity, field_box=SIGNATURE_BOX, tsa_url=tsa_url)
                signature = {"kind": "pades", **info}
            else:
                from assessor.sign.cms import sign_detached

                detached = sign_detached(body, identity, tsa_url=tsa_url)
                sig_path = output.with_name(output.name + ".p7s")
                signature = {
                    "kind": "cms",
                    **info,
                    "signature_path": str(sig_path.resolve()),
                    "signature_sha256": hashlib.sha256(detached).hexdigest(),
                }
        sig_file = output.with_name(output.name + ".p7s")
        if fmt is ReportFormat.HTML:  # the files first: the report links to them
            write_folder(output, shipment.files)
        write_atomic(output, body)
        if detached is not None:
            write_atomic(sig_file, detached)
        else:  # a signature left by an earlier run would no longer match
            sig_file.unlink(missing_ok=True)
        digest = hashlib.sha256(body).hexdigest()
        queries.record_report(
            store,
            aid,
            fmt=fmt.value,
            path=str(output.resolve()),
            sha256=digest,
            size=len(body),
            frameworks=fw_ids,
            signature=signature,
        )
    finally:
        store.close()
    signed = ""
    if signature is not None:
        where = "embedded" if fmt is ReportFormat.PDF else f"in {output.name}.p7s"
        signed = f", signed by {signature['signer']} ({where})"
    sys.stderr.write(
        f"assessor: wrote {output} ({fmt.value}, {len(body)} bytes, sha256 {digest}{signed})\n"
    )
    if shipment.files or shipment.omitted:
        where = "embedded" if fmt is ReportFormat.PDF else f"in {folder}/"
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
