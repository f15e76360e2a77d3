"""finalise, history list|verify and evaluate through the real command line, with the database
(a SQLite file, a PostgreSQL database) edited behind assessor's back."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest

from tests.conftest import run_cli, sql
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


@pytest.fixture
def db(store_url: str) -> str:
    """Each test here runs on SQLite and on PostgreSQL."""
    return store_url


def _assess(db: str, system: str, period: str) -> int:
    aid, _ = make_assessment(db, 2, period=period, system=system)
    return aid


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
    sql(
        db,
        "UPDATE result SET message='fine', status='pass' WHERE id=(SELECT min(id) FROM result "
        "WHERE assessment_id=:a AND status='fail')",
        a=a2,
    )
    r = run_cli("history", "verify", "--system", "payments", db=db)
    assert r.code == 1, r.out
    ((uuid2,),) = sql(db, "SELECT uuid FROM assessment WHERE id=:a", a=a2)
    assert f"assessment {a2} (uuid {uuid2}, period 2026-Q4): content-changed" in r.out
    assert f"assessment {a1} " not in r.out.split("BROKEN")[1]

    # delete the first finalised assessment (foreign keys on: its results go too)
    sql(db, "DELETE FROM assessment WHERE id=:a", a=a1)
    r = run_cli("history", "verify", "--format", "json", db=db)
    assert r.code == 1
    doc = r.json()
    assert doc["intact"] is False
    problems = [(b["assessment"], b["problem"]) for b in doc["systems"][0]["breaks"]]
    assert problems == [(a2, "content-changed"), (a2, "chain-broken")]


def test_verify_detects_an_edited_evidence_body(db: str) -> None:
    a1 = _assess(db, "payments", "2026-Q4")
    assert run_cli("finalise", str(a1), "--by", "Alice", db=db).code == 0
    ((h, body),) = sql(db, "SELECT hash, body FROM evidence ORDER BY hash LIMIT 1")
    doc = json.loads(zlib.decompress(body))
    doc["data"]["HostConfig"]["Privileged"] = False
    body = zlib.compress(json.dumps(doc).encode())
    sql(db, "UPDATE evidence SET body=:body WHERE hash=:h", body=body, h=h)
    r = run_cli("history", "verify", db=db)
    assert r.code == 1
    assert f"evidence-changed: evidence {h[:16]} was changed" in r.out


def test_finalise_refuses_an_incomplete_assessment(db: str) -> None:
    a1 = _assess(db, "payments", "2026-Q4")
    sql(db, "UPDATE assessment SET status='incomplete' WHERE id=:a", a=a1)
    r = run_cli("finalise", str(a1), "--by", "Alice", db=db)
    assert r.code == 2 and "only a complete assessment" in r.err
    r = run_cli("finalise", "--db", db)  # --by is required
    assert r.code == 2


def test_evaluate_with_an_added_rule_makes_a_new_assessment(db: str, tmp_path: Path) -> None:
    a1 = _assess(db, "payments", "2026-Q4")
    assert run_cli("finalise", str(a1), "--by", "Alice", db=db).code == 0
    results = (
        "SELECT rule, resource, status, message FROM result WHERE assessment_id=:a ORDER BY id"
    )
    before = sql(db, results, a=a1)
    ((evidence,),) = sql(db, "SELECT count(*) FROM evidence")
    rules = tmp_path / "org" / "rules" / "container"
    rules.mkdir(parents=True)
    (rules / "org-container-named-prod.yaml").write_text(EXTRA_RULE)

    r = run_cli("evaluate", str(a1), "--controls", str(tmp_path / "org"), db=db)
    assert r.code == 0, r.err
    a2 = a1 + 1
    assert f"assessment {a2}: re-evaluated from assessment {a1} with catalog sha256:" in r.out
    assert f"assessment {a2} (2026-Q4, complete)" in r.out
    assert "org-container-named-prod" in r.out  # both containers fail it: shown in the table

    assert sql(db, results, a=a1) == before
    new = sql(
        db,
        "SELECT rule, status FROM result WHERE assessment_id=:a AND rule=:r",
        a=a2,
        r="org-container-named-prod",
    )
    assert sorted(new) == [("org-container-named-prod", "fail")] * 2
    ((n_new,),) = sql(db, "SELECT count(*) FROM result WHERE assessment_id=:a", a=a2)
    assert n_new == len(before) + 2
    assert sql(db, "SELECT count(*) FROM evidence") == [(evidence,)]
    (row,) = sql(db, "SELECT system, period, note, finalised_at FROM assessment WHERE id=:a", a=a2)
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
