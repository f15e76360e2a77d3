"""``assessor report`` as a user runs it: formats, signing, verification, bad input."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.conftest import missing, run_cli
from tests.reportdata import make_assessment

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def stored(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    make_assessment(url, 3)
    return url


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, str]:
    env = {"ASSESSOR_KEY_DIR": str(tmp_path / "keys")}
    r = run_cli("keys", "init", "--organisation", "Example Org", env=env)
    assert r.code == 0, r.err
    return env


def _rows(db: str) -> list[tuple[str, str, int, str | None]]:
    con = sqlite3.connect(db.removeprefix("sqlite:///"))
    try:
        return con.execute("SELECT format, sha256, size, signature FROM report").fetchall()
    finally:
        con.close()


def test_no_assessment_is_a_one_line_error(tmp_path: Path, db: str) -> None:
    r = run_cli("report", "-o", str(tmp_path / "r.html"), db=db)
    assert r.code == 2
    assert r.err.startswith("assessor: error: no assessment stored yet")
    assert "Traceback" not in r.err
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "r.txt"], "give --format html|pdf"),
        (["-o", "no/such/dir/r.html"], "no such directory"),
        (["-o", "r.html", "--framework", "nope"], "no framework 'nope'"),
        (["-o", "r.html", "--logo", "logo.svg"], "must be a PNG or JPEG"),
        (["-o", "r.html", "--logo", "missing.png"], "cannot read the logo"),
        (["-o", "r.html", "--sign"], "signing-key.pem"),
        (["-o", "r.html", "nope"], "no assessment 'nope'"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    tmp_path: Path, stored: str, args: list[str], message: str
) -> None:
    (tmp_path / "logo.svg").write_text("<svg><script>alert(1)</script></svg>")
    r = run_cli(
        "report", *args, db=stored, cwd=tmp_path, env={"ASSESSOR_KEY_DIR": str(tmp_path / "k")}
    )
    assert r.code == 2, r.err
    assert message in r.err
    assert "Traceback" not in r.err
    assert "Usage:" in r.err or len(r.err.strip().splitlines()) <= 2
    assert not list(tmp_path.glob("r.*"))


def test_html_signed_verified_by_assessor_and_openssl_and_tamper_detected(
    tmp_path: Path, stored: str, keys: dict[str, str]
) -> None:
    out = tmp_path / "r.html"
    (tmp_path / "logo.png").write_bytes(PNG)
    r = run_cli(
        "report", "--format", "html", "--sign", "-o", str(out), "--logo",
        str(tmp_path / "logo.png"), "--organisation", "Example Org", db=stored, env=keys,
    )  # fmt: skip
    assert r.code == 0, r.err
    sig = tmp_path / "r.html.p7s"
    assert sig.is_file()
    html = out.read_text()
    assert "data:image/png;base64," in html
    assert "Example Org" in html
    assert run_cli("verify", str(out), env=keys).code == 0
    if shutil.which("openssl") is None:
        missing("openssl")
    cert = Path(keys["ASSESSOR_KEY_DIR"]) / "signing-cert.pem"
    cmd = ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(sig),
           "-content", str(out), "-CAfile", str(cert), "-purpose", "any", "-out", "/dev/null"]  # fmt: skip
    assert subprocess.run(cmd, capture_output=True, check=False).returncode == 0
    # the report table knows the file by its hash and signer
    ((fmt, sha, size, signature),) = _rows(stored)
    assert (fmt, sha, size) == (
        "html",
        hashlib.sha256(out.read_bytes()).hexdigest(),
        out.stat().st_size,
    )
    assert '"kind": "cms"' in signature and "Example Org" in signature
    # one byte changed: both verifiers refuse
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0x01
    out.write_bytes(bytes(data))
    bad = run_cli("verify", str(out), env=keys)
    assert bad.code == 1
    assert "changed after signing" in bad.out
    assert subprocess.run(cmd, capture_output=True, check=False).returncode != 0
    # an unsigned report written over it removes the signature that no longer matches
    assert run_cli("report", "-o", str(out), db=stored).code == 0
    assert not sig.exists()
    assert run_cli("verify", str(out), env=keys).code == 1


def test_pdf_signed_pdfsig_agrees_and_tamper_detected(
    tmp_path: Path, stored: str, keys: dict[str, str]
) -> None:
    if shutil.which("pdfsig") is None:
        missing("pdfsig (poppler-utils)")
    out = tmp_path / "r.pdf"
    r = run_cli("report", "--sign", "-o", str(out), "--framework", "sp800-190", db=stored, env=keys)
    assert r.code == 0, r.err
    assert out.read_bytes().startswith(b"%PDF-")
    sig = subprocess.run(["pdfsig", str(out)], capture_output=True, text=True, check=False)
    assert "Signature is Valid" in sig.stdout
    assert "Total document signed" in sig.stdout
    ok = run_cli("verify", str(out), env=keys)
    assert ok.code == 0, ok.out
    assert "Example Org" in ok.out
    tampered = tmp_path / "t.pdf"
    data = bytearray(out.read_bytes())
    pos = data.index(b"SP 800-190") if b"SP 800-190" in data else len(data) // 3
    data[pos] ^= 0x01
    tampered.write_bytes(bytes(data))
    sig = subprocess.run(["pdfsig", str(tampered)], capture_output=True, text=True, check=False)
    assert "Signature is Valid" not in sig.stdout
    assert run_cli("verify", str(tampered), env=keys).code == 1
    # a different trust anchor: valid signature, untrusted signer
    other = tmp_path / "other"
    assert run_cli("keys", "init", env={"ASSESSOR_KEY_DIR": str(other)}).code == 0
    r = run_cli("verify", str(out), "--trust", str(other / "signing-cert.pem"))
    assert r.code == 1


def test_wrong_passphrase_stops_before_writing(tmp_path: Path, stored: str) -> None:
    env = {"ASSESSOR_KEY_DIR": str(tmp_path / "k"), "ASSESSOR_KEY_PASSPHRASE": "correct horse"}
    assert run_cli("keys", "init", env=env).code == 0
    env["ASSESSOR_KEY_PASSPHRASE"] = "wrong"
    r = run_cli("report", "--sign", "-o", str(tmp_path / "r.pdf"), db=stored, env=env)
    assert r.code == 2
    assert "passphrase" in r.err.lower()
    assert "Traceback" not in r.err
    assert not (tmp_path / "r.pdf").exists()
    assert _rows(stored) == []
