"""finalise, history list|verify and evaluate through the real command line, with the SQLite
file edited behind assessor's back."""

from __future__ import annotations

import json
import sqlite3
import zlib
from pathlib import Path

from tests.conftest import run_cli
from tests.reportdata import make_assessment

EXTRA_RULE = """\
id: org-container-named-prod
title: Containers carry the org naming prefix
description: Every container name starts with prod-.
rationale: Naming makes ownership visible.
impact: None.
severity: low
target: container
evidence:
- Name
check:
  evidence: Name
  op: regex
  value: '^/prod-'
message: '{resource} is named {value}'
audit: docker ps --format '{{.Names}}'
remediation: Rename the container.
default_value: Any name.
"""


def _path(db: str) -> Path:
    return Path(db.removeprefix("sqlite:///"))


def _assess(db: str, system: str, period: str) -> int:
    aid, _ = make_assessment(db, 2, period=period)
    with sqlite3.connect(_path(db)) as con:
        con.execute("UPDATE assessment SET system=? WHERE id=?", (system, aid))
    return aid


def _sql(db: str, statement: str, *args: object) -> None:
    con = sqlite3.connect(_path(db))
    con.execute("PRAGMA foreign_keys=ON")
    con.execute(statement, args)
    con.commit()
    con.close()


def test_finalise_chain_and_verify_after_tampering(db: str) -> None:
    a1 = _assess(db, "payments", "2026-Q3")
    a2 = _assess(db, "payments", "2026-Q4")
    r = run_cli("finalise", str(a1), "--by", "Alice Auditor", db=db)
    assert r.code == 0, r.err
    d1 = r.out.split("digest:")[1].split()[0]
    assert "previous digest: none" in r.out
    r = run_cli("finalise", str(a2), "--by", "Bob", db=db)
    assert r.code == 0, r.err
    assert f"previous digest: {d1} (assessment {a1})" in r.out
    r = run_cli("finalise", str(a2), "--by", "Bob", db=db)
    assert r.code == 2 and "was finalised on" in r.err
    assert r.err.startswith("assessor: error: assessment") and "Traceback" not in r.err

    r = run_cli("history", "verify", db=db)
    assert r.code == 0, r.out + r.err
    assert "system payments: intact, 2 finalised assessments" in r.out
    r = run_cli("history", "list", "--format", "json", db=db)
    assert r.code == 0
    (chain,) = r.json()["systems"]
    assert [e["id"] for e in chain["assessments"]] == [a1, a2]
    assert chain["assessments"][1]["previous_digest"] == d1

    # edit a finalised result's message in the file
    _sql(
        db,
        "UPDATE result SET message='fine', status='pass' WHERE id=(SELECT min(id) FROM result "
        "WHERE assessment_id=? AND status='fail')",
        a2,
    )
    r = run_cli("history", "verify", "--system", "payments", db=db)
    assert r.code == 1, r.out
    uuid2 = (
        sqlite3.connect(_path(db))
        .execute("SELECT uuid FROM assessment WHERE id=?", (a2,))
        .fetchone()[0]
    )
    assert f"assessment {a2} (uuid {uuid2}, period 2026-Q4): content-changed" in r.out
    assert f"assessment {a1} " not in r.out.split("BROKEN")[1]

    # delete the first finalised assessment (foreign keys on: its results go too)
    _sql(db, "DELETE FROM assessment WHERE id=?", a1)
    r = run_cli("history", "verify", "--format", "json", db=db)
    assert r.code == 1
    doc = r.json()
    assert doc["intact"] is False
    problems = [(b["assessment"], b["problem"]) for b in doc["systems"][0]["breaks"]]
    assert problems == [(a2, "content-changed"), (a2, "chain-broken")]


