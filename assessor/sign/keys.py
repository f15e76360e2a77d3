"""Signing identities: create a key and self-signed certificate, import one, load one.

Files in the key directory: ``signing-key.pem`` (PKCS#8, mode 0600, encrypted when a
passphrase was given), ``signing-cert.pem`` and, for an imported identity with
intermediate certificates, ``signing-chain.pem``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12 as p12
from cryptography.x509.oid import NameOID
from platformdirs import user_config_dir

from assessor.errors import AssessorError
from assessor.outfile import write_file

KEY_FILE = "signing-key.pem"
CERT_FILE = "signing-cert.pem"
CHAIN_FILE = "signing-chain.pem"
PASSPHRASE_ENV = "ASSESSOR_KEY_PASSPHRASE"  # noqa: S105 - a variable name, not a secret

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class SigningIdentity:
    """A private key, its certificate and the certificates between it and a root."""

    private_key: SigningKey = field(repr=False)
    certificate: x509.Certificate
    chain: list[x509.Certificate] = field(default_factory=list)
    source: str = ""

    def __repr__(self) -> str:  # never show key material
        return f"SigningIdentity({subject_line(self.certificate)!r}, source={self.source!r})"


def key_dir() -> Path:
    """``ASSESSOR_KEY_DIR``, else ``<user config dir>/assessor/keys``."""
    env = os.environ.get("ASSESSOR_KEY_DIR")
    if env:
        return Path(env)

    return Path(user_config_dir("assessor")) / "keys"


def env_passphrase(passphrase: bytes | None) -> bytes | None:
    """The passphrase given, else ``ASSESSOR_KEY_PASSPHRASE`` (unset or empty: none)."""
    if passphrase is not None:
        return passphrase or None
    env = os.environ.get(PASSPHRASE_ENV, "")
    return env.encode() if env else None


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, as colon-separated upper-case hex."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def _name_attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    attrs = name.get_attributes_for_oid(oid)
    if not attrs:
        return None
    value = attrs[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def subject_line(cert: x509.Certificate) -> str:
    """``CN (O)`` of a certificate's subject, or its RFC 4514 string without a CN."""
    cn = _name_attr(cert.subject, NameOID.COMMON_NAME)
    org = _name_attr(cert.subject, NameOID.ORGANIZATION_NAME)
    if cn is None:
        return cert.subject.rfc4514_string()
    return f"{cn} ({org})" if org else cn


# -- writing ---------------------------------------------------------------------------------


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write atomically, never through a link: 0600 for a key, else 0644 (assessor/outfile.py)."""
    write_file(path, data, private=mode == 0o600)


def _prepare_dir(directory: Path, targets: list[Path], force: bool) -> None:
    for target in targets:
        if target.exists() and not force:
            raise AssessorError(
                f"{target} already exists",
                hint="pass --force to replace it (signatures made with the old key then "
                "verify only against the old certificate)",
            )
    if not directory.exists():
        try:
            directory.mkdir(mode=0o700, parents=True)
            directory.chmod(0o700)
        except OSError as e:
            raise AssessorError(f"{directory}: cannot create key directory: {e.strerror}") from e
    elif not directory.is_dir():
        raise AssessorError(f"{directory}: not a directory")


def _key_pem(key: SigningKey, passphrase: bytes | None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def _cert_pem(certs: list[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _self_signed(
    key: ec.EllipticCurvePrivateKey, common_name: str, organisation: str | None, days: int
) -> x509.Certificate:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organisation:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    name = x509.Name(attrs)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,  # nonRepudiation
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def init_keys(
    directory: Path,
    *,
    common_name: str,
    organisation: str | None,
    passphrase: bytes | None,
    days: int = 825,
    force: bool = False,
) -> tuple[Path, Path]:
    """Create an EC P-256 key and a self-signed certificate; return (key path, cert path)."""
    if days < 1:
        raise AssessorError(f"--days must be at least 1, not {days}")
    if not common_name.strip():
        raise AssessorError("the certificate name (--name) must not be empty")
    key_path, cert_path = directory / KEY_FILE, directory / CERT_FILE
    _prepare_dir(directory, [key_path, cert_path], force)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _self_signed(key, common_name, organisation, days)
    _write(key_path, _key_pem(key, passphrase), 0o600)
    _write(cert_path, _cert_pem([cert]), 0o644)
    (directory / CHAIN_FILE).unlink(missing_ok=True)  # a chain of a replaced identity
    return key_path, cert_path


def import_identity(
    directory: Path,
    *,
    pkcs12: Path | None,
    key: Path | None,
    cert: Path | None,
    chain: list[Path],
    passphrase: bytes | None,
    force: bool = False,
) -> tuple[Path, Path]:
    """Validate an organisation's key and certificate and copy them into ``directory``.

    The key is written as PKCS#8 PEM (mode 0600), encrypted with ``passphrase`` when there
    is one (the passphrase that opened the input). Returns (key path, cert path).
    """
    if pkcs12 is None and (key is None or cert is None):
        raise AssessorError("give either --pkcs12 FILE or both --key FILE and --cert FILE")
    if pkcs12 is not None and (key is not None or cert is not None):
        raise AssessorError("give --pkcs12 or --key/--cert, not both")
    ident = load_identity(key=key, cert=cert, pkcs12=pkcs12, chain=chain, passphrase=passphrase)
    key_path, cert_path, chain_path = (directory / n for n in (KEY_FILE, CERT_FILE, CHAIN_FILE))
    _prepare_dir(directory, [key_path, cert_path], force)
    _write(key_path, _key_pem(ident.private_key, env_passphrase(passphrase)), 0o600)
    _write(cert_path, _cert_pem([ident.certificate]), 0o644)
    if ident.chain:
        _write(chain_path, _cert_pem(ident.chain), 0o644)
    else:
        chain_path.unlink(missing_ok=True)
    return key_path, cert_path


# -- reading ---------------------------------------------------------------------------------


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        own = path.parent == key_dir()
        hint = "create one with `assessor keys init`" if own else None
        raise AssessorError(f"{path}: {what} not found", hint=hint) from None
    except OSError as e:
        raise AssessorError(f"{path}: cannot read {what}: {e.strerror}") from e


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate in a PEM file (one or more) or a DER file."""
    data = _read(path, "certificate file")
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise AssessorError(f"{path}: not a PEM or DER X.509 certificate") from None


