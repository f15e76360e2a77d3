"""``assessor attest`` as a user runs it: evidence stored by hash, the report's requirement
status moves from manual to the attested answer."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.conftest import run_cli, sql
from tests.reportdata import make_assessment


@pytest.fixture
def stored(store_url: str) -> str:
    """An assessment of 2 containers, on SQLite and on PostgreSQL."""
    make_assessment(store_url, 2, period="2026-Q4")
    return store_url


def _status(html: str, anchor: str) -> str:
    i = html.index(f'id="{anchor}"')
    j = html.index('<span class="badge ', i)
    return html[j + len('<span class="badge ') : html.index('"', j + 20)]


def test_attest_with_evidence_changes_the_report(tmp_path: Path, stored: str) -> None:
    before = tmp_path / "before.html"
    assert run_cli("report", "-o", str(before), db=stored).code == 0
    assert _status(before.read_text(), "req-cis-docker-1.8.0-5.9") == "manual"

    ev = tmp_path / "ports <review>.txt"
    ev.write_bytes(b"80/tcp only\n")
    sha = hashlib.sha256(b"80/tcp only\n").hexdigest()
    r = run_cli(
        "attest", "cis-docker-1.8.0:5.9", "--status", "pass", "--by", "Jane <Auditor>",
        "--note", "only 80/tcp published", "--evidence", str(ev), "--evidence", str(ev),
        "--period", "2026-Q4", db=stored,
    )  # fmt: skip
    assert r.code == 0, r.err
    aid = r.out.strip()
    assert aid.isdigit()

    assert sql(stored, "SELECT sha256, size FROM attachment") == [(sha, 12)]

    after = tmp_path / "after.html"
    assert run_cli("report", "-o", str(after), db=stored).code == 0
    html = after.read_text()
    assert _status(html, "req-cis-docker-1.8.0-5.9") == "pass"
    assert f'id="attestation-{aid}"' in html
    assert "Jane &lt;Auditor&gt;" in html and "<Auditor>" not in html
    assert "ports &lt;review&gt;.txt" in html and sha in html
    assert "1 manual attestation." in html  # the executive summary's count


def test_attestation_of_another_period_or_system_does_not_apply(
    tmp_path: Path, stored: str
) -> None:
    for extra in (["--period", "2026-Q3"], ["--period", "2026-Q4", "--system", "payments"]):
        r = run_cli("attest", "5.9", "--framework", "cis-docker-1.8.0", "--status", "fail",
                    "--by", "j", "--note", "n", *extra, db=stored)  # fmt: skip
        assert r.code == 0, r.err
    out = tmp_path / "r.html"
    assert run_cli("report", "-o", str(out), db=stored).code == 0
    assert _status(out.read_text(), "req-cis-docker-1.8.0-5.9") == "manual"


def test_attested_fail_fails_the_requirement(tmp_path: Path, stored: str) -> None:
    r = run_cli("attest", "nistir-8176:5.2.4", "--status", "fail", "--by", "j",
                "--note", "ssh port open", "--period", "2026-Q4", db=stored)  # fmt: skip
    assert r.code == 0, r.err
    out = tmp_path / "r.html"
    assert run_cli("report", "-o", str(out), db=stored).code == 0
    assert _status(out.read_text(), "req-nistir-8176-5.2.4") == "fail"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nistir-8176:5.2.4", "--status", "pass", "--by", "j"], "Missing option '--note'"),
        (["nistir-8176:5.2.4", "--status", "maybe", "--by", "j", "--note", "n"], "maybe"),
        (["nistir-8176:nope", "--status", "pass", "--by", "j", "--note", "n"], "no requirement"),
        (["5.2.4", "--status", "pass", "--by", "j", "--note", "n"], "FRAMEWORK:ID"),
        (["cis-docker-1.8.0:5.11", "--status", "pass", "--by", "j", "--note", "n"], "automated"),
        (
            [
                "nistir-8176:5.2.4",
                "--status",
                "pass",
                "--by",
                "j",
                "--note",
                "n",
                "--period",
                "2026-Q5",
            ],
            "period",
        ),
        (
            [
                "nistir-8176:5.2.4",
                "--status",
                "pass",
                "--by",
                "j",
                "--note",
                "n",
                "--evidence",
                "missing.txt",
            ],
            "missing.txt",
        ),
        (
            [
                "nistir-8176:5.2.4",
                "--status",
                "pass",
                "--by",
                "j",
                "--note",
                "n",
                "--evidence",
                "big.bin",
            ],
            "larger than 20 MiB",
        ),
    ],
)
def test_bad_attestations_exit_2(tmp_path: Path, db: str, args: list[str], message: str) -> None:
    with (tmp_path / "big.bin").open("wb") as f:
        f.truncate((20 << 20) + 1)
    r = run_cli("attest", *args, db=db, cwd=tmp_path)
    assert r.code == 2, r.err
    assert message in r.err and "Traceback" not in r.err
