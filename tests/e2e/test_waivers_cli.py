"""``assessor waive``, ``waivers list|show|revoke|import`` and ``scan --waivers`` as a user
runs them; ``results`` and the HTML report show what a waiver does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import run_cli, sql
from tests.reportdata import make_assessment

RULE = "container-memory-limited"


def _day(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


@pytest.fixture
def stored(store_url: str) -> str:
    """An assessment of 3 containers, on SQLite and on PostgreSQL."""
    make_assessment(store_url, 3)
    return store_url


def _waive(db: str, *extra: str) -> str:
    r = run_cli(
        "waive", RULE, "--resource", "bench-0000[01]*", "--reason",
        "batch <b>jobs</b> size themselves", "--approver", "ciso", "--expires", _day(30),
        "--compensating", "node cgroup quota", *extra, db=db,
    )  # fmt: skip
    assert r.code == 0, r.err
    return r.out.strip()


def test_waive_results_and_report_show_waived(tmp_path: Path, stored: str) -> None:
    wid = _waive(stored)
    assert wid.isdigit()
    doc = run_cli("results", "--format", "json", db=stored).json()
    mine = [r for r in doc["results"] if r["rule"] == RULE]
    waived = [r for r in mine if r["status"] == "waived"]
    assert len(mine) == 3 and len(waived) == 2
    assert all(r["raw_status"] == "fail" and r["waiver"]["id"] == int(wid) for r in waived)
    assert waived[0]["waiver"]["reason"] == "batch <b>jobs</b> size themselves"
    assert [r["status"] for r in mine if r not in waived] == ["fail"]

    only = run_cli("results", "--status", "waived", "--format", "json", db=stored).json()
    assert {r["resource"][:11] for r in only["results"]} == {"bench-00000", "bench-00001"}
    fails = run_cli("results", "--status", "fail", "--format", "json", db=stored).json()
    assert not [r for r in fails["results"] if r["status"] != "fail"]
    table = run_cli("results", "--status", "waived", db=stored)
    assert table.code == 0 and "2 waived" in table.out and "approved by ciso" in table.out

    # the stored result is never changed
    assert sql(stored, "SELECT DISTINCT status FROM result WHERE rule = :r", r=RULE) == [("fail",)]

    out = tmp_path / "r.html"
    r = run_cli("report", "-o", str(out), db=stored)
    assert r.code == 0, r.err
    html = out.read_text()
    assert "batch &lt;b&gt;jobs&lt;/b&gt; size themselves" in html
    assert "<b>jobs</b>" not in html
    assert f'id="waiver-{wid}"' in html and "Compensating control:" in html
    assert 'id="waivers"' in html and 'href="#waivers"' in html
    assert "1 open waiver, covering 2 failing results" in html  # the executive summary


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reason", "r", "--expires", _day(5)], "Missing option '--approver'"),
        (["--approver", "a", "--expires", _day(5)], "Missing option '--reason'"),
        (["--reason", "r", "--approver", "a"], "Missing option '--expires'"),
        (["--reason", " ", "--approver", "a", "--expires", _day(5)], "reason must not be empty"),
        (["--reason", "r", "--approver", "", "--expires", _day(5)], "approver must not be empty"),
        (["--reason", "r", "--approver", "a", "--expires", _day(-1)], "in the past"),
        (["--reason", "r", "--approver", "a", "--expires", _day(400)], "more than 366 days"),
        (["--reason", "r", "--approver", "a", "--expires", "31/12/2026"], "YYYY-MM-DD"),
    ],
)
def test_waive_refuses_with_exit_2(db: str, args: list[str], message: str) -> None:
    r = run_cli("waive", RULE, *args, db=db)
    assert r.code == 2, r.err
    assert message in r.err and "Traceback" not in r.err
    assert run_cli("waivers", "list", "--all", "--format", "json", db=db).json() == {"waivers": []}


def test_unknown_rule_refused_and_long_expiry_allowed_on_request(db: str) -> None:
    r = run_cli("waive", "no-such-rule", "--reason", "r", "--approver", "a",
                "--expires", _day(5), db=db)  # fmt: skip
    assert r.code == 2 and "no rule 'no-such-rule'" in r.err
    r = run_cli("waive", RULE, "--reason", "r", "--approver", "a", "--expires", _day(400),
                "--allow-long", db=db)  # fmt: skip
    assert r.code == 0, r.err


def test_list_show_revoke(stored: str) -> None:
    wid = _waive(stored)
    listed = run_cli("waivers", "list", "--format", "json", db=stored).json()["waivers"]
    assert [(w["id"], w["state"], w["source"]) for w in listed] == [(int(wid), "active", "cli")]
    shown = run_cli("waivers", "show", wid, "--format", "json", db=stored).json()
    assert shown["expires"] == f"{_day(30)}T23:59:59Z" and shown["approver"] == "ciso"

    assert run_cli("waivers", "revoke", wid, "--by", "ciso", db=stored).code == 2
    r = run_cli("waivers", "revoke", wid, "--by", "ciso", "--reason", "fixed", db=stored)
    assert r.code == 0, r.err
    assert run_cli("waivers", "list", "--format", "json", db=stored).json() == {"waivers": []}
    every = run_cli("waivers", "list", "--all", db=stored)
    assert "revoked" in every.out
    shown = run_cli("waivers", "show", wid, "--format", "json", db=stored).json()
    assert shown["state"] == "revoked" and shown["revoked_by"] == "ciso"
    doc = run_cli("results", "--format", "json", db=stored).json()
    assert not [r for r in doc["results"] if r["status"] == "waived"]
    again = run_cli("waivers", "revoke", wid, "--by", "x", "--reason", "y", db=stored)
    assert again.code == 2 and "already revoked" in again.err
    assert run_cli("waivers", "show", "99", db=stored).code == 2


BAD = f"""\
- rule: {RULE}
  reason: sized by the job
  approver: ciso
  expires: {_day(30)}
- rule: {RULE}
  reason: other
  expires: {_day(30)}
  colour: red
"""


def test_scan_with_a_malformed_waivers_file_scans_nothing(tmp_path: Path, db: str) -> None:
    (tmp_path / "bad.yaml").write_text(BAD)
    (tmp_path / "root").mkdir()
    r = run_cli("scan", f"host:{tmp_path / 'root'}", "--waivers", "bad.yaml", db=db, cwd=tmp_path)
    assert r.code == 2, r.err
    assert "bad.yaml:5: [1].approver: required field is missing" in r.err
    assert "Traceback" not in r.err
    assert run_cli("assessments", "--format", "json", db=db).json() == {"assessments": []}
    assert run_cli("waivers", "list", "--all", "--format", "json", db=db).json() == {"waivers": []}


def test_scan_with_a_waivers_file_stores_them_once(tmp_path: Path, db: str) -> None:
    good = BAD.replace("  colour: red\n", "  approver: ciso\n")
    (tmp_path / "w.yaml").write_text(good)
    (tmp_path / "root").mkdir()
    for _ in range(2):
        r = run_cli("scan", f"host:{tmp_path / 'root'}", "--waivers", "w.yaml", db=db,
                    cwd=tmp_path)  # fmt: skip
        assert r.code == 0, r.err
    listed = run_cli("waivers", "list", "--format", "json", db=db).json()["waivers"]
    assert [w["source"] for w in listed] == ["w.yaml:1", "w.yaml:5"]
    assert len(run_cli("assessments", "--format", "json", db=db).json()["assessments"]) == 2
    r = run_cli("waivers", "import", "w.yaml", db=db, cwd=tmp_path)
    assert r.code == 0 and "0 waiver(s) added, 2 already stored" in r.err
