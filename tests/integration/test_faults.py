"""Faults under the database: a killed scan or finalise, a read-only or full disk, a lock.

Each test runs the real command line on a real SQLite file and checks the contract (DESIGN
section 5): nothing already stored is lost or half-written, an interrupted scan leaves an
``incomplete`` assessment (or none), and each failure is one line naming the database and
what happened, exit 2, no traceback. Two concurrent scans are in test_concurrent_scans.py;
what it does not check (distinct ids, each assessment's own result count) is checked here.

The read-only and full-disk cases mount a small tmpfs, which needs root.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, Run, missing, run_cli
from tests.faultserver import start_fault_server

pytestmark = pytest.mark.slow


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSESSOR_")}
    env["ASSESSOR_CONFIG"] = "/nonexistent/assessor.toml"
    return env


def _start(*args: str, db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "assessor", *args, "--db", _url(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=ROOT,
    )


def _cli(*args: str, db: Path, timeout: float = 120) -> Run:
    return run_cli(*args, "--db", _url(db), env=_env(), timeout=timeout)


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    """A read through a fresh connection (read-only: a check must not repair anything)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _integrity(db: Path) -> None:
    assert _rows(db, "PRAGMA integrity_check") == [("ok",)]
    assert _rows(db, "PRAGMA foreign_key_check") == []


def _snapshot(db: Path) -> list[tuple[object, ...]]:
    """Every stored assessment with its status and result counts, to compare before/after."""
    return _rows(
        db,
        "SELECT a.id, a.uuid, a.status, a.digest, count(r.id), "
        "group_concat(r.rule || '|' || r.resource || '|' || r.status, ',') "
        "FROM assessment a LEFT JOIN result r ON r.assessment_id = a.id "
        "GROUP BY a.id ORDER BY a.id",
    )


def _listed(db: Path) -> dict[int, dict[str, object]]:
    run = _cli("assessments", "--format", "json", db=db)
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    items = doc["assessments"] if isinstance(doc, dict) else doc
    return {int(a["id"]): a for a in items}


def _one_line_error(run: Run, db: Path) -> str:
    """The failure is one ``assessor: error:`` line (and maybe a hint) naming the database."""
    assert run.code == 2, f"exit {run.code}: {run.err[-800:]}"
    assert "Traceback" not in run.err, run.err[-2000:]
    lines = [line for line in run.err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("assessor: error:")]
    assert len(errors) == 1, run.err
    assert all(line.startswith(("assessor: error:", "hint:")) for line in lines), run.err
    assert str(db) in errors[0], f"the message does not name {db}: {errors[0]}"
    return errors[0]


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("img") / "sample"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "sample_image.py"), str(out)],
        check=True,
        capture_output=True,
    )
    return f"image:oci:{out}"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, image: str) -> Path:
    """A database holding two complete assessments of system 'faults', the first finalised."""
    db = tmp_path_factory.mktemp("seed") / "seed.db"
    for _ in range(2):
        run = _cli("scan", image, "--system", "faults", db=db)
        assert run.code in (0, 1), run.err
    run = _cli("finalise", "1", "--by", "fault test", db=db)
    assert run.code == 0, run.err
    return db


def _copy(seed: Path, to: Path) -> Path:
    """The seed database copied whole (it is checkpointed: no -wal beside it)."""
    to.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(seed)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    shutil.copyfile(seed, to)
    return to


def _wait_for(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)


# ---- SIGKILL during a scan -----------------------------------------------------------------


def test_sigkill_during_a_scan_leaves_it_incomplete_and_the_rest_intact(
    tmp_path: Path, seeded: Path, image: str
) -> None:
    db = _copy(seeded, tmp_path / "kill-scan.db")
    before = _snapshot(db)
    # an engine that accepts the connection and never answers: the scan stalls after it has
    # written its assessment row
    with start_fault_server("stall-headers") as fault:
        port = fault.url.rsplit(":", 1)[1]
        proc = _start("scan", f"engine:tcp://127.0.0.1:{port}", "--system", "faults", db=db)
        try:
            started = _wait_for(
                lambda: len(_rows(db, "SELECT id FROM assessment")) > len(before), 60
            )
            assert started, "the scan never wrote its assessment row"
            time.sleep(0.3)
        finally:
            _kill(proc)
    assert proc.returncode == -signal.SIGKILL
    _integrity(db)
    after = _snapshot(db)
    assert after[: len(before)] == before  # every earlier assessment, every result, unchanged
    killed = after[len(before) :]
    assert [(status, n) for _id, _uuid, status, _digest, n, _r in killed] == [("incomplete", 0)]
    listed = _listed(db)
    assert [listed[int(str(row[0]))]["status"] for row in before] == ["complete", "complete"]
    assert listed[int(str(killed[0][0]))]["status"] == "incomplete"
    # the database takes the next scan, and the chain is intact
    run = _cli("scan", image, "--system", "faults", "--format", "json", db=db)
    assert run.code in (0, 1), run.err
    assert run.json()["assessment"]["status"] == "complete"
    _integrity(db)
    run = _cli("history", "verify", db=db)
    assert run.code == 0, run.out + run.err


