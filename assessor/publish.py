"""Writing a stored assessment's outputs: ``assessor report`` and ``assessor export``.

``write_report`` renders the report (HTML or PDF), ``write_export`` one export format; both
hand the bytes to ``publish``, the one place an output is signed, written and recorded:

- signed: a PDF with an embedded PAdES signature, any other file with a detached CMS
  signature written to OUTPUT.p7s (a signature an earlier run left there is removed, since it
  would no longer match);
- written whole or not at all, never through a link (``assessor.outfile``);
- recorded in the store (``assessor history``, ``assessor verify``): path, SHA-256, size,
  frameworks and who signed it.

The signing key is loaded before any work, so a wrong passphrase stops before a long render.
"""

from __future__ import annotations

import base64
import gc
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from assessor.errors import AssessorError

if TYPE_CHECKING:
    from assessor.catalog import Catalog
    from assessor.readmodel import AssessmentView
    from assessor.report.attachments import Shipment
    from assessor.report.data import ReportData, SignatureInfo
    from assessor.report.fleet import FleetData
    from assessor.sign.keys import SigningIdentity
    from assessor.store import Store

MAX_LOGO_BYTES = 1 << 20
_LOGO_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


@dataclass(frozen=True)
class Signing:
    """Where the signing key is (``--key``/``--cert`` or ``--pkcs12``; the default key when
    none is given), and the RFC 3161 timestamp authority, if any."""

    key: Path | None = None
    cert: Path | None = None
    pkcs12: Path | None = None
    tsa_url: str | None = None

    def identity(self) -> SigningIdentity:
        from assessor.sign.keys import load_identity

        return load_identity(key=self.key, cert=self.cert, pkcs12=self.pkcs12)


@dataclass(frozen=True)
class Published:
    """An output as written and recorded."""

    path: Path
    fmt: str
    size: int
    sha256: str
    signature: dict[str, object] | None  # as recorded: kind, signer, certificate, ...

    @property
    def signature_file(self) -> Path:
        """OUTPUT.p7s: where a detached signature is written."""
        return self.path.with_name(self.path.name + ".p7s")


def publish(
    store: Store,
    assessment_id: int,
    output: Path,
    body: bytes,
    *,
    fmt: str,
    frameworks: Sequence[str],
    identity: SigningIdentity | None = None,
    tsa_url: str | None = None,
    pades_box: tuple[int, int, int, int] | None = None,
    write_first: Callable[[], object] | None = None,
) -> Published:
    """Sign ``body`` (PAdES embedded in the PDF when ``pades_box`` gives the signature field's
    place, else a detached CMS signature), run ``write_first`` (files the output links to),
    write the output whole or not at all, then the signature, and record it in the store."""
    from assessor.outfile import write_file
    from assessor.store import queries

    sig_file = output.with_name(output.name + ".p7s")
    body, signature, detached = (
        _sign(body, identity, tsa_url, pades_box, sig_file)
        if identity is not None
        else (body, None, None)
    )
    if write_first is not None:
        write_first()
    write_file(output, body)
    if detached is not None:
        write_file(sig_file, detached)
    else:  # a signature left by an earlier run would no longer match
        sig_file.unlink(missing_ok=True)
    digest = hashlib.sha256(body).hexdigest()
    queries.record_report(
        store,
        assessment_id,
        fmt=fmt,
        path=str(output.resolve()),
        sha256=digest,
        size=len(body),
        frameworks=list(frameworks),
        signature=signature,
    )
    return Published(output, fmt, len(body), digest, signature)


def _sign(
    body: bytes,
    identity: SigningIdentity,
    tsa_url: str | None,
    pades_box: tuple[int, int, int, int] | None,
    sig_file: Path,
) -> tuple[bytes, dict[str, object], bytes | None]:
    """The body (signed inside when PAdES), the signature as recorded, and the detached
    signature (CMS) to write beside it."""
    from assessor.sign.keys import fingerprint, subject_line

    info = {
        "signer": subject_line(identity.certificate),
        "certificate_sha256": fingerprint(identity.certificate),
    }
    if pades_box is not None:
        from assessor.sign.pdf import sign_pdf

        signed = sign_pdf(body, identity, field_box=pades_box, tsa_url=tsa_url)
        return signed, {"kind": "pades", **info}, None
    from assessor.sign.cms import sign_detached

    detached = sign_detached(body, identity, tsa_url=tsa_url)
    signature: dict[str, object] = {
        "kind": "cms",
        **info,
        "signature_path": str(sig_file.resolve()),
        "signature_sha256": hashlib.sha256(detached).hexdigest(),
    }
    return body, signature, detached


