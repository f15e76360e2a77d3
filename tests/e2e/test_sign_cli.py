"""``assessor keys`` and ``assessor verify`` as a user runs them (a real subprocess)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, Run, run_cli


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"ASSESSOR_KEY_DIR": str(tmp_path / "keys"), "ASSESSOR_KEY_PASSPHRASE": ""}


def cli_stdin(stdin: str, *args: str, env: dict[str, str]) -> Run:
    proc = subprocess.run(
        [sys.executable, "-m", "assessor", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        cwd=ROOT,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def one_line_error(run: Run) -> str:
    """The error a user sees: exit 2, no traceback, starting with 'assessor: error:'."""
    assert run.code == 2, (run.code, run.out, run.err)
    assert "Traceback" not in run.err
    assert run.err.startswith("assessor: error: "), run.err
    return run.err.splitlines()[0]


def sign_with_library(src: bytes, out: Path, env: dict[str, str], passphrase: str = "") -> None:
    """Sign as `assessor report --sign` will: sign_bytes over the exact bytes written."""
    code = (
        "import sys; from pathlib import Path; from assessor.sign import sign_bytes;"
        "from assessor.sign.keys import load_identity;"
        "out = Path(sys.argv[1]); s = sign_bytes(sys.stdin.buffer.read(), load_identity());"
        "out.write_bytes(s.content);"
        "s.detached is None or out.with_name(out.name + '.p7s').write_bytes(s.detached)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        input=src,
        capture_output=True,
        env={**os.environ, **env, "ASSESSOR_KEY_PASSPHRASE": passphrase},
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()


def test_keys_init_show_and_refuse_overwrite(tmp_path: Path, env: dict[str, str]) -> None:
    run = run_cli("keys", "init", "--organisation", "ACME Audit", env=env)
    assert run.code == 0, run.err
    keydir = tmp_path / "keys"
    key = keydir / "signing-key.pem"
    assert f"{key} (mode 0600, NOT encrypted" in run.out
    assert "CN=assessor report signing (" in run.out and "O=ACME Audit" in run.out
    fp = next(line for line in run.out.splitlines() if line.startswith("SHA-256:"))
    assert len(fp.split()[1].split(":")) == 32
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "PRIVATE KEY" not in run.out + run.err, "key material is never printed"

    shown = run_cli("keys", "show", env=env)
    assert shown.code == 0, shown.err
    assert (
        fp in shown.out and "mode 0600, not encrypted" in shown.out and "self-signed" in shown.out
    )

    again = run_cli("keys", "init", env=env)
    assert one_line_error(again) == f"assessor: error: {key} already exists"
    assert "--force" in again.err
    forced = run_cli("keys", "init", "--force", "--name", "Jane Auditor", env=env)
    assert forced.code == 0, forced.err
    assert "CN=Jane Auditor" in forced.out and fp not in forced.out


def test_keys_init_passphrase_from_stdin(tmp_path: Path, env: dict[str, str]) -> None:
    run = cli_stdin("hunter2\n", "keys", "init", "--passphrase-stdin", env=env)
    assert run.code == 0, run.err
    assert "encrypted)" in run.out and "hunter2" not in run.out + run.err
    assert b"ENCRYPTED PRIVATE KEY" in (tmp_path / "keys/signing-key.pem").read_bytes()
    empty = cli_stdin("\n", "keys", "init", "--force", "--passphrase-stdin", env=env)
    assert "empty passphrase" in one_line_error(empty)


def test_keys_init_imports_pkcs12(tmp_path: Path, env: dict[str, str]) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    from assessor.sign.keys import init_keys, load_identity

    src = tmp_path / "org"
    init_keys(src, common_name="Org Signer", organisation="Org", passphrase=None)
    ident = load_identity(key=src / "signing-key.pem", cert=src / "signing-cert.pem")
    p12 = tmp_path / "org.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"org",
            ident.private_key,
            ident.certificate,
            None,
            serialization.BestAvailableEncryption(b"p12pw"),
        )
    )
    wrong = run_cli(
        "keys", "init", "--pkcs12", str(p12), env={**env, "ASSESSOR_KEY_PASSPHRASE": "x"}
    )
    assert "cannot open PKCS#12" in one_line_error(wrong)
    ok = run_cli(
        "keys", "init", "--pkcs12", str(p12), env={**env, "ASSESSOR_KEY_PASSPHRASE": "p12pw"}
    )
    assert ok.code == 0, ok.err
    assert "CN=Org Signer" in ok.out
    both = run_cli("keys", "init", "--pkcs12", str(p12), "--name", "x", env=env)
    assert "apply only to a new key" in one_line_error(both)


def test_verify_pdf_and_html(tmp_path: Path, env: dict[str, str]) -> None:
    import weasyprint

    assert run_cli("keys", "init", "--name", "Report Signer", env=env).code == 0
    pdf = tmp_path / "report.pdf"
    sign_with_library(weasyprint.HTML(string="<h1>Report</h1>").write_pdf(), pdf, env)
    html = tmp_path / "report.html"
    sign_with_library(b"<h1>Report</h1>", html, env)
    assert (tmp_path / "report.html.p7s").is_file()

    for path, kind in ((pdf, "PDF (PAdES)"), (html, "detached CMS")):
        run = run_cli("verify", str(path), env=env)
        assert run.code == 0, run.out + run.err
        assert run.out.startswith("VALID\n")
        assert "Report Signer" in run.out and kind in run.out
        doc = json.loads(run_cli("verify", str(path), "--format", "json", env=env).out)
        assert doc["valid"] is True and doc["signer"] == "Report Signer"
        assert doc["kind"] == ("pdf" if path == pdf else "cms")
        assert doc["signed_at"].endswith("Z") and len(doc["sha256"]) == 64

    html.write_bytes(html.read_bytes().replace(b"Report", b"Rep0rt"))
    bad = run_cli("verify", str(html), env=env)
    assert bad.code == 1
    assert bad.out.startswith("INVALID\n")
    assert "content does not match signature (file changed after signing)" in bad.out


def test_verify_trust_and_errors(tmp_path: Path, env: dict[str, str]) -> None:
    assert run_cli("keys", "init", env=env).code == 0
    report = tmp_path / "r.csv"
    sign_with_library(b"a,b\n1,2\n", report, env)
    other = {"ASSESSOR_KEY_DIR": str(tmp_path / "other"), "ASSESSOR_KEY_PASSPHRASE": ""}
    assert run_cli("keys", "init", "--name", "Mallory", env=other).code == 0
    mallory = tmp_path / "other/signing-cert.pem"

    untrusted = run_cli("verify", str(report), "--trust", str(mallory), env=env)
    assert untrusted.code == 1
    assert re.search(r"reason: +signature intact but signer CN=.+ is NOT trusted \(", untrusted.out)
    assert f"trust anchors: {mallory})" in untrusted.out
    assert "trust anchor: none: the signer is NOT trusted" in untrusted.out
    doc = json.loads(
        run_cli("verify", str(report), "--trust", str(mallory), "--format", "json", env=env).out
    )
    assert doc["valid"] is False and doc["trust_anchor"] is None and "NOT trusted" in doc["reason"]

    no_anchor = run_cli("verify", str(report), env={**env, "ASSESSOR_KEY_DIR": str(tmp_path / "x")})
    assert no_anchor.code == 1
    assert "signature intact, but no trust anchor: give --trust CERT" in no_anchor.out

    trusted = run_cli(
        "verify",
        str(report),
        "--trust",
        str(mallory),
        "--trust",
        str(tmp_path / "keys/signing-cert.pem"),
        env=other,
    )
    assert trusted.code == 0, trusted.out

    nosig = tmp_path / "plain.txt"
    nosig.write_text("x")
    missing_sig = run_cli("verify", str(nosig), env=env)
    assert (
        missing_sig.code == 1 and f"no signature found (looked for {nosig}.p7s)" in missing_sig.out
    )

    assert "no such file" in one_line_error(
        run_cli("verify", str(tmp_path / "absent.pdf"), env=env)
    )
    assert "not found" in one_line_error(
        run_cli("verify", str(report), "--trust", str(tmp_path / "absent.pem"), env=env)
    )
