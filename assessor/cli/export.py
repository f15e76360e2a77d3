"""``assessor export``: a stored assessment as OSCAL, XCCDF, ARF, SARIF, JUnit, CSV or JSON."""

from __future__ import annotations

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
    controls_dirs,
    setting,
)
from assessor.extras import require
from assessor.publish import ExportRequest, Signing, write_export


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


def _formats_help() -> str:
    """Each built-in format with its summary and the extra it needs, as --help lists them."""
    named = [
        f"{name} ({e.summary}; needs the '{e.extra}' extra)"
        if e.extra
        else (f"{name} ({e.summary})" if e.summary else name)
        for name, e in extensions.EXPORTERS.items()
    ]
    return ", ".join(named[:-1]) + ", or " + named[-1]


_ASSESSMENT = typer.Argument(None, metavar="[ASSESSMENT]", help="Id or uuid; default the latest.")
_FMT = typer.Option(
    None,
    "--format",
    parser=_format,
    metavar="<" + "|".join(extensions.EXPORTERS) + ">",
    help=_formats_help() + "; or a format an installed plugin adds (CONTRIBUTING.md; a name "
    "it does not know lists every one). Default: from the suffix of -o ("
    + ", ".join(_BY_SUFFIX)
    + ").",
)
_OUTPUT = typer.Option(
    ...,
    "--output",
    "-o",
    help="The file to write (whole or not at all; a symlink there is replaced, never "
    "followed); '-' writes to standard output.",
)
_EVERY_RESULT = typer.Option(
    False,
    "--all",
    help="sarif: carry every result (passes, manual, not applicable, errors), each as its "
    "SARIF kind, not only the findings (fail, waived). The other formats always carry "
    "every result.",
)
_SIGN = typer.Option(
    False,
    "--sign",
    help="Also write a detached CMS signature of the file to OUTPUT.p7s "
    "('assessor verify OUTPUT' checks it). Needs the 'report' extra.",
)


def export(
    assessment: str = _ASSESSMENT,
    fmt: str = _FMT,
    output: Path = _OUTPUT,
    every_result: bool = _EVERY_RESULT,
    sign: bool = _SIGN,
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
    if exporter.extra is not None:
        require(exporter.extra, f"{fmt.upper()} exports")
    if sign:
        require("report", "signed exports (--sign)")
    if sign and key is None and setting(None, "sign_key"):
        key = Path(setting(None, "sign_key"))
    done = write_export(
        ExportRequest(
            assessment,
            fmt,
            None if to_stdout else output,
            every_result=every_result,
            signing=Signing(key, cert, pkcs12, tsa_url) if sign else None,
            db=setting(db, "db"),
            controls=controls_dirs(controls),
        )
    )
    out = done.published
    if out is None:
        sys.stdout.buffer.write(done.body)
        sys.stdout.flush()
        return
    signed = ""
    if out.signature is not None:
        signed = f", signed by {out.signature['signer']} (in {out.signature_file.name})"
    sys.stderr.write(
        f"assessor: wrote {out.path} ({out.fmt}, {done.media_type}, {out.size} bytes, sha256 "
        f"{out.sha256}{signed})\n"
    )
