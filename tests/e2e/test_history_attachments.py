"""history verify re-hashes the files attached to frozen attestations (issue 17, item 11)."""

from __future__ import annotations

import sqlite3
import zlib
from pathlib import Path

from tests.conftest import run_cli
from tests.reportdata import make_assessment


def _path(db: str) -> Path:
    return Path(db.removeprefix("sqlite:///"))


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

    con = sqlite3.connect(_path(db))
    (sha,) = con.execute("SELECT sha256 FROM attachment").fetchone()
    con.execute("UPDATE attachment SET body = ? WHERE sha256 = ?", (zlib.compress(b"forged"), sha))
    con.commit()
    r = run_cli("history", "verify", db=db)
    assert r.code == 1, r.out + r.err
    line = next(ln for ln in r.out.splitlines() if "attachment-changed" in ln)
    assert f"assessment {aid} " in line
    assert f"attachment 'firewall-export.txt' (sha256 {sha[:16]})" in line
    assert "cis-docker-1.8.0:5.9" in line
    doc = run_cli("history", "verify", "--format", "json", db=db).json()
    breaks = [b for c in doc["systems"] for b in c["breaks"]]
    assert {(b["assessment"], b["problem"]) for b in breaks} == {(aid, "attachment-changed")}

    con.execute("DELETE FROM attachment WHERE sha256 = ?", (sha,))
    con.commit()
    con.close()
    r = run_cli("history", "verify", db=db)
    assert r.code == 1 and "attachment-missing" in r.out, r.out + r.err