# --- exports ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportRequest:
    assessment: str | None  # id or uuid; None: the latest
    fmt: str  # an export format of assessor.extensions (built in or a plugin's)
    output: Path | None  # None: the caller prints the bytes (nothing is written or recorded)
    every_result: bool = False
    signing: Signing | None = None
    db: str | None = None
    controls: Sequence[Path] = ()


@dataclass(frozen=True)
class Exported:
    body: bytes
    media_type: str
    published: Published | None  # None when nothing was written (no output file)


def write_export(request: ExportRequest) -> Exported:
    """Export a stored assessment: render the format, then sign, write and record it (or only
    return the bytes when there is no output file)."""
    from assessor import extensions
    from assessor.catalog import load_catalog
    from assessor.export import render
    from assessor.export.data import load as load_export
    from assessor.outfile import check_destination
    from assessor.store import open_store

    exporter = extensions.exporter(request.fmt)
    if request.output is not None:
        check_destination(request.output)
    signing = request.signing
    identity = signing.identity() if signing is not None else None
    catalog = load_catalog(list(request.controls))
    store = open_store(request.db)
    try:
        data = load_export(store, catalog, request.assessment, with_bodies=exporter.needs_bodies)
        body = render(request.fmt, data, every_result=request.every_result)
        published = None
        if request.output is not None:
            published = publish(
                store,
                data.id,
                request.output,
                body,
                fmt=request.fmt,
                frameworks=sorted(data.catalog.frameworks),
                identity=identity,
                tsa_url=signing.tsa_url if signing is not None else None,
            )
    finally:
        store.close()
    return Exported(body, exporter.media_type, published)


# --- reports ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportRequest:
    assessment: str | None  # id or uuid; None: the latest
    fmt: str  # "html" or "pdf"
    output: Path
    frameworks: Sequence[str] = ()  # () : the defaults (assessor.report.data)
    organisation: str = ""
    system: str = ""
    assessor: str = ""  # who prepared the report
    logo: Path | None = None
    max_findings: int = 500
    max_attached_mib: int = 32
    signing: Signing | None = None
    db: str | None = None
    controls: Sequence[Path] = ()
    # a fleet report: every host of ``system`` in this period (assessor.report.fleet)
    period: str | None = None

    @property
    def pdf(self) -> bool:
        return self.fmt == "pdf"


@dataclass(frozen=True)
class ReportWritten:
    published: Published
    shipment: Shipment  # the files carried with the report
    folder: str  # OUTPUT.files: where an HTML report's files are


def write_report(request: ReportRequest) -> ReportWritten:
    """Render a stored assessment's report, carry its files with it (PDF attachments, or the
    folder OUTPUT.files/ beside an HTML report), then sign, write and record it."""
    from assessor.catalog import load_catalog
    from assessor.outfile import check_destination
    from assessor.report.attachments import folder_for, write_folder
    from assessor.report.render import SIGNATURE_BOX
    from assessor.store import open_store

    check_destination(request.output)  # a missing or unwritable folder stops before a render
    logo_uri = logo_data_uri(request.logo)
    signing = request.signing
    identity = signing.identity() if signing is not None else None
    catalog = load_catalog(list(request.controls))
    store = open_store(request.db)
    if request.period is not None:
        try:
            return _write_fleet(store, catalog, request, logo_uri, identity)
        finally:
            store.close()
    try:
        folder = folder_for(request.output.name)
        aid, fw_ids, shipment, body = _render_report(
            store, catalog, request, logo_uri, identity, folder
        )
        published = publish(
            store,
            aid,
            request.output,
            body,
            fmt=request.fmt,
            frameworks=fw_ids,
            identity=identity,
            tsa_url=signing.tsa_url if signing is not None else None,
            pades_box=SIGNATURE_BOX if request.pdf else None,
            # the files first: the report links to them
            write_first=None
            if request.pdf
            else lambda: write_folder(request.output, shipment.files),
        )
    finally:
        store.close()
    return ReportWritten(published, shipment, folder)


def _write_fleet(
    store: Store,
    catalog: Catalog,
    request: ReportRequest,
    logo_uri: str | None,
    identity: SigningIdentity | None,
) -> ReportWritten:
    """The fleet report of ``request.system`` in ``request.period``: each host's detail in a
    file beside an HTML report (listed with its SHA-256, so the signature covers it), or in
    the PDF's appendix; recorded against the latest assessment it covers."""
    from assessor.report.attachments import Shipment, folder_for, write_folder
    from assessor.report.fleet import FleetRequest, build
    from assessor.report.render import SIGNATURE_BOX

    assert request.period is not None
    folder = folder_for(request.output.name)
    data = build(
        store,
        catalog,
        FleetRequest(
            request.system,
            request.period,
            frameworks=request.frameworks,
            organisation=request.organisation,
            assessor=request.assessor,
            logo_data_uri=logo_uri,
            max_findings=request.max_findings,
            signature=(
                _signature_info(identity, "pades" if request.pdf else "cms")
                if identity is not None
                else None
            ),
        ),
    )
    shipment = Shipment()
    body = _fleet_body(data, request, folder, shipment)
    shipment.cap = shipment.total
    published = publish(
        store,
        max(a.id for a in data.assessments),
        request.output,
        body,
        fmt=request.fmt,
        frameworks=data.frameworks,
        identity=identity,
        tsa_url=request.signing.tsa_url if request.signing is not None else None,
        pades_box=SIGNATURE_BOX if request.pdf else None,
        write_first=None if request.pdf else lambda: write_folder(request.output, shipment.files),
    )
    return ReportWritten(published, shipment, folder)