def test_sigkill_at_any_moment_of_a_scan_never_half_writes(
    tmp_path: Path, seeded: Path, image: str
) -> None:
    """Kill the scan of an image at points spread over its run, writes included: each time
    the database is intact, earlier assessments unchanged, and the killed one is absent,
    incomplete, or complete with all its results (never complete with a part of them)."""
    reference = _copy(seeded, tmp_path / "reference.db")
    t0 = time.monotonic()
    run = _cli("scan", image, "--system", "faults", db=reference)
    whole = time.monotonic() - t0
    assert run.code in (0, 1), run.err
    full = _snapshot(reference)[-1][4]
    assert isinstance(full, int) and full > 0
    outcomes = set()
    for i, fraction in enumerate((0.6, 0.8, 0.9, 0.97)):
        db = _copy(seeded, tmp_path / f"kill-{i}.db")
        before = _snapshot(db)
        proc = _start("scan", image, "--system", "faults", db=db)
        time.sleep(whole * fraction)
        _kill(proc)
        _integrity(db)
        after = _snapshot(db)
        assert after[: len(before)] == before
        for _id, _uuid, status, _digest, n, _r in after[len(before) :]:
            assert (status, n) in (("incomplete", 0), ("incomplete", full), ("complete", full)), (
                f"killed after {whole * fraction:.2f} s: {status} with {n} of {full} results"
            )
            outcomes.add(status)
        if len(after) == len(before):
            outcomes.add("absent")
    assert {int(str(r[0])) for r in after} == set(_listed(db))
    print("killed scans were:", sorted(outcomes))


