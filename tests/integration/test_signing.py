"""Signed reports checked by assessor and by third-party tools: poppler's pdfsig, openssl cms.

Under CI=true a missing pdfsig or openssl fails these tests instead of skipping them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assessor.errors import AssessorError
from assessor.sign import sign_bytes
from assessor.sign.cms import sign_detached
from assessor.sign.keys import CERT_FILE, SigningIdentity, init_keys, load_identity
from assessor.sign.pdf import sign_pdf
from assessor.sign.verify import NO_ANCHOR, verify_file
from tests.conftest import missing


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(f"{name} (apt-get install {'poppler-utils' if name == 'pdfsig' else name})")
    assert path is not None
    return path


def pdfsig(path: Path) -> str:
    proc = subprocess.run([tool("pdfsig"), str(path)], capture_output=True, text=True, timeout=60)
    return proc.stdout + proc.stderr


def openssl_verify(content: Path, sig: Path, ca: Path) -> subprocess.CompletedProcess[str]:
    argv = [tool("openssl"), "cms", "-verify", "-binary", "-inform", "DER", "-in", str(sig)]
    argv += ["-content", str(content), "-CAfile", str(ca), "-purpose", "any", "-out", "/dev/null"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


@pytest.fixture
def keydir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "keys"
    monkeypatch.setenv("ASSESSOR_KEY_DIR", str(d))
    monkeypatch.delenv("ASSESSOR_KEY_PASSPHRASE", raising=False)
    init_keys(d, common_name="Report Signer", organisation="ACME Audit", passphrase=b"pw")
    return d


@pytest.fixture
def identity(keydir: Path) -> SigningIdentity:
    return load_identity(passphrase=b"pw")


@pytest.fixture
def other_cert(tmp_path: Path) -> Path:
    _, cert = init_keys(
        tmp_path / "other", common_name="Mallory", organisation=None, passphrase=None
    )
    return cert


@pytest.fixture(scope="module")
def report_pdf() -> bytes:
    import weasyprint  # a dependency: its absence is a failure, not a skip

    html = "<h1>Assessment</h1>" + "<p>Finding: container runs as root.</p>" * 20
    data: bytes = weasyprint.HTML(string=html).write_pdf()
    return data


def byte_range(pdf: bytes) -> list[int]:
    m = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    assert m, "signed PDF has a /ByteRange"
    return [int(x) for x in m.groups()]


def flip_in_signed_stream(pdf: bytes) -> bytes:
    """Flip one byte in the middle of the largest stream inside the first signed range."""
    start, length, _, _ = byte_range(pdf)
    streams = [
        (m.end(), pdf.index(b"endstream", m.end()))
        for m in re.finditer(rb"(?<!end)stream\r?\n", pdf[: start + length])
    ]
    begin, end = max(streams, key=lambda s: s[1] - s[0])
    assert end < start + length
    pos = (begin + end) // 2
    return pdf[:pos] + bytes([pdf[pos] ^ 0x01]) + pdf[pos + 1 :]


# -- PDF -------------------------------------------------------------------------------------


def test_signed_pdf_valid_for_assessor_and_pdfsig(
    tmp_path: Path, keydir: Path, identity: SigningIdentity, report_pdf: bytes
) -> None:
    signed = sign_pdf(report_pdf, identity, location="Berlin")
    assert signed.startswith(report_pdf), "an incremental update: the original bytes are kept"
    path = tmp_path / "report.pdf"
    path.write_bytes(signed)

    out = pdfsig(path)
    assert "Signature is Valid" in out, out
    assert "Total document signed" in out, out
    assert "Report Signer" in out and "SHA-256" in out

    result = verify_file(path)
    assert result.valid, result.reason
    assert result.kind == "pdf"
    assert result.signer == "Report Signer (ACME Audit)"
    assert result.sha256 == hashlib.sha256(signed).hexdigest()
    assert result.signed_at is not None
    assert abs(dt.datetime.now(dt.UTC) - result.signed_at) < dt.timedelta(minutes=5)
    assert result.trust_anchor and str(keydir / CERT_FILE) in result.trust_anchor


def test_openssl_checks_pdf_signature_against_the_anchor(
    tmp_path: Path, keydir: Path, identity: SigningIdentity, report_pdf: bytes, other_cert: Path
) -> None:
    """The auditor's route in docs/signing.md: pdfsig -dump, the signed ranges, openssl cms."""
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(sign_pdf(report_pdf, identity))
    subprocess.run([tool("pdfsig"), "-dump", str(pdf)], cwd=tmp_path, check=True, timeout=60)
    sig = tmp_path / "report.pdf.sig0"
    ranges = re.search(r"Signed Ranges: \[(\d+) - (\d+)\], \[(\d+) - (\d+)\]", pdfsig(pdf))
    assert ranges, "pdfsig prints the signed byte ranges"
    a, b, c, d = (int(x) for x in ranges.groups())
    data = pdf.read_bytes()
    assert (a, d) == (0, len(data))
    signed = tmp_path / "signed-bytes.bin"
    signed.write_bytes(data[a:b] + data[c:d])
    assert openssl_verify(signed, sig, keydir / CERT_FILE).returncode == 0
    assert openssl_verify(signed, sig, other_cert).returncode != 0


