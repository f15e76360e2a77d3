"""The registry target from the command line: bad target strings and an unreachable registry."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli


def test_credentials_in_a_target_are_refused_and_not_echoed(tmp_path: Path) -> None:
    run = run_cli(
        "scan",
        "registry:https://ci:hunter2-secret@reg.example",
        db=f"sqlite:///{tmp_path / 'a.db'}",
    )
    assert run.code == 2
    assert "credentials do not belong in a target" in run.err
    assert "hunter2" not in run.err + run.out
    assert "Traceback" not in run.err


def test_unknown_scheme_names_the_forms(tmp_path: Path) -> None:
    run = run_cli("scan", "registry:ftp://reg.example", db=f"sqlite:///{tmp_path / 'a.db'}")
    assert run.code == 2
    assert "expected registry:https://HOST[:PORT] or registry:http://HOST[:PORT]" in run.err


def test_unreachable_registry_is_stored_with_error_results(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    run = run_cli(
        "scan", "registry:https://127.0.0.1:1", "--format", "json", "--timeout", "2", db=db
    )
    assert run.code == 3, run.err
    assert run.err.strip() == "assessor: error: registry https://127.0.0.1:1: connection refused"
    doc = run.json()
    assert doc["assessment"]["status"] == "incomplete"
    statuses = {r["status"] for r in doc["results"]}
    assert statuses == {"error"}
    assert len(doc["results"]) == 16  # every registry rule, none of the image rules
    listed = run_cli("results", "--status", "error", "--format", "json", db=db)
    assert listed.code == 0 and len(listed.json()["results"]) == 16
