"""``assessor export``: a stored assessment as OSCAL, XCCDF, ARF, SARIF, JUnit, CSV or JSON."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import typer

from assessor import extensions
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


def _format(value: str) -> str:
    """A format name: built in, or one an installed plugin adds (read only when given)."""
    known = extensions.names(extensions.EXPORTERS_GROUP)
    if value not in known:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(map(repr, known))}.")
    return value


# a suffix that names one built-in format only (.sarif, .csv); .json and .xml name several
_SUFFIXES = [f".{e.suffix}" for e in extensions.EXPORTERS.values()]
_BY_SUFFIX = {
    f".{e.suffix}": name
    for name, e in extensions.EXPORTERS.items()
    if _SUFFIXES.count(f".{e.suffix}") == 1
}


def export(
    assessment: str = typer.Argument(
        None, metavar="[ASSESSMENT]", help="Id or uuid; default the latest."
    ),
    fmt: str = typer.Option(
        None,
        "--format",
        parser=_format,
        metavar="<" + "|".join(extensions.EXPORTERS) + ">",
        help="oscal (OSCAL assessment results, JSON), xccdf (XCCDF 1.2 benchmark and test "
        "result), arf (the XCCDF in an Asset Reporting Format result data stream), sarif "
        "(SARIF 2.1.0), junit (JUnit XML), csv, or json (as 'assessor results --format json'); "
        "or a format an installed plugin adds (CONTRIBUTING.md; a name it does not know lists "
        "every one). "
        "Default: from the suffix of -o (.sarif, .csv).",
    ),
    output: Path = typer.Option(
        ...,
        "--output",
        "-o",
        help="The file to write (whole or not at all; a symlink there is replaced, never "
        "followed); '-' writes to standard output.",
    ),
    every_result: bool = typer.Option(
        False,
        "--all",
        help="sarif: carry every result (passes, manual, not applicable, errors), each as its "
        "SARIF kind, not only the findings (fail, waived). The other formats always carry "
        "every result.",
    ),
    sign: bool = typer.Option(
        False,
        "--sign",
        help="Also write a detached CMS signature of the file to OUTPUT.p7s "
        "('assessor verify OUTPUT' checks it).",
    ),
    key: Path = KEY_OPTION,
    cert: Path = CERT_OPTION,
    pkcs12: Path = PKCS12_OPTION,
    tsa_url: str = TSA_OPTION,
    db: str = DB_OPTION,
    controls: list[Path] = CONTROLS_OPTION,
) -> None:
    """Export a stored assessment for other tools (docs/interop.md). The same assessment
    exports to the same bytes while its waivers and attestations (frozen once finalised) and
    the catalog's rule texts stay the same, so the file's SHA-256 can go in an audit trail."""
    from assessor.export import render
    from assessor.export.data import load as load_export
    from assessor.store import queries

    to_stdout = str(output) == "-"
    if fmt is None:
        fmt = _BY_SUFFIX.get(output.suffix.lower()) if not to_stdout else None
        if fmt is None:
            raise typer.BadParameter(
                "give --format (the output's suffix does not say which)", param_hint="--format"
            )
    exporter = extensions.exporter(fmt)  # a plugin's that does not load stops here
    if sign and to_stdout:
        raise typer.BadParameter("--sign needs a file to write (-o FILE)", param_hint="--sign")
    if not to_stdout:
        check_output(output)
    identity = None
    if sign:  # load the key first: a wrong passphrase stops before any work
        from assessor.sign.keys import load_identity

        if key is None and setting(None, "sign_key"):
            key = Path(setting(None, "sign_key"))
        identity = load_identity(key=key, cert=cert, pkcs12=pkcs12)
    catalog = load(controls)
    store = open_db(db)
    try:
        data = load_export(store, catalog, assessment, with_bodies=exporter.needs_bodies)
        body = render(fmt, data, every_result=every_result)
        if to_stdout:
            sys.stdout.buffer.write(body)
            sys.stdout.flush()
            return
        signature: dict[str, object] | None = None
        detached: bytes | None = None
        sig_file = output.with_name(output.name + ".p7s")
        if identity is not None:
            from assessor.sign.cms import sign_detached
            from assessor.sign.keys import fingerprint, subject_line

            detached = sign_detached(body, identity, tsa_url=tsa_url)
            signature = {
                "kind": "cms",
                "signer": subject_line(identity.certificate),
                "certificate_sha256": fingerprint(identity.certificate),
                "signature_path": str(sig_file.resolve()),
                "signature_sha256": hashlib.sha256(detached).hexdigest(),
            }
        write_atomic(output, body)
        if detached is not None:
            write_atomic(sig_file, detached)
        else:  # a signature left by an earlier run would no longer match
            sig_file.unlink(missing_ok=True)
        digest = hashlib.sha256(body).hexdigest()
        queries.record_report(
            store,
            data.id,
            fmt=fmt,
            path=str(output.resolve()),
            sha256=digest,
            size=len(body),
            frameworks=sorted(data.catalog.frameworks),
            signature=signature,
        )
    finally:
        store.close()
    signed = f", signed by {signature['signer']} (in {sig_file.name})" if signature else ""
    kind = exporter.media_type
    sys.stderr.write(
        f"assessor: wrote {output} ({fmt}, {kind}, {len(body)} bytes, sha256 {digest}{signed})\n"
    )
