"""Signing identities: key files, passphrases, PKCS#12 import, certificate checks."""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from assessor.errors import AssessorError
from assessor.sign import keys
from assessor.sign.keys import (
    CERT_FILE,
    CHAIN_FILE,
    KEY_FILE,
    fingerprint,
    import_identity,
    init_keys,
    key_dir,
    load_identity,
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSESSOR_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.delenv("ASSESSOR_KEY_PASSPHRASE", raising=False)


@pytest.fixture
def wide_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def make_cert(
    key: ec.EllipticCurvePrivateKey,
    cn: str,
    *,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None = None,
    start: dt.datetime | None = None,
    days: int = 30,
    ca: bool = False,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer_name, issuer_key = issuer or (name, key)
    start = start or dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


def write_pem(path: Path, *objs: object) -> Path:
    out = b""
    for o in objs:
        if isinstance(o, x509.Certificate):
            out += o.public_bytes(serialization.Encoding.PEM)
        else:
            assert isinstance(o, ec.EllipticCurvePrivateKey)
            out += o.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
    path.write_bytes(out)
    return path


def test_key_dir_from_env_and_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert key_dir() == tmp_path / "keys"
    monkeypatch.delenv("ASSESSOR_KEY_DIR")
    assert key_dir().parts[-2:] == ("assessor", "keys")


def test_init_writes_private_key_0600_dir_0700(tmp_path: Path, wide_umask: None) -> None:
    d = tmp_path / "keys"
    key_path, cert_path = init_keys(d, common_name="Signer", organisation="ACME", passphrase=None)
    assert (key_path, cert_path) == (d / KEY_FILE, d / CERT_FILE)
    assert mode(key_path) == 0o600, "even with umask 0 the key is private"
    assert mode(d) == 0o700
    assert mode(cert_path) == 0o644
    assert key_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert not list(d.glob(".*tmp")), "no temporary files left behind"


def test_certificate_profile(tmp_path: Path) -> None:
    _, cert_path = init_keys(
        tmp_path / "k", common_name="Signer", organisation="ACME", passphrase=None, days=10
    )
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Signer"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "ACME"
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    pub = cert.public_key()
    assert isinstance(pub, ec.EllipticCurvePublicKey) and pub.curve.name == "secp256r1"
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.content_commitment
    assert not ku.value.key_cert_sign
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=10) <= life <= dt.timedelta(days=10, minutes=6)


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    d = tmp_path / "k"
    _, cert_path = init_keys(d, common_name="A", organisation=None, passphrase=None)
    first = fingerprint(x509.load_pem_x509_certificate(cert_path.read_bytes()))
    with pytest.raises(AssessorError, match="already exists") as e:
        init_keys(d, common_name="B", organisation=None, passphrase=None)
    assert e.value.hint and "--force" in e.value.hint
    assert fingerprint(x509.load_pem_x509_certificate(cert_path.read_bytes())) == first
    init_keys(d, common_name="B", organisation=None, passphrase=None, force=True)
    assert fingerprint(x509.load_pem_x509_certificate(cert_path.read_bytes())) != first
    assert mode(d / KEY_FILE) == 0o600


def test_force_tightens_a_loose_existing_key(tmp_path: Path) -> None:
    d = tmp_path / "k"
    key_path, _ = init_keys(d, common_name="A", organisation=None, passphrase=None)
    key_path.chmod(0o644)
    init_keys(d, common_name="A", organisation=None, passphrase=None, force=True)
    assert mode(key_path) == 0o600


def test_passphrase_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = key_dir()
    init_keys(d, common_name="Signer", organisation=None, passphrase=b"s3cret")
    assert b"ENCRYPTED PRIVATE KEY" in (d / KEY_FILE).read_bytes()
    ident = load_identity(passphrase=b"s3cret")
    assert keys.subject_line(ident.certificate) == "Signer"
    assert "PRIVATE" not in repr(ident) and "s3cret" not in repr(ident)
    monkeypatch.setenv("ASSESSOR_KEY_PASSPHRASE", "s3cret")
    assert load_identity().certificate == ident.certificate


def test_wrong_or_missing_passphrase_is_one_line_naming_the_file(tmp_path: Path) -> None:
    d = key_dir()
    init_keys(d, common_name="Signer", organisation=None, passphrase=b"right")
    with pytest.raises(AssessorError) as e:
        load_identity(passphrase=b"wrong")
    assert str(d / KEY_FILE) in e.value.message and "wrong passphrase" in e.value.message
    assert "\n" not in e.value.message
    with pytest.raises(AssessorError, match="encrypted and no passphrase") as e:
        load_identity()
    assert e.value.hint and "ASSESSOR_KEY_PASSPHRASE" in e.value.hint


def test_missing_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(AssessorError, match=KEY_FILE) as e:
        load_identity()
    assert e.value.hint and "keys init" in e.value.hint
    init_keys(key_dir(), common_name="S", organisation=None, passphrase=None)
    with pytest.raises(AssessorError, match=r"nope\.pem: certificate file not found"):
        load_identity(cert=tmp_path / "nope.pem")


def test_garbage_key_and_cert(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key\n")
    init_keys(key_dir(), common_name="S", organisation=None, passphrase=None)
    with pytest.raises(AssessorError, match="not a PEM or DER private key"):
        load_identity(key=junk)
    with pytest.raises(AssessorError, match=r"not a PEM or DER X\.509 certificate"):
        load_identity(cert=junk)


def test_key_not_matching_certificate(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    init_keys(a, common_name="A", organisation=None, passphrase=None)
    init_keys(b, common_name="B", organisation=None, passphrase=None)
    with pytest.raises(AssessorError, match="does not match the private key") as e:
        load_identity(key=a / KEY_FILE, cert=b / CERT_FILE)
    assert str(b / CERT_FILE) in e.value.message


def test_expired_certificate_rejected(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    cert = write_pem(tmp_path / "old.pem", make_cert(key, "Old", start=old, days=30))
    key_path = write_pem(tmp_path / "key.pem", key)
    with pytest.raises(AssessorError, match="certificate expired on") as e:
        load_identity(key=key_path, cert=cert)
    assert "old.pem" in e.value.message


def test_not_yet_valid_certificate_rejected(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    cert = write_pem(tmp_path / "f.pem", make_cert(key, "Future", start=future))
    with pytest.raises(AssessorError, match="not valid before"):
        load_identity(key=write_pem(tmp_path / "k.pem", key), cert=cert)


def _org_pki(
    tmp_path: Path,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, x509.Certificate]:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = make_cert(ca_key, "Org CA", ca=True, days=365)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = make_cert(key, "Org Signer", issuer=(ca.subject, ca_key))
    return key, leaf, ca


def test_pkcs12_import(tmp_path: Path, wide_umask: None) -> None:
    key, leaf, ca = _org_pki(tmp_path)
    p12 = tmp_path / "org.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"org", key, leaf, [ca], serialization.BestAvailableEncryption(b"p12pass")
        )
    )
    with pytest.raises(AssessorError, match="cannot open PKCS#12"):
        import_identity(key_dir(), pkcs12=p12, key=None, cert=None, chain=[], passphrase=b"bad")
    assert not key_dir().exists(), "nothing written when the input is refused"
    key_path, cert_path = import_identity(
        key_dir(), pkcs12=p12, key=None, cert=None, chain=[], passphrase=b"p12pass"
    )
    assert mode(key_path) == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in key_path.read_bytes(), "stored key keeps a passphrase"
    assert x509.load_pem_x509_certificate(cert_path.read_bytes()) == leaf
    assert x509.load_pem_x509_certificates((key_dir() / CHAIN_FILE).read_bytes()) == [ca]
    ident = load_identity(passphrase=b"p12pass")
    assert ident.certificate == leaf and ident.chain == [ca]
    # loading the PKCS#12 directly works too
    direct = load_identity(pkcs12=p12, passphrase=b"p12pass")
    assert direct.certificate == leaf and direct.chain == [ca]


def test_pem_import_with_chain_and_mismatch(tmp_path: Path) -> None:
    key, leaf, ca = _org_pki(tmp_path)
    other = ec.generate_private_key(ec.SECP256R1())
    args = {"pkcs12": None, "chain": [write_pem(tmp_path / "ca.pem", ca)], "passphrase": None}
    with pytest.raises(AssessorError, match="does not match"):
        import_identity(
            key_dir(),
            key=write_pem(tmp_path / "other.pem", other),
            cert=write_pem(tmp_path / "leaf.pem", leaf),
            **args,  # type: ignore[arg-type]
        )
    import_identity(
        key_dir(),
        key=write_pem(tmp_path / "key.pem", key),
        cert=tmp_path / "leaf.pem",
        **args,  # type: ignore[arg-type]
    )
    ident = load_identity()
    assert ident.certificate == leaf and ident.chain == [ca]
    assert b"BEGIN PRIVATE KEY" in (key_dir() / KEY_FILE).read_bytes()


def test_import_needs_key_and_cert_or_pkcs12(tmp_path: Path) -> None:
    with pytest.raises(AssessorError, match="either --pkcs12"):
        import_identity(
            key_dir(), pkcs12=None, key=tmp_path / "k", cert=None, chain=[], passphrase=None
        )


def test_der_certificate_and_multi_pem_trust_file(tmp_path: Path) -> None:
    _, leaf, ca = _org_pki(tmp_path)
    der = tmp_path / "leaf.der"
    der.write_bytes(leaf.public_bytes(serialization.Encoding.DER))
    assert keys.load_certificates(der) == [leaf]
    both = write_pem(tmp_path / "both.pem", leaf, ca)
    assert keys.load_certificates(both) == [leaf, ca]