def test_signature_is_visible_with_signer_and_time(
    identity: SigningIdentity, report_pdf: bytes
) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    signed = sign_pdf(report_pdf, identity)
    sig = PdfFileReader(io.BytesIO(signed)).embedded_signatures[0]
    field = sig.sig_field
    x1, y1, x2, y2 = (float(v) for v in field["/Rect"])
    assert x2 - x1 > 100 and y2 - y1 > 20, "a visible, non-empty widget"
    assert field["/P"] is not None, "placed on a page"
    appearance = field["/AP"]["/N"].data
    assert b"Digitally signed by Report Signer" in appearance
    assert re.search(rb"\d{4}\\055\d\d\\055\d\d", appearance), "the signing date is shown"


def test_flipped_byte_breaks_pdf_signature(
    tmp_path: Path, keydir: Path, identity: SigningIdentity, report_pdf: bytes
) -> None:
    tampered = flip_in_signed_stream(sign_pdf(report_pdf, identity))
    path = tmp_path / "tampered.pdf"
    path.write_bytes(tampered)
    assert "Signature is Valid" not in pdfsig(path)
    result = verify_file(path)
    assert not result.valid
    assert "content does not match signature" in result.reason


def test_appended_bytes_invalidate(
    tmp_path: Path, keydir: Path, identity: SigningIdentity, report_pdf: bytes
) -> None:
    path = tmp_path / "appended.pdf"
    path.write_bytes(sign_pdf(report_pdf, identity) + b"\n% appended after signing\n")
    assert "Total document signed" not in pdfsig(path)
    result = verify_file(path)
    assert not result.valid
    assert result.reason == "file changed after signing: bytes appended after the last signature"


def test_incremental_update_invalidates(
    tmp_path: Path, keydir: Path, identity: SigningIdentity, report_pdf: bytes
) -> None:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    signed = sign_pdf(report_pdf, identity)
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    writer.root["/AssessorTest"] = generic.NameObject("/Changed")
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    assert len(out.getvalue()) > len(signed)
    path = tmp_path / "updated.pdf"
    path.write_bytes(out.getvalue())
    assert "Total document signed" not in pdfsig(path)
    result = verify_file(path)
    assert not result.valid
    assert "incremental update" in result.reason


def test_unsigned_pdf(tmp_path: Path, keydir: Path, report_pdf: bytes) -> None:
    path = tmp_path / "plain.pdf"
    path.write_bytes(report_pdf)
    result = verify_file(path)
    assert (result.valid, result.reason, result.kind) == (False, "no signature", "pdf")


