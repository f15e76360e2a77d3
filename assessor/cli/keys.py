"""``assessor keys``: the key and certificate that sign reports."""

from __future__ import annotations

import datetime as dt
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from assessor.errors import AssessorError

if TYPE_CHECKING:
    from cryptography import x509

app = typer.Typer(help="Signing keys for reports.", no_args_is_help=True)

DIR_OPTION = typer.Option(
    None,
    "--dir",
    metavar="DIR",
    envvar="ASSESSOR_KEY_DIR",
    show_envvar=True,
    help="Key directory. Default: keys/ in the user config directory.",
)


def _passphrase(from_stdin: bool) -> bytes | None:
    """The first line of stdin (--passphrase-stdin), else ASSESSOR_KEY_PASSPHRASE, else None."""
    from assessor.sign.keys import env_passphrase

    if not from_stdin:
        return env_passphrase(None)
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise AssessorError("--passphrase-stdin: stdin gave an empty passphrase")
    return line.encode()


def _mode(path: Path) -> str:
    return f"{path.stat().st_mode & 0o777:04o}" if path.exists() else "missing"


def _describe(cert: x509.Certificate) -> list[tuple[str, str]]:
    from assessor.sign.keys import fingerprint

    after = cert.not_valid_after_utc
    issuer = "self-signed" if cert.issuer == cert.subject else cert.issuer.rfc4514_string()
    return [
        ("subject", cert.subject.rfc4514_string()),
        ("issuer", issuer),
        ("valid", f"{cert.not_valid_before_utc:%Y-%m-%d} to {after:%Y-%m-%d}"),
        ("SHA-256", fingerprint(cert)),
    ]


def _print(rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows) + 1
    for k, v in rows:
        typer.echo(f"{k + ':':<{width}} {v}")


_NAME = typer.Option(
    None,
    "--name",
    metavar="CN",
    help="Certificate common name. Default: assessor report signing (HOST).",
)
_ORGANISATION = typer.Option(
    None,
    "--organisation",
    "--organization",
    metavar="ORG",
    help="Certificate organisation (O).",
)
_PASSPHRASE_STDIN = typer.Option(
    False,
    "--passphrase-stdin",
    help="Read the key passphrase from stdin's first line (else ASSESSOR_KEY_PASSPHRASE; "
    "with neither, the key is stored unencrypted, mode 0600).",
)
_PKCS12 = typer.Option(
    None,
    "--pkcs12",
    metavar="FILE",
    help="Use the organisation's PKCS#12 file instead of a new key.",
)
_KEY = typer.Option(
    None, "--key", metavar="FILE", help="Use the organisation's PEM/DER private key."
)
_CERT = typer.Option(None, "--cert", metavar="FILE", help="The certificate for --key (PEM/DER).")
_CHAIN = typer.Option(
    None,
    "--chain",
    metavar="FILE",
    help="Intermediate certificates for --key/--pkcs12 (repeatable).",
)


@app.command("init")
def init(
    directory: Path = DIR_OPTION,
    name: str = _NAME,
    organisation: str = _ORGANISATION,
    passphrase_stdin: bool = _PASSPHRASE_STDIN,
    days: int = typer.Option(825, "--days", min=1, help="Validity of a new certificate."),
    force: bool = typer.Option(False, "--force", help="Replace an existing key and certificate."),
    pkcs12: Path = _PKCS12,
    key: Path = _KEY,
    cert: Path = _CERT,
    chain: list[Path] = _CHAIN,
) -> None:
    """Create a signing key and self-signed certificate, or import the organisation's own."""
    from assessor.sign.keys import import_identity, init_keys, key_dir, load_certificates

    target = directory or key_dir()
    secret = _passphrase(passphrase_stdin)
    importing = pkcs12 is not None or key is not None or cert is not None or bool(chain)
    if importing:
        if name is not None or organisation is not None:
            raise AssessorError("--name and --organisation apply only to a new key")
        key_path, cert_path = import_identity(
            target,
            pkcs12=pkcs12,
            key=key,
            cert=cert,
            chain=list(chain or []),
            passphrase=secret,
            force=force,
        )
    else:
        key_path, cert_path = init_keys(
            target,
            common_name=name or f"assessor report signing ({socket.gethostname()})",
            organisation=organisation,
            passphrase=secret,
            days=days,
            force=force,
        )
    state = "encrypted" if secret else "NOT encrypted: protected by its file mode only"
    rows = [
        ("key", f"{key_path} (mode {_mode(key_path)}, {state})"),
        ("certificate", str(cert_path)),
        *_describe(load_certificates(cert_path)[0]),
    ]
    _print(rows)


@app.command("show")
def show(directory: Path = DIR_OPTION) -> None:
    """Print the signing certificate's subject, fingerprint and validity, and file modes."""
    from assessor.sign.keys import CERT_FILE, CHAIN_FILE, KEY_FILE, key_dir, load_certificates

    target = directory or key_dir()
    key_path, cert_path, chain_path = (target / n for n in (KEY_FILE, CERT_FILE, CHAIN_FILE))
    if not cert_path.exists():
        raise AssessorError(
            f"{cert_path}: no signing certificate", hint="create one with `assessor keys init`"
        )
    cert = load_certificates(cert_path)[0]
    rows = [("directory", f"{target} (mode {_mode(target)})"), *_describe(cert)]
    if dt.datetime.now(dt.UTC) > cert.not_valid_after_utc:
        rows.append(("status", "EXPIRED: signing will fail; run `assessor keys init --force`"))
    rows.append(("certificate", f"{cert_path} (mode {_mode(cert_path)})"))
    if chain_path.exists():
        rows.append(("chain", f"{chain_path} ({len(load_certificates(chain_path))} certificates)"))
    if key_path.exists():
        encrypted = b"ENCRYPTED" in key_path.read_bytes()
        mode = key_path.stat().st_mode & 0o777
        note = "encrypted" if encrypted else "not encrypted"
        if mode & 0o077:
            note += "; WARNING: readable by group or others, run chmod 600"
        rows.append(("key", f"{key_path} (mode {mode:04o}, {note})"))
    else:
        rows.append(("key", f"{key_path} (missing: this machine cannot sign)"))
    _print(rows)
