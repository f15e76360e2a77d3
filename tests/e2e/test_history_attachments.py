"""history verify re-hashes the files attached to frozen attestations (issue 17, item 11)."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from tests.conftest import run_cli, sql
from tests.reportdata import make_assessment


@pytest.fixture
def db(store_url: str) -> str:
    """Each test here runs on SQLite and on PostgreSQL."""
    return store_url


def test_verify_detects_a_changed_or_missing_attachment(db: str, tmp_path: Path) -> None:
    aid, _ = make_assessment(db, 2, period="2026-Q4")
    evidence = tmp_path / "firewall-export.txt"
    evidence.write_bytes(b"only 80/tcp and 443/tcp are published\n")
    r = run_cli(
        "attest", "cis-docker-1.8.0:5.9", "--status", "pass", "--by", "Jane Auditor",
        "--note", "reviewed", "--evidence", str(evidence), "--period", "2026-Q4", db=db,
    )  # fmt: skip
    assert r.code == 0, r.err
    assert run_cli("finalise", str(aid), "--by", "Alice", db=db).code == 0
    r = run_cli("history", "verify", db=db)
    assert r.code == 0, r.out + r.err

    ((sha,),) = sql(db, "SELECT sha256 FROM attachment")
    sql(db, "UPDATE attachment SET body = :b WHERE sha256 = :h", b=zlib.compress(b"forged"), h=sha)
    r = run_cli("history", "verify", db=db)
    assert r.code == 1, r.out + r.err
    line = next(ln for ln in r.out.splitlines() if "attachment-changed" in ln)
    assert f"assessment {aid} " in line
    assert f"attachment 'firewall-export.txt' (sha256 {sha[:16]})" in line
    assert "cis-docker-1.8.0:5.9" in line
    doc = run_cli("history", "verify", "--format", "json", db=db).json()
    breaks = [b for c in doc["systems"] for b in c["breaks"]]
    assert {(b["assessment"], b["problem"]) for b in breaks} == {(aid, "attachment-changed")}

    sql(db, "DELETE FROM attachment WHERE sha256 = :h", h=sha)
    r = run_cli("history", "verify", db=db)
    assert r.code == 1 and "attachment-missing" in r.out, r.out + r.err