def _fleet_body(data: FleetData, request: ReportRequest, folder: str, shipment: Shipment) -> bytes:
    """The fleet report's bytes (unsigned); an HTML report's host files go into
    ``shipment``."""
    from assessor.report.attachments import ShippedFile, manifest_html
    from assessor.report.fleet import cut_for_pdf
    from assessor.report.render import (
        host_file,
        render_fleet_hosts,
        render_fleet_html,
        render_pdf,
    )

    if request.pdf:
        import weasyprint  # type: ignore[import-untyped]  # noqa: F401

        cut_for_pdf(data)
        return render_pdf(render_fleet_html(data))
    data.detail_files = True
    for h in data.hosts:
        h.href = f"{quote(folder)}/{quote(host_file(h.number, h.name))}"
    for path, body in render_fleet_hosts(data):
        sha = hashlib.sha256(body).hexdigest()
        what = "stylesheet" if path.endswith(".css") else "a host's findings"
        shipment.files.append(ShippedFile(f"host:{path}", path, sha, what, body))
    return render_fleet_html(data, manifest_html(shipment.files, folder)).encode("utf-8")


def _render_report(
    store: Store,
    catalog: Catalog,
    request: ReportRequest,
    logo_uri: str | None,
    identity: SigningIdentity | None,
    folder: str,
) -> tuple[int, list[str], Shipment, bytes]:
    """The report's bytes (unsigned), with its assessment id, frameworks and shipped files."""
    from assessor import readmodel
    from assessor.report.attachments import collect
    from assessor.report.render import Charts, render_html, render_pdf

    view = readmodel.load(store, catalog, request.assessment)
    shipment = collect(store, view, cap=request.max_attached_mib << 20)
    data = _report_data(store, catalog, request, view, logo_uri, identity, shipment, folder)
    aid, fw_ids = data.meta.assessment_id, [f.id for f in data.frameworks]
    note, manifest = _shipment_html(request, shipment, folder)
    # the charts are drawn in a child process while this one loads WeasyPrint (not
    # pyHanko: loaded after the layout, it reuses the memory WeasyPrint let go of)
    charts = Charts.of(data).start()
    if request.pdf:
        import weasyprint  # noqa: F401
    html = render_html(data, manifest, note, charts)
    # the read model and report data are not needed any more: free them before WeasyPrint
    # lays out the document, which is what sets the command's peak memory
    del data, view
    gc.collect()
    body = render_pdf(html, shipment.files) if request.pdf else html.encode("utf-8")
    return aid, fw_ids, shipment, body


def _report_data(
    store: Store,
    catalog: Catalog,
    request: ReportRequest,
    view: AssessmentView,
    logo_uri: str | None,
    identity: SigningIdentity | None,
    shipment: Shipment,
    folder: str,
) -> ReportData:
    from assessor.report.data import build

    return build(
        store,
        catalog,
        request.assessment,
        frameworks=request.frameworks,
        organisation=request.organisation,
        system=request.system,
        assessor=request.assessor,
        logo_data_uri=logo_uri,
        max_findings=request.max_findings,
        signature=(
            _signature_info(identity, "pades" if request.pdf else "cms")
            if identity is not None
            else None
        ),
        attachments=shipment.hrefs("" if request.pdf else folder),
        view=view,
    )


def _shipment_html(request: ReportRequest, shipment: Shipment, folder: str) -> tuple[str, str]:
    """The note saying where the report's files are, and an HTML report's manifest of them."""
    from assessor.report.attachments import manifest_html, note_html

    note = ""
    if shipment.files or shipment.omitted:
        where = (
            "in this PDF's attachments"
            if request.pdf
            else f"in the folder {folder}/ beside this file"
        )
        note = note_html(shipment, where)
    manifest = manifest_html(shipment.files, folder) if not request.pdf else ""
    return note, manifest


def logo_data_uri(path: Path | None) -> str | None:
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


__all__ = [
    "ExportRequest",
    "Exported",
    "Published",
    "ReportRequest",
    "ReportWritten",
    "Signing",
    "logo_data_uri",
    "publish",
    "write_export",
    "write_report",
]
