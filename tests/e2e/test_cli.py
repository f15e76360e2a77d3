"""The command line as a user runs it: exit codes, messages, JSON, the store."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli


def make_root(tmp_path: Path) -> Path:
    """An offline host root with Docker files in bad and good states."""
    root = tmp_path / "root"
    (root / "etc/docker").mkdir(parents=True)
    (root / "lib/systemd/system").mkdir(parents=True)
    (root / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n"
    )
    (root / "etc/group").write_text("root:x:0:\ndocker:x:999:\nbob:x:1000:\n")
    (root / "etc/hostname").write_text("offline-host\n")
    daemon = root / "etc/docker/daemon.json"
    daemon.write_text(json.dumps({"icc": False, "log-opts": {"splunk-token": "tok-secret-123"}}))
    daemon.chmod(0o666)
    unit = root / "lib/systemd/system/docker.service"
    unit.write_text("[Service]\nExecStart=/usr/bin/dockerd -H fd://\n")
    unit.chmod(0o644)
    (root / "etc/docker").chmod(0o755)
    return root


def test_help_and_version() -> None:
    run = run_cli("--help")
    assert run.code == 0
    for cmd in ("scan", "assessments", "results", "controls", "db"):
        assert cmd in run.out
    assert run_cli("--version").out.startswith("assessor ")


def test_controls_validate_list_show_schema() -> None:
    run = run_cli("controls", "validate")
    assert run.code == 0, run.err
    assert run.out.startswith("ok: ")
    assert "warning" not in run.err
    listing = run_cli("controls", "list", "--format", "json").json()["rules"]
    assert len(listing) >= 20
    rule_id = listing[0]["id"]
    shown = run_cli("controls", "show", rule_id, "--format", "json").json()
    assert shown["id"] == rule_id and shown["file"].endswith(f"{rule_id}.yaml")
    schema = run_cli("controls", "schema").json()
    assert schema["title"] == "Rule" and "check" in schema["properties"]
    assert run_cli("controls", "show", "no-such-rule").code == 2


def test_malformed_rule_file_gives_exit_2_with_file_line_field(tmp_path: Path) -> None:
    rules = tmp_path / "org/rules/container"
    rules.mkdir(parents=True)
    bad = rules / "org-bad.yaml"
    bad.write_text(
        "id: org-bad\ntitle: t\ndescription: d\nrationale: r\nseverity: high\n"
        "target: container\nevidence: [HostConfig.Privileged]\ncheck:\n"
        "  evidence: HostConfig.Privileged\n  op: equals\n  value: false\n"
    )
    for args in (
        ["controls", "validate", str(bad)],
        ["scan", "host:/", "--controls", str(tmp_path / "org")],
    ):
        run = run_cli(*args, db=f"sqlite:///{tmp_path / 'x.db'}")
        assert run.code == 2, run
        assert "Traceback" not in run.err
        assert run.err.startswith(f"assessor: error: {bad}:10: check.op: Input should be 'eq'"), (
            run.err
        )
        assert len(run.err.strip().splitlines()) == 1


def test_organisation_rule_is_evaluated(tmp_path: Path, db: str) -> None:
    org = tmp_path / "org"
    (org / "rules/host").mkdir(parents=True)
    (org / "rules/host/org-hostname-set.yaml").write_text(
        "id: org-hostname-set\ntitle: Ensure the host has a name\ndescription: d\nrationale: r\n"
        "severity: low\ntarget: host\nevidence: [system.hostname]\n"
        "check: {evidence: system.hostname, op: regex, value: '^prod-'}\n"
        "message: 'hostname {value} does not start with prod-'\n"
    )
    root = make_root(tmp_path)
    run = run_cli("scan", f"host:{root}", "--controls", str(org), "--format", "json", db=db)
    assert run.code == 0, run.err
    mine = [r for r in run.json()["results"] if r["rule"] == "org-hostname-set"]
    assert [(r["status"], r["message"]) for r in mine] == [
        ("fail", "hostname offline-host does not start with prod-")
    ]


def test_offline_root_scan_judges_files_and_redacts(tmp_path: Path, db: str) -> None:
    root = make_root(tmp_path)
    run = run_cli("scan", f"host:{root}", "--format", "json", db=db)
    assert run.code == 0, run.err
    doc = run.json()
    assert set(doc["assessment"]) >= {
        "id",
        "started",
        "finished",
        "period",
        "status",
        "catalog_digest",
        "tool_version",
    }
    assert doc["assessment"]["status"] == "complete"
    by_rule = {r["rule"]: r for r in doc["results"]}
    assert by_rule["host-daemon-json-mode-644"]["status"] == "fail"
    assert "0666" in by_rule["host-daemon-json-mode-644"]["message"]
    assert by_rule["host-docker-service-mode-644"]["status"] == "pass"
    assert by_rule["host-etc-docker-mode-755"]["status"] == "pass"
    for r in doc["results"]:
        assert set(r) == {
            "assessment_id",
            "assessment_uuid",
            "system",
            "period",
            "target_kind",
            "resource_kind",
            "rule",
            "title",
            "severity",
            "target",
            "resource",
            "status",
            "message",
            "evidence",
            "references",
            "sources",
        }
        assert r["target"] == f"host:{root}"
        a = doc["assessment"]
        assert (r["assessment_id"], r["assessment_uuid"], r["period"], r["system"]) == (
            a["id"],
            a["uuid"],
            a["period"],
            a["system"],
        )
        assert r["target_kind"] == "host"
    # what the daemon.json rule read, named so an auditor can check it by hand
    read = by_rule["host-daemon-json-mode-644"]["sources"]
    assert read and all("/etc/docker/daemon.json" in line for line in read), read
    con = sqlite3.connect(db.removeprefix("sqlite:///"))
    import zlib

    stored = b"".join(zlib.decompress(b) for (b,) in con.execute("SELECT body FROM evidence"))
    con.close()
    assert b"tok-secret-123" not in stored
    assert b"splunk-token" in stored


def test_offline_root_symlinks_stay_inside_root(tmp_path: Path, db: str) -> None:
    root = make_root(tmp_path)
    (root / "etc/docker/daemon.json").unlink()
    # a hostile root: absolute links that would point at the scanning machine's files
    (root / "etc/docker/daemon.json").symlink_to("/etc/passwd")
    (root / "etc/audit").mkdir()
    (root / "etc/audit/audit.rules").symlink_to("/../../../../etc/shadow")
    run = run_cli("scan", f"host:{root}", "--format", "json", db=db)
    assert run.code == 0, run.err
    con = sqlite3.connect(db.removeprefix("sqlite:///"))
    import zlib

    doc = json.loads(zlib.decompress(con.execute("SELECT body FROM evidence").fetchone()[0]))
    con.close()
    # resolved inside the root: the root's own /etc/passwd is not JSON, the host's is never read
    assert doc["data"]["docker"]["daemon_json"] is None
    assert "invalid JSON" in doc["data"]["docker"]["daemon_json_error"]
    assert doc["data"]["files"]["/etc/docker/daemon.json"]["link_target"] == "/etc/passwd"
    assert doc["data"]["audit"]["rules"] == []


def test_fail_on_threshold(tmp_path: Path, db: str) -> None:
    root = make_root(tmp_path)
    assert run_cli("scan", f"host:{root}", db=db).code == 0
    assert run_cli("scan", f"host:{root}", "--fail-on", "low", db=db).code == 1
    assert run_cli("scan", f"host:{root}", "--fail-on", "critical", db=db).code == 0
    assert run_cli("scan", f"host:{root}", "--fail-on", "bogus", db=db).code == 2


def test_usage_errors_exit_2_without_traceback(tmp_path: Path, db: str) -> None:
    for args in (
        ["scan", "printer:/dev/lp0"],
        ["scan", "host:/", "--period", "Q4"],
        ["results", "999"],
        ["results", "--status", "nope"],
        ["frobnicate"],
    ):
        run = run_cli(*args, db=db)
        assert run.code == 2, (args, run)
        assert "Traceback" not in run.err


def test_unreachable_engine_exits_3_and_keeps_other_targets(tmp_path: Path, db: str) -> None:
    root = make_root(tmp_path)
    run = run_cli(
        "scan", f"host:{root}", f"engine:unix://{tmp_path}/nope.sock", "--format", "json", db=db
    )
    assert run.code == 3, run
    assert f"{tmp_path}/nope.sock does not exist" in run.err
    doc = run.json()
    assert doc["assessment"]["status"] == "incomplete"
    assert any(r["target"] == f"host:{root}" for r in doc["results"])


@pytest.fixture
def stalling_socket(tmp_path: Path) -> Iterator[Path]:
    """A unix socket that accepts and never answers: an engine that hangs."""
    path = tmp_path / "stall.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield path
    stop.set()
    t.join()
    for c in held:
        c.close()
    server.close()


def test_stalling_engine_times_out_as_unreachable(
    tmp_path: Path, db: str, stalling_socket: Path
) -> None:
    run = run_cli(
        "scan", f"engine:unix://{stalling_socket}", db=db, env={"ASSESSOR_ENGINE_TIMEOUT": "1"}
    )
    assert run.code == 3, run
    assert "cannot reach the engine" in run.err


def test_killed_scan_leaves_readable_db_and_incomplete_assessment(
    tmp_path: Path, db: str, stalling_socket: Path
) -> None:
    root = make_root(tmp_path)
    env = {**os.environ, "ASSESSOR_DB": db, "ASSESSOR_ENGINE_TIMEOUT": "120"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assessor",
            "scan",
            f"host:{root}",
            f"engine:unix://{stalling_socket}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    path = db.removeprefix("sqlite:///")
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:  # wait until the host target is committed
            try:
                con = sqlite3.connect(path, timeout=1)
                n = con.execute("SELECT count(*) FROM target").fetchone()[0]
                con.close()
                if n >= 1:
                    break
            except sqlite3.Error:
                pass
            time.sleep(0.05)
        else:
            pytest.fail("the scan never stored its first target")
        assert proc.poll() is None, "scan ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    listing = run_cli("assessments", "--format", "json", db=db)
    assert listing.code == 0, listing.err
    [a] = listing.json()["assessments"]
    assert a["status"] == "incomplete" and a["finished"] is None
    assert a["counts"].get("fail", 0) + a["counts"].get("pass", 0) > 0
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    # the store still takes new assessments
    assert run_cli("scan", f"host:{root}", db=db).code == 0


def test_locked_database_is_a_clear_error(tmp_path: Path, db: str) -> None:
    root = make_root(tmp_path)
    assert run_cli("scan", f"host:{root}", db=db).code == 0
    con = sqlite3.connect(db.removeprefix("sqlite:///"), isolation_level=None)
    con.execute("BEGIN EXCLUSIVE")
    try:
        run = run_cli("scan", f"host:{root}", db=db, timeout=60)
    finally:
        con.execute("ROLLBACK")
        con.close()
    assert run.code == 2, run
    assert "is locked by another process" in run.err
    assert "Traceback" not in run.err
    assert len(run_cli("assessments", "--format", "json", db=db).json()["assessments"]) == 1


def test_newer_database_refused_by_cli(tmp_path: Path, db: str) -> None:
    assert run_cli("db", "upgrade", db=db).code == 0
    assert "up to date" in run_cli("db", "current", db=db).out
    con = sqlite3.connect(db.removeprefix("sqlite:///"))
    con.execute("UPDATE alembic_version SET version_num='9999'")
    con.commit()
    con.close()
    run = run_cli("assessments", db=db)
    assert run.code == 2
    assert "newer than this assessor knows" in run.err


def test_config_file_and_env(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    (tmp_path / "assessor.toml").write_text(
        f'[assessor]\ndb = "sqlite:///{tmp_path}/from-toml.db"\nperiod = "2026-Q3"\n'
    )
    run = run_cli(
        "scan", f"host:{root}", "--format", "json", cwd=tmp_path, env={"PYTHONPATH": str(ROOT)}
    )
    assert run.code == 0, run.err
    assert run.json()["assessment"]["period"] == "2026-Q3"
    assert (tmp_path / "from-toml.db").exists()