def _check_key_type(key: object, path: Path) -> SigningKey:
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        return key
    raise AssessorError(
        f"{path}: unsupported key type {type(key).__name__} (use RSA, EC or Ed25519)"
    )


def _load_key(path: Path, passphrase: bytes | None) -> SigningKey:
    data = _read(path, "private key")
    encrypted = b"ENCRYPTED" in data
    pem = b"-----BEGIN" in data
    loader = serialization.load_pem_private_key if pem else serialization.load_der_private_key
    if encrypted and passphrase is None:
        raise AssessorError(
            f"{path}: the private key is encrypted and no passphrase was given",
            hint=f"set {PASSPHRASE_ENV} or pass --passphrase-stdin",
        )
    try:
        key = loader(data, passphrase if encrypted else None)
    except (ValueError, TypeError):
        problem = "wrong passphrase" if encrypted else "not a PEM or DER private key"
        raise AssessorError(f"{path}: cannot load private key: {problem}") from None
    return _check_key_type(key, path)


def _load_pkcs12(
    path: Path, passphrase: bytes | None
) -> tuple[SigningKey, x509.Certificate, list[x509.Certificate]]:
    data = _read(path, "PKCS#12 file")
    try:
        key, cert, extra = p12.load_key_and_certificates(data, passphrase)
    except (ValueError, TypeError):
        raise AssessorError(
            f"{path}: cannot open PKCS#12 file (wrong passphrase, or not PKCS#12)",
            hint=None if passphrase else f"set {PASSPHRASE_ENV} or pass --passphrase-stdin",
        ) from None
    if key is None or cert is None:
        raise AssessorError(f"{path}: the PKCS#12 file holds no private key and certificate")
    return _check_key_type(key, path), cert, list(extra)


def _public_der(key: SigningKey | x509.Certificate) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def check_validity(cert: x509.Certificate, where: Path, now: dt.datetime | None = None) -> None:
    """Raise when the certificate is expired or not yet valid."""
    now = now or dt.datetime.now(dt.UTC)
    if now > cert.not_valid_after_utc:
        raise AssessorError(
            f"{where}: certificate expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
            hint="make a new one (`assessor keys init --force`) or use a current certificate",
        )
    if now < cert.not_valid_before_utc:
        raise AssessorError(
            f"{where}: certificate not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
        )


def load_identity(
    *,
    key: Path | None = None,
    cert: Path | None = None,
    pkcs12: Path | None = None,
    passphrase: bytes | None = None,
    chain: list[Path] | None = None,
) -> SigningIdentity:
    """Load a signing identity (default: the key directory's files) and check it can sign."""
    passphrase = env_passphrase(passphrase)
    extra: list[x509.Certificate] = []
    if pkcs12 is not None:
        private, certificate, extra = _load_pkcs12(pkcs12, passphrase)
        cert_where = source = pkcs12
    else:
        directory = key_dir()
        key_path = key or directory / KEY_FILE
        cert_path = cert or directory / CERT_FILE
        private = _load_key(key_path, passphrase)
        certs = load_certificates(cert_path)
        certificate, extra = certs[0], certs[1:]
        if cert is None and (directory / CHAIN_FILE).is_file():
            extra += load_certificates(directory / CHAIN_FILE)
        cert_where, source = cert_path, key_path
    for path in chain or []:
        extra += load_certificates(path)
    if _public_der(private) != _public_der(certificate):
        raise AssessorError(f"{cert_where}: the certificate does not match the private key")
    check_validity(certificate, cert_where)
    return SigningIdentity(private, certificate, _dedupe(extra, certificate), str(source))


def _dedupe(certs: list[x509.Certificate], leaf: x509.Certificate) -> list[x509.Certificate]:
    seen = {hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).digest()}
    out = []
    for c in certs:
        digest = hashlib.sha256(c.public_bytes(serialization.Encoding.DER)).digest()
        if digest not in seen:
            seen.add(digest)
            out.append(c)
    return out