def test_pdf_wrong_trust_anchor_and_no_anchor(
    tmp_path: Path,
    keydir: Path,
    identity: SigningIdentity,
    report_pdf: bytes,
    other_cert: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(sign_pdf(report_pdf, identity))
    wrong = verify_file(path, trust=[other_cert])
    assert not wrong.valid
    assert wrong.reason.startswith(
        "signature intact but signer CN=Report Signer,O=ACME Audit is NOT trusted ("
    )
    assert wrong.reason.endswith(f"; trust anchors: {other_cert})")
    assert wrong.trust_anchor is None, "an untrusted signature names no anchor"
    assert wrong.signer == "Report Signer (ACME Audit)"

    monkeypatch.setenv("ASSESSOR_KEY_DIR", str(tmp_path / "empty"))
    none = verify_file(path)
    assert (none.valid, none.reason) == (False, NO_ANCHOR)
    assert none.signer == "Report Signer (ACME Audit)", "the signer is still reported"
    # an explicit anchor (PEM file holding several certificates) trusts it again
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(other_cert.read_bytes() + (keydir / CERT_FILE).read_bytes())
    assert verify_file(path, trust=[bundle]).valid


def test_second_signature_on_a_signed_pdf(
    tmp_path: Path, keydir: Path, identity: SigningIdentity, report_pdf: bytes
) -> None:
    twice = sign_pdf(sign_pdf(report_pdf, identity), identity, field_page=-1)
    path = tmp_path / "twice.pdf"
    path.write_bytes(twice)
    result = verify_file(path)
    assert result.valid, result.reason
    assert len([d for d in result.details if "signer" in d]) == 2
    assert pdfsig(path).count("Signature is Valid") == 2


def test_not_a_pdf_and_bad_page(identity: SigningIdentity, report_pdf: bytes) -> None:
    with pytest.raises(AssessorError, match="not a readable PDF"):
        sign_pdf(b"%PDF-1.7\nnonsense", identity)
    with pytest.raises(AssessorError, match="page 9 does not exist"):
        sign_pdf(report_pdf, identity, field_page=9)


# -- detached CMS ----------------------------------------------------------------------------


def test_detached_signature_openssl_and_assessor_agree(
    tmp_path: Path, keydir: Path, identity: SigningIdentity, other_cert: Path
) -> None:
    data = b"<html><body><h1>Report</h1><p>\xc3\xa9 binary-safe \r\n</p></body></html>"
    signed = sign_bytes(data, identity)
    assert signed.content == data and signed.detached is not None
    report, sig = tmp_path / "report.html", tmp_path / "report.html.p7s"
    report.write_bytes(signed.content)
    sig.write_bytes(signed.detached)
    cert = keydir / CERT_FILE

    ok = openssl_verify(report, sig, cert)
    assert ok.returncode == 0, ok.stderr
    printed = subprocess.run(
        [tool("openssl"), "cms", "-cmsout", "-print", "-inform", "DER", "-in", str(sig)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "signingTime" in printed and "sha256" in printed
    assert "eContent: <ABSENT>" in printed, "detached: the content is not embedded"

    result = verify_file(report)
    assert result.valid, result.reason
    assert (result.kind, result.signature) == ("cms", sig)
    assert result.signer == "Report Signer (ACME Audit)"
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.signed_at is not None

    # another anchor: both refuse
    assert openssl_verify(report, sig, other_cert).returncode != 0
    wrong = verify_file(report, trust=[other_cert])
    assert (
        not wrong.valid and "is NOT trusted (" in wrong.reason and "trust anchors: " in wrong.reason
    )


def test_changed_file_fails_detached(
    tmp_path: Path, keydir: Path, identity: SigningIdentity
) -> None:
    data = b"line one\nline two\n" * 100
    report, sig = tmp_path / "r.csv", tmp_path / "r.csv.p7s"
    sig.write_bytes(sign_detached(data, identity))
    report.write_bytes(data[:50] + bytes([data[50] ^ 0x20]) + data[51:])
    assert openssl_verify(report, sig, keydir / CERT_FILE).returncode != 0
    result = verify_file(report)
    assert not result.valid
    assert result.reason == "content does not match signature (file changed after signing)"


def test_missing_and_explicit_signature(
    tmp_path: Path, keydir: Path, identity: SigningIdentity
) -> None:
    report = tmp_path / "r.json"
    report.write_bytes(b"{}")
    result = verify_file(report)
    assert not result.valid
    assert result.reason == f"no signature found (looked for {report}.p7s)"
    elsewhere = tmp_path / "sig.der"
    elsewhere.write_bytes(sign_detached(b"{}", identity))
    assert verify_file(report, signature=elsewhere).valid
    junk = tmp_path / "junk.p7s"
    junk.write_bytes(b"junk")
    bad = verify_file(report, signature=junk)
    assert not bad.valid and "not a CMS signature" in bad.reason
    with pytest.raises(AssessorError, match="no such signature file"):
        verify_file(report, signature=tmp_path / "absent.p7s")
    with pytest.raises(AssessorError, match="no such file"):
        verify_file(tmp_path / "absent.html")


def test_pem_encoded_detached_signature(
    tmp_path: Path, keydir: Path, identity: SigningIdentity
) -> None:
    data = b"payload"
    report = tmp_path / "p.txt"
    report.write_bytes(data)
    der = tmp_path / "p.der"
    der.write_bytes(sign_detached(data, identity))
    pem = tmp_path / "p.txt.p7s"
    argv = [tool("openssl"), "cms", "-cmsout", "-inform", "DER", "-in", str(der)]
    subprocess.run([*argv, "-outform", "PEM", "-out", str(pem)], check=True, capture_output=True)
    assert pem.read_bytes().startswith(b"-----BEGIN CMS-----")
    assert verify_file(report).valid


# -- timestamp authority ---------------------------------------------------------------------


@pytest.fixture
def tsa(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local RFC 3161 TSA over HTTP (pyHanko's DummyTimeStamper answers)."""
    from asn1crypto import keys as asn1_keys
    from asn1crypto import tsp
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    from pyhanko.sign.timestamps import DummyTimeStamper

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # DummyTimeStamper: RSA
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = tmp_path / "tsa.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    stamper = DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
    )

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            reply = stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsa", cert_path
    finally:
        server.shutdown()
        server.server_close()


def test_tsa_timestamp(
    tmp_path: Path,
    keydir: Path,
    identity: SigningIdentity,
    report_pdf: bytes,
    tsa: tuple[str, Path],
) -> None:
    url, tsa_cert = tsa
    path = tmp_path / "stamped.pdf"
    path.write_bytes(sign_pdf(report_pdf, identity, tsa_url=url))
    assert "Signature is Valid" in pdfsig(path)
    trusted = verify_file(path, trust=[keydir / CERT_FILE, tsa_cert])
    assert trusted.valid, trusted.reason
    assert any("time from timestamp authority," in d for d in trusted.details), trusted.details
    # the TSA unknown to the verifier: the signature stands, the detail says so
    untrusted_tsa = verify_file(path)
    assert untrusted_tsa.valid, untrusted_tsa.reason
    assert any(
        "timestamp authority (its certificate is not trusted" in d for d in untrusted_tsa.details
    )

    report = tmp_path / "r.html"
    report.write_bytes(b"<p>x</p>")
    (tmp_path / "r.html.p7s").write_bytes(sign_detached(b"<p>x</p>", identity, tsa_url=url))
    assert openssl_verify(report, tmp_path / "r.html.p7s", keydir / CERT_FILE).returncode == 0
    cms_result = verify_file(report, trust=[keydir / CERT_FILE, tsa_cert])
    assert cms_result.valid and any("timestamp authority," in d for d in cms_result.details)


def test_unreachable_tsa_is_a_clear_error(identity: SigningIdentity, report_pdf: bytes) -> None:
    url = f"http://127.0.0.1:{closed_port()}/tsa"
    with pytest.raises(AssessorError, match=f"timestamp authority {url} failed") as e:
        sign_pdf(report_pdf, identity, tsa_url=url)
    assert e.value.hint and "--tsa" in e.value.hint
    with pytest.raises(AssessorError, match="timestamp authority"):
        sign_detached(b"x", identity, tsa_url=url)


def closed_port() -> int:
    """A local port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# -- certificate dates -----------------------------------------------------------------------


def _expired_identity(tmp_path: Path) -> tuple[SigningIdentity, Path, dt.datetime]:
    """A key whose self-signed certificate was valid from 40 to 10 days ago."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Lapsed")])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "lapsed.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return SigningIdentity(key, cert), path, start


def test_expired_signer_certificate_is_invalid(tmp_path: Path) -> None:
    """Trust anchors' dates are not checked by pyHanko; assessor checks them, as openssl does."""
    import asyncio

    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

    from assessor.sign.cms import pyhanko_signer

    ident, cert, start = _expired_identity(tmp_path)
    report = tmp_path / "r.txt"
    report.write_bytes(b"report")
    # signed now, with a certificate that has expired
    (tmp_path / "r.txt.p7s").write_bytes(sign_detached(b"report", ident))
    now = verify_file(report, trust=[cert])
    assert not now.valid and "outside the certificate's validity" in now.reason
    assert openssl_verify(report, tmp_path / "r.txt.p7s", cert).returncode != 0
    # claims to be signed while the certificate was valid: no timestamp proves it
    attrs = PdfCMSSignedAttributes(signing_time=start + dt.timedelta(days=1))
    info = asyncio.run(
        pyhanko_signer(ident).async_sign_general_data(
            b"report", "sha256", detached=True, signed_attr_settings=attrs
        )
    )
    (tmp_path / "r.txt.p7s").write_bytes(info.dump())
    backdated = verify_file(report, trust=[cert])
    assert not backdated.valid
    assert "expired on" in backdated.reason and "no trusted timestamp" in backdated.reason
    assert openssl_verify(report, tmp_path / "r.txt.p7s", cert).returncode != 0