def _tables(db: Path) -> set[str]:
    return {str(r[0]) for r in _rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_sigkill_during_the_first_migration_of_a_new_database(tmp_path: Path, image: str) -> None:
    """The first scan into a new file creates the schema; killed while it does, the file is
    left with no schema or the whole schema, never a part that every later command trips on
    ('table assessment already exists')."""
    states = set()
    for i, moment in enumerate(("once it writes", 0.2, 0.35)):
        db = tmp_path / f"new-{i}.db"
        lock = db.with_name(db.name + ".migrate-lock")  # taken when the migration starts
        proc = _start("scan", image, db=db)
        assert _wait_for(lambda lock=lock, p=proc: lock.exists() or p.poll() is not None, 60)
        if isinstance(moment, float):
            time.sleep(moment)
        elif moment == "once it writes":  # the write lock taken, or a first table committed
            deadline = time.monotonic() + 30
            while proc.poll() is None and time.monotonic() < deadline:
                if _writing(db) or _tables(db):
                    break
                time.sleep(0.002)
        _kill(proc)
        _integrity(db)
        tables = _tables(db)
        versions = _rows(db, "SELECT version_num FROM alembic_version") if tables else []
        states.add((len(tables), tuple(versions)))
        assert not tables or versions, f"killed {moment}: {sorted(tables)} and no version"
        run = _cli("assessments", "--format", "json", db=db)  # opens, and migrates if need be
        assert run.code == 0, f"killed {moment}: {run.err}"
    run = _cli("scan", image, db=db)
    assert run.code in (0, 1), run.err
    print("states after the kills (tables, version):", sorted(states))


# ---- SIGKILL during finalise ---------------------------------------------------------------


def _big_assessment(db: Path, results: int) -> int:
    """A complete assessment of system 'faults' with ``results`` results, written through the
    store as a scan writes it: finalising it takes long enough for a kill to land inside."""
    from assessor.results import Result
    from assessor.store import open_store, queries
    from assessor.vocab import AssessmentStatus, Status

    store = open_store(_url(db))
    try:
        uri = "image:oci:/nonexistent/big"
        aid = queries.create_assessment(store, "2026-Q4", [uri], "sha256:test", system="faults")
        rows = [
            Result("rule-x", "A rule", "low", uri, f"resource-{i}", Status.PASS, "ok", None)
            for i in range(results)
        ]
        queries.record_target(
            store, aid, uri, "image", status="collected", identity={}, results=rows
        )
        queries.finish_assessment(store, aid, AssessmentStatus.COMPLETE)
    finally:
        store.close()
    return aid


def _writing(db: Path) -> bool:
    """Whether another connection holds the write lock (a transaction is under way)."""
    con = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as e:
        return "locked" in str(e) or "busy" in str(e)
    finally:
        con.close()


def test_sigkill_during_finalise_is_all_or_nothing(tmp_path: Path, seeded: Path) -> None:
    """Kill ``assessor finalise`` at timed points, inside its write transaction and right
    after its commit: each time it is finalised with a valid chain, or not at all."""
    template = _copy(seeded, tmp_path / "template.db")
    aid = _big_assessment(template, 10_000)
    reference = _copy(template, tmp_path / "reference.db")
    t0 = time.monotonic()
    run = _cli("finalise", str(aid), "--by", "fault test", db=reference)
    whole = time.monotonic() - t0
    assert run.code == 0, run.err

    def committed(db: Path) -> bool:
        return _rows(db, f"SELECT finalised_at FROM assessment WHERE id = {aid}") != [(None,)]

    moments: list[tuple[str, object]] = [
        ("half way", whole * 0.5),
        ("inside the transaction", _writing),
        ("right after the commit", committed),
    ]
    seen = {}
    for i, (moment, when) in enumerate(moments):
        db = _copy(template, tmp_path / f"finalise-{i}.db")
        before = _snapshot(db)
        proc = _start("finalise", str(aid), "--by", "fault test", db=db)
        if isinstance(when, float):
            time.sleep(when)
        else:
            assert _wait_for(lambda db=db, when=when: when(db), 60), f"never {moment}"  # type: ignore[misc,operator]
        _kill(proc)
        _integrity(db)
        after = _snapshot(db)
        assert [r[:3] + r[4:] for r in after] == [r[:3] + r[4:] for r in before]
        ((finalised_at, digest, previous),) = _rows(
            db, f"SELECT finalised_at, digest, previous_digest FROM assessment WHERE id = {aid}"
        )
        if finalised_at is None:
            assert digest is None and previous is None, f"half a finalisation ({moment})"
        else:
            assert digest and previous == before[0][3], f"no chained digest ({moment})"
        seen[moment] = finalised_at is not None
        verify = _cli("history", "verify", "--format", "json", db=db)
        assert verify.code == 0, f"killed {moment}: {verify.out}{verify.err}"
        assert verify.json()["intact"] is True
        # what was not finalised can be finalised now; what was, cannot be again
        again = _cli("finalise", str(aid), "--by", "fault test", db=db)
        assert again.code == (0 if finalised_at is None else 2), again.err
    assert seen["inside the transaction"] is False
    assert seen["right after the commit"] is True


# ---- read-only and full disks --------------------------------------------------------------


@contextlib.contextmanager
def _tmpfs(where: Path, size: str = "2m") -> Iterator[Path]:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        missing("root and mount(8), to mount a small tmpfs")
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        missing(f"mounting a tmpfs ({done.stderr.strip()})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)


def _remount(where: Path, mode: str, *, bind: bool = False) -> None:
    opts = f"remount,{'bind,' if bind else ''}{mode}"
    subprocess.run(["mount", "-o", opts, str(where)], check=True, capture_output=True)


def test_read_only_database_file(tmp_path: Path, seeded: Path, image: str) -> None:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        missing("root and mount(8), to bind-mount the database file read-only")
    db = _copy(seeded, tmp_path / "ro-file" / "assessor.db")
    before = _snapshot(db)
    subprocess.run(["mount", "--bind", str(db), str(db)], check=True)
    try:
        _remount(db, "ro", bind=True)
        run = _cli("scan", image, "--system", "faults", db=db)
        line = _one_line_error(run, db)
        assert "read-only" in line.lower() or "readonly" in line, line
        # reading still works
        assert set(_listed(db)) == {int(str(r[0])) for r in before}
    finally:
        subprocess.run(["umount", str(db)], check=False)
    _integrity(db)
    assert _snapshot(db) == before


def test_read_only_folder(tmp_path: Path, seeded: Path, image: str) -> None:
    with _tmpfs(tmp_path / "ro-dir", "8m") as mnt:
        db = _copy(seeded, mnt / "assessor.db")
        before = _snapshot(db)
        _remount(mnt, "ro")
        # an archived copy on read-only media can still be read (opened immutable)
        listing = _cli("assessments", "--format", "json", db=db)
        assert listing.code == 0, listing.err
        assert "Traceback" not in listing.err
        rows = json.loads(listing.out)
        rows = rows if isinstance(rows, list) else rows["assessments"]
        assert rows, listing.out
        assert _cli("results", "--format", "json", db=db).code == 0
        run = _cli("scan", image, "--system", "faults", db=db)
        line = _one_line_error(run, db)
        assert "read-only" in line.lower() or "readonly" in line, line
        # a new database in a folder that cannot be created there
        for new in (mnt / "new.db", mnt / "sub" / "new.db"):
            run = _cli("scan", image, db=new)
            line = _one_line_error(run, new)
            # a missing folder of a named database is not created (store/db.py), read-only or not
            said = ("read-only", "readonly", "does not exist")
            assert any(s in line.lower() for s in said), line
        _remount(mnt, "rw")
        _integrity(db)
        assert _snapshot(db) == before


def _fill(mnt: Path, room: int) -> Path:
    """Fill the file system, then give back ``room`` bytes."""
    filler = mnt / "filler"
    with filler.open("wb", buffering=0) as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 4096)
    os.truncate(filler, max(0, filler.stat().st_size - room))
    return filler


def test_full_disk_under_the_database(tmp_path: Path, seeded: Path, image: str) -> None:
    """No room at all, then a little room (enough to start, maybe not to finish): a scan
    either completes or fails in one line saying the disk is full; nothing stored is lost."""
    with _tmpfs(tmp_path / "full", "2m") as mnt:
        db = _copy(seeded, mnt / "assessor.db")
        before = _snapshot(db)
        failed = []
        for room in (0, 48 * 1024, 96 * 1024):
            known = _snapshot(db)
            filler = _fill(mnt, room)
            run = _cli("scan", image, "--system", "faults", db=db)
            if run.code not in (0, 1):
                line = _one_line_error(run, db)
                assert "full" in line or "no space" in line, line
                failed.append(room)
            filler.unlink()
            _integrity(db)
            after = _snapshot(db)
            assert after[: len(known)] == known  # nothing stored before is lost or changed
            for _id, _uuid, status, _digest, n, _r in after[len(known) :]:
                assert status == ("incomplete" if run.code not in (0, 1) else "complete")
                assert status == "complete" or n == 0
        assert 0 in failed, "a scan onto a full disk did not fail"
        assert _snapshot(db)[: len(before)] == before
        assert set(_listed(db)) == {int(str(r[0])) for r in _snapshot(db)}
        # with room again, the next scan works
        run = _cli("scan", image, "--system", "faults", db=db)
        assert run.code in (0, 1), run.err
        _integrity(db)


# ---- a locked database ---------------------------------------------------------------------


def test_locked_database_waits_then_says_so(tmp_path: Path, seeded: Path, image: str) -> None:
    db = _copy(seeded, tmp_path / "locked.db")
    before = _snapshot(db)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "con = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "con.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "time.sleep(120)\n",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        t0 = time.monotonic()
        run = _cli("scan", image, "--system", "faults", db=db, timeout=90)
        waited = time.monotonic() - t0
        line = _one_line_error(run, db)
        assert "locked" in line, line
        assert 4 < waited < 60, f"gave up after {waited:.1f} s"
        # readers are not blocked (WAL): the list still shows what was stored
        assert set(_listed(db)) == {int(str(r[0])) for r in before}
    finally:
        holder.kill()
        holder.communicate(timeout=10)
    _integrity(db)
    after = _snapshot(db)
    assert after[: len(before)] == before
    run = _cli("scan", image, "--system", "faults", db=db)
    assert run.code in (0, 1), run.err


# ---- two scans at once: what test_concurrent_scans.py leaves out ---------------------------


def test_two_scans_at_once_keep_their_own_results(tmp_path: Path, seeded: Path, image: str) -> None:
    alone = _copy(seeded, tmp_path / "alone.db")
    run = _cli("scan", image, "--system", "faults", "--format", "json", db=alone)
    assert run.code in (0, 1), run.err
    expected = len(run.json()["results"])
    db = _copy(seeded, tmp_path / "both.db")
    before = _snapshot(db)
    procs = [_start("scan", image, "--system", "faults", "--format", "json", db=db) for _ in "ab"]
    docs = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode in (0, 1), err[-800:]
        docs.append(json.loads(out))
    ids = [d["assessment"]["id"] for d in docs]
    assert len(set(ids)) == 2 and not set(ids) & {r[0] for r in before}, ids
    _integrity(db)
    for d in docs:
        assert d["assessment"]["status"] == "complete"
        assert len(d["results"]) == expected
        aid = int(d["assessment"]["id"])
        assert _rows(db, f"SELECT count(*) FROM result WHERE assessment_id = {aid}") == [
            (expected,)
        ]
    # every result belongs to a target of its own assessment
    assert _rows(
        db,
        "SELECT count(*) FROM result r JOIN target t ON t.id = r.target_id "
        "WHERE t.assessment_id != r.assessment_id",
    ) == [(0,)]
    assert _snapshot(db)[: len(before)] == before