def test_verify_detects_an_edited_evidence_body(db: str) -> None:
    a1 = _assess(db, "payments", "2026-Q4")
    assert run_cli("finalise", str(a1), "--by", "Alice", db=db).code == 0
    con = sqlite3.connect(_path(db))
    h, body = con.execute("SELECT hash, body FROM evidence ORDER BY hash LIMIT 1").fetchone()
    doc = json.loads(zlib.decompress(body))
    doc["data"]["HostConfig"]["Privileged"] = False
    con.execute(
        "UPDATE evidence SET body=? WHERE hash=?", (zlib.compress(json.dumps(doc).encode()), h)
    )
    con.commit()
    con.close()
    r = run_cli("history", "verify", db=db)
    assert r.code == 1
    assert f"evidence-changed: evidence {h[:16]} was changed" in r.out


def test_finalise_refuses_an_incomplete_assessment(db: str) -> None:
    a1 = _assess(db, "payments", "2026-Q4")
    _sql(db, "UPDATE assessment SET status='incomplete' WHERE id=?", a1)
    r = run_cli("finalise", str(a1), "--by", "Alice", db=db)
    assert r.code == 2 and "only a complete assessment" in r.err
    r = run_cli("finalise", "--db", db)  # --by is required
    assert r.code == 2


def test_evaluate_with_an_added_rule_makes_a_new_assessment(db: str, tmp_path: Path) -> None:
    a1 = _assess(db, "payments", "2026-Q4")
    assert run_cli("finalise", str(a1), "--by", "Alice", db=db).code == 0
    con = sqlite3.connect(_path(db))
    before = con.execute(
        "SELECT rule, resource, status, message FROM result WHERE assessment_id=? ORDER BY id",
        (a1,),
    ).fetchall()
    evidence = con.execute("SELECT count(*) FROM evidence").fetchone()[0]
    con.close()
    rules = tmp_path / "org" / "rules" / "container"
    rules.mkdir(parents=True)
    (rules / "org-container-named-prod.yaml").write_text(EXTRA_RULE)

    r = run_cli("evaluate", str(a1), "--controls", str(tmp_path / "org"), db=db)
    assert r.code == 0, r.err
    a2 = a1 + 1
    assert f"assessment {a2}: re-evaluated from assessment {a1} with catalog sha256:" in r.out
    assert f"assessment {a2} (2026-Q4, complete)" in r.out
    assert "org-container-named-prod" in r.out  # both containers fail it: shown in the table

    con = sqlite3.connect(_path(db))
    after_old = con.execute(
        "SELECT rule, resource, status, message FROM result WHERE assessment_id=? ORDER BY id",
        (a1,),
    ).fetchall()
    assert after_old == before
    new = con.execute(
        "SELECT rule, status FROM result WHERE assessment_id=? AND rule=?",
        (a2, "org-container-named-prod"),
    ).fetchall()
    assert sorted(new) == [("org-container-named-prod", "fail")] * 2
    n_new = con.execute("SELECT count(*) FROM result WHERE assessment_id=?", (a2,)).fetchone()[0]
    assert n_new == len(before) + 2
    assert con.execute("SELECT count(*) FROM evidence").fetchone()[0] == evidence
    row = con.execute(
        "SELECT system, period, note, finalised_at FROM assessment WHERE id=?", (a2,)
    ).fetchone()
    con.close()
    assert row[0] == "payments" and row[1] == "2026-Q4" and row[3] is None
    assert row[2].startswith(f"re-evaluated from assessment {a1} with catalog sha256:")

    r = run_cli("history", "verify", db=db)
    assert r.code == 0, r.out  # the finalised source is untouched
    r = run_cli("evaluate", str(a1), "--period", "2027-Q1", db=db)
    assert r.code == 0 and "(2027-Q1, complete)" in r.out
    r = run_cli("evaluate", "999", db=db)
    assert r.code == 2 and "no assessment '999'" in r.err
    r = run_cli("evaluate", str(a1), "--period", "Q1", db=db)
    assert r.code == 2 and "period 'Q1'" in r.err
