"""Fleets at scale (issue 21, item 6): ``--hosts`` synthetic Docker hosts (default 1,000; each
what ``assessor collect`` gives of a host: its host document, its engine, 8-12 containers and
8-12 images, built from captured evidence by tests/bench/fleet.py) written as signed evidence
bundles by assessor's own writer, then ingested by ``assessor ingest`` (a fresh process: read,
verify, evaluate with the current controls, store one assessment per bundle) into SQLite and
the test setup's PostgreSQL (scripts/test-setup.sh; fsync off there). Every figure has a
baseline measured in the same run, so a busy machine still compares:

- the physical limit: read every bundle, walk its tar, gunzip and SHA-256 every member;
- evaluation alone (evaluate() over every host's evidence, nothing read or stored);
- the same rows written by raw ``sqlite3`` executemany, one transaction per host, into a
  database made by assessor's migrations (same tables, indexes, foreign keys and pragmas);
- one ``assessor scan host:/ engine:unix:///var/run/docker.sock`` of this machine.

Prints ingest+evaluate wall time of all bundles with ``--jobs 1`` and ``--jobs`` = the cores
(goal: <= 60 s for 1,000 on 2 cores with SQLite), the same bundles ingested again (nothing
stored), a second quarter (5% of the hosts changed, the rest re-collected: evidence is stored
once per hash, so an unchanged host document or container adds nothing, while the engine's clock
and each image's ``read_at``/``age_days`` change at every collection), the database growth per
quarter (SQLite after a WAL checkpoint, by table; PostgreSQL's pg_database_size), and the
render time of the fleet report of the 1,000 hosts.

    .venv/bin/python tests/bench/bench_fleet.py                   # full: 1,000 hosts, 2 quarters
    .venv/bin/python tests/bench/bench_fleet.py --hosts 100 --no-pg
    .venv/bin/python tests/bench/bench_fleet.py --hosts 200 --profile   # one in-process ingest
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import hashlib
import io
import json
import os
import pstats
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "bench"))

from fleet import Fleet, SyntheticHost  # noqa: E402

from assessor import __version__  # noqa: E402
from assessor.catalog import Catalog, load_catalog  # noqa: E402
from assessor.evaluate import evaluate  # noqa: E402
from assessor.results import Result  # noqa: E402
from assessor.store import open_store  # noqa: E402

GOAL_S = 60.0
PERIODS = ("2026-Q1", "2026-Q2")
SYSTEM = "fleet-bench"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
PG_ADMIN_URL = os.environ.get(
    "ASSESSOR_TEST_PG", "postgresql+psycopg://postgres@/postgres?host=/run/assessor-test-pg"
)
KINDS = {"host": frozenset({"host"}), "engine": frozenset({"engine", "container", "image"})}


def scope(host: SyntheticHost) -> dict[str, dict[str, frozenset[str]]]:
    """Each target's kinds as its collector declares them (the engine's: engine, container,
    image, so a host without containers still gets its "no container found" results)."""
    return {t.uri: {t.uri: KINDS[t.kind]} for t in host.targets}


# --- baselines --------------------------------------------------------------------------------


def raw_rows(catalog: Catalog, host: SyntheticHost) -> list[tuple[Any, list[Result]]]:
    kinds = scope(host)
    return [(t, evaluate(catalog, t.evidence, kinds[t.uri])) for t in host.targets]


def raw_host(conn: sqlite3.Connection, catalog: Catalog, host: SyntheticHost, judged: Any) -> None:
    """The baseline: one host's rows by raw sqlite3, one transaction."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    cur = conn.cursor()
    cur.execute(
        "INSERT INTO assessment (uuid, started, period, status, scope, tool_version, "
        "catalog_digest, scanner_host, system) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (str(uuid.uuid4()), now, PERIODS[0], "incomplete", json.dumps([t.uri for t in host.targets]),
         __version__, catalog.digest, host.name, SYSTEM),
    )  # fmt: skip
    aid = cur.lastrowid
    for t, results in judged:
        cur.execute(
            "INSERT INTO target (assessment_id, uri, kind, status, identity, error) "
            "VALUES (?, ?, ?, ?, ?, NULL)",
            (aid, t.uri, t.kind, "collected", json.dumps(t.identity)),
        )
        tid = cur.lastrowid
        docs = {ev.sha256: ev for ev in t.evidence}
        bodies = {h: ev.canonical() for h, ev in docs.items()}
        cur.executemany(
            "INSERT OR IGNORE INTO evidence (hash, kind, size, body) VALUES (?, ?, ?, ?)",
            [(h, docs[h].kind, len(bodies[h]), zlib.compress(bodies[h], 6)) for h in sorted(docs)],
        )
        cur.executemany(
            "INSERT INTO target_evidence (target_id, evidence_hash, resource, collected_at) "
            "VALUES (?, ?, ?, ?)",
            [(tid, h, ev.resource, ev.collected_at.strftime("%Y-%m-%d %H:%M:%S.%f"))
             for h, ev in docs.items()],
        )  # fmt: skip
        cur.executemany(
            'INSERT INTO result (assessment_id, target_id, rule, title, severity, resource, '
            'status, message, evidence_hash, "references") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
            [(aid, tid, r.rule, r.title, r.severity, r.resource, r.status.value, r.message,
              r.evidence, json.dumps(r.references)) for r in results],
        )  # fmt: skip
    cur.execute("UPDATE assessment SET status = 'complete', finished = ? WHERE id = ?", (now, aid))
    conn.commit()


def raw_ingest(path: Path, catalog: Catalog, hosts: Sequence[SyntheticHost]) -> float:
    """Seconds to write the same rows by raw sqlite3 (evaluation done before, untimed)."""
    open_store(f"sqlite:///{path}").close()  # the schema, by assessor's migrations
    judged = [raw_rows(catalog, h) for h in hosts]
    conn = sqlite3.connect(path)
    for pragma in ("busy_timeout=5000", "journal_mode=WAL", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")
    try:
        start = time.perf_counter()
        for host, rows in zip(hosts, judged, strict=True):
            raw_host(conn, catalog, host, rows)
        return time.perf_counter() - start
    finally:
        conn.close()


def evaluate_only(catalog: Catalog, hosts: Sequence[SyntheticHost]) -> float:
    start = time.perf_counter()
    for host in hosts:
        kinds = scope(host)
        for t in host.targets:
            evaluate(catalog, t.evidence, kinds[t.uri])
    return time.perf_counter() - start


def scan_baseline(work: Path) -> tuple[float, int, str] | None:
    """Seconds of ``assessor scan host:/ engine:unix:///var/run/docker.sock`` of this machine
    (a fresh process; the second of two runs, the image cache warm), its number of results,
    and the targets; only ``host:/`` when no engine answers. None when the scan failed."""
    targets = ["host:/"]
    if Path("/var/run/docker.sock").is_socket():
        targets.append("engine:unix:///var/run/docker.sock")
    seconds, results = 0.0, 0
    for attempt in range(2):
        db = work / f"scan-{attempt}.db"
        cmd = [sys.executable, "-m", "assessor", "scan", *targets, "--db", f"sqlite:///{db}"]
        start = time.perf_counter()
        done = subprocess.run(
            [*cmd, "--format", "json"], capture_output=True, check=False, cwd=work, env=ENV
        )
        seconds = time.perf_counter() - start
        if done.returncode not in (0, 1):
            line = done.stderr.decode(errors="replace").strip().splitlines()[:1]
            print(f"scan baseline: not measured ({' '.join(cmd[2:])}: {line})")
            return None
        results = len(json.loads(done.stdout)["results"])
    return seconds, results, " ".join(targets)


# --- sizes ------------------------------------------------------------------------------------


def sqlite_size(path: Path) -> tuple[int, dict[str, int]]:
    """The database's bytes after a WAL checkpoint, and each table's (with its indexes)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        tables: dict[str, int] = {}
        rows = conn.execute(
            "SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d "
            "LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY 1"
        )
        for name, size in rows:
            tables[str(name)] = int(size)
        return path.stat().st_size, tables
    finally:
        conn.close()


def evidence_rows(url: str) -> int:
    from sqlalchemy import func, select

    from assessor.store.models import Evidence as EvidenceRow

    store = open_store(url)
    try:
        with store.session() as s:
            return int(s.scalar(select(func.count()).select_from(EvidenceRow)) or 0)
    finally:
        store.close()


@contextmanager
def pg_database() -> Iterator[tuple[str, Callable[[], int]] | None]:
    """A database of its own on the test setup's PostgreSQL (dropped after), and a function
    giving its size; None when there is no server or no psycopg."""
    try:
        from sqlalchemy import create_engine, make_url, text

        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text("SELECT 1"))
    except Exception as e:
        print(f"PostgreSQL: not measured ({type(e).__name__}: {str(e).splitlines()[0][:120]})")
        yield None
        return
    name = f"bench_fleet_{uuid.uuid4().hex[:12]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def size() -> int:
        with admin.connect() as c:
            return int(c.execute(text("SELECT pg_database_size(:n)"), {"n": name}).scalar_one())

    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(False), size
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- bundles: written by assessor's writer, ingested by ``assessor ingest`` ------------------


def signing_identity(work: Path) -> tuple[Any, Path]:
    """A throwaway signing key and certificate (as ``assessor keys init`` makes them)."""
    from assessor.sign.keys import init_keys, load_identity

    key, cert = init_keys(
        work / "keys", common_name="bench collector", organisation="bench", passphrase=None
    )
    return load_identity(key=key, cert=cert), cert


def write_bundles(hosts: Sequence[SyntheticHost], out: Path, identity: Any) -> float:
    """Each host's bundle, built and signed by assessor.bundle as ``assessor collect`` writes
    one (the host's name as the collecting machine's); returns the seconds."""
    from assessor import bundle
    from assessor.collection import Collected
    from assessor.targets import parse_target

    out.mkdir()
    start = time.perf_counter()
    for h in hosts:
        collected = [
            (parse_target(t.uri), Collected(t.evidence, None, t.identity, [], KINDS[t.kind]))
            for t in h.targets
        ]
        finished = h.collected_at + timedelta(seconds=3)
        data, _ = bundle.build(collected, h.collected_at, finished, identity, hostname=h.name)
        (out / f"{h.name}.bundle").write_bytes(data)
    return time.perf_counter() - start


def bundle_floor(paths: Sequence[Path]) -> float:
    """The physical limit: read every bundle, walk its tar, gunzip and SHA-256 every member."""
    start = time.perf_counter()
    for path in paths:
        with tarfile.open(fileobj=io.BytesIO(path.read_bytes())) as tf:
            for member in tf.getmembers():
                f = tf.extractfile(member)
                assert f is not None
                body = f.read()
                hashlib.sha256(body).hexdigest()
                if member.name.endswith(".gz"):
                    gzip.decompress(body)
    return time.perf_counter() - start


def ingest(
    paths: Sequence[Path], cert: Path, url: str, period: str, jobs: int
) -> tuple[float, int]:
    """``assessor ingest`` of the bundles in a fresh process: (seconds, bundles stored)."""
    cmd = [sys.executable, "-m", "assessor", "ingest", *map(str, paths), "--trust", str(cert),
           "--system", SYSTEM, "--period", period, "--db", url, "--format", "json"]  # fmt: skip
    if jobs:
        cmd += ["--jobs", str(jobs)]
    start, cpu = time.perf_counter(), children_cpu()
    done = subprocess.run(cmd, capture_output=True, check=False, env=ENV)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"assessor ingest: exit {done.returncode}: {done.stderr.decode()[-2000:]}")
    stored = sum(1 for b in json.loads(done.stdout)["bundles"] if b["stored"])
    LAST_CPU[0] = children_cpu() - cpu
    return seconds, stored


LAST_CPU = [0.0]  # CPU seconds of the last ``assessor ingest`` (its workers included)


def children_cpu() -> float:
    """CPU seconds of this process's finished children (a command and the workers it waited
    for): beside wall time, what a machine shared with other work still measures."""
    t = os.times()
    return t.children_user + t.children_system


def cores() -> int:
    return len(os.sched_getaffinity(0))


def job_counts() -> list[int]:
    """--jobs 1 and one per core, when ``assessor ingest`` has --jobs; else [0] (no flag)."""
    helped = subprocess.run([sys.executable, "-m", "assessor", "ingest", "--help"],
                            capture_output=True, check=False, env=ENV)  # fmt: skip
    if b"--jobs" not in helped.stdout:
        print("assessor ingest has no --jobs yet: one bundle at a time")
        return [0]
    return sorted({1, cores()})


@dataclass
class FleetBundles:
    hosts: list[SyntheticHost]  # the first quarter's
    q1: list[Path]
    q2: list[Path]
    cert: Path
    floor_s: float


def make_bundles(work: Path, n: int) -> FleetBundles:
    start = time.perf_counter()
    fleet = Fleet(n)
    quarters = [[fleet.host(h, q) for h in range(n)] for q in range(len(PERIODS))]
    docs = sum(h.documents for h in quarters[0])
    made = time.perf_counter() - start
    identity, cert = signing_identity(work)
    written = [
        write_bundles(hosts, work / f"q{i + 1}", identity) for i, hosts in enumerate(quarters)
    ]
    q1, q2 = (sorted((work / f"q{i + 1}").iterdir()) for i in range(len(PERIODS)))
    size = sum(p.stat().st_size for p in q1)
    floor_s = bundle_floor(q1)
    print(
        f"fleet: {n:,} hosts, {docs:,} documents ({docs / n:.1f} per host: host, engine, "
        f"containers, images), generated in {made:.1f} s; bundles signed and written by "
        f"assessor.bundle in {written[0]:.1f} s, {size / n / 1000:.1f} KB each"
    )
    print(
        f"baseline, the physical limit (read, untar, gunzip, SHA-256 each member): {floor_s:.2f} s"
    )
    return FleetBundles(quarters[0], q1, q2, cert, floor_s)


# --- the run ----------------------------------------------------------------------------------


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def report_ingest(label: str, seconds: float, hosts: int, floor_s: float) -> None:
    per = seconds / hosts * 1000
    goal = f" ({'meets' if seconds <= GOAL_S * hosts / 1000 else 'MISSES'} the 60 s/1,000 goal)"
    print(
        f"{label}: {seconds:.1f} s for {hosts:,} bundles ({LAST_CPU[0]:.1f} s CPU), "
        f"{per:.1f} ms each, {hosts / seconds:,.0f}/s; {seconds / floor_s:.0f}x the physical "
        f"limit{goal}"
    )


def print_growth(label: str, n: int, size1: int, size2: int, ev1: int, ev2: int) -> None:
    per1k = 1000 / n
    print(
        f"{label} database: {mb(size1 * per1k)} per 1,000 hosts after one quarter "
        f"({ev1:,} evidence documents); a second quarter adds {mb((size2 - size1) * per1k)} "
        f"per 1,000 hosts ({ev2 - ev1:,} new documents)"
    )


def sqlite_run(work: Path, catalog: Catalog, fleet: FleetBundles) -> None:
    n = len(fleet.q1)
    ev_s = evaluate_only(catalog, fleet.hosts)
    print(f"baseline, evaluation alone (evaluate() of every target, nothing stored): {ev_s:.1f} s")
    raw_s = raw_ingest(work / "raw.db", catalog, fleet.hosts)
    print(f"baseline, raw sqlite3 writing the same rows (evaluated before, untimed): {raw_s:.1f} s")
    url, path, jobs = "", work, 1
    for jobs in job_counts():
        path = work / f"fleet-{jobs}.db"
        url = f"sqlite:///{path}"
        open_store(url).close()  # migrations, outside the timing
        seconds, stored = ingest(fleet.q1, fleet.cert, url, PERIODS[0], jobs)
        assert stored == n, f"stored {stored} of {n}"
        report_ingest(
            f"SQLite, assessor ingest{f' --jobs {jobs}' if jobs else ''}", seconds, n, fleet.floor_s
        )
        print(f"  = {seconds / (raw_s + ev_s):.2f}x (evaluation alone + raw sqlite3 writes)")
    again, stored = ingest(fleet.q1, fleet.cert, url, PERIODS[0], jobs)
    print(
        f"SQLite, the same {n:,} bundles again: {again:.1f} s ({LAST_CPU[0]:.1f} s CPU), {stored} stored"
    )
    size1, tables1 = sqlite_size(path)
    ev1 = evidence_rows(url)
    seconds2, _ = ingest(fleet.q2, fleet.cert, url, PERIODS[1], jobs)
    size2, tables2 = sqlite_size(path)
    print(f"SQLite, second quarter: {seconds2:.1f} s ({LAST_CPU[0]:.1f} s CPU)")
    print_growth("SQLite", n, size1, size2, ev1, evidence_rows(url))
    print(
        "  by table, first quarter (+ second): "
        + ", ".join(
            f"{t} {mb(s)} (+{mb(tables2.get(t, 0) - s)})"
            for t, s in sorted(tables1.items(), key=lambda kv: -kv[1])
            if s > 100_000
        )
    )
    fleet_report(work, url, n)


def fleet_report(work: Path, url: str, n: int) -> None:
    """The fleet report of the first quarter (every host of the system), rendered as HTML."""
    helped = subprocess.run([sys.executable, "-m", "assessor", "report", "--help"],
                            capture_output=True, check=False, env=ENV)  # fmt: skip
    if b"fleet" not in helped.stdout:
        print("fleet report: MISSING (assessor report has no fleet report yet)")
        return
    out = work / "report" / "fleet.html"
    out.parent.mkdir()
    cmd = [sys.executable, "-m", "assessor", "report", "--system", SYSTEM, "--period",
           PERIODS[0], "--db", url, "-o", str(out)]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, check=False, env=ENV)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        print(f"fleet report: failed (exit {done.returncode}): {done.stderr.decode()[-400:]}")
        return
    files = [p for p in out.parent.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    print(
        f"fleet report of {n:,} hosts (HTML): {seconds:.1f} s, {len(files)} file(s), "
        f"{mb(out.stat().st_size)} the report, {mb(total)} in all"
    )


def pg_run(fleet: FleetBundles) -> None:
    n = len(fleet.q1)
    with pg_database() as pg:
        if pg is None:
            return
        url, size = pg
        open_store(url).close()
        size0 = size()
        jobs = job_counts()[-1]
        seconds, stored = ingest(fleet.q1, fleet.cert, url, PERIODS[0], jobs)
        assert stored == n, f"stored {stored} of {n}"
        size1 = size()
        ev1 = evidence_rows(url)
        label = f"PostgreSQL, assessor ingest{f' --jobs {jobs}' if jobs else ''}"
        report_ingest(label, seconds, n, fleet.floor_s)
        seconds2, _ = ingest(fleet.q2, fleet.cert, url, PERIODS[1], jobs)
        print(f"PostgreSQL, second quarter: {seconds2:.1f} s ({LAST_CPU[0]:.1f} s CPU here)")
        print_growth("PostgreSQL", n, size1 - size0, size() - size0, ev1, evidence_rows(url))


def profile_ingest(work: Path, fleet: FleetBundles) -> None:
    from assessor import pipeline

    db = f"sqlite:///{work}/profile.db"
    request = pipeline.IngestRequest(fleet.q1, [fleet.cert], system=SYSTEM, db=db)
    prof = cProfile.Profile()
    prof.enable()
    pipeline.ingest(request, lambda _: None)
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(30)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--no-pg", action="store_true", help="SQLite only")
    ap.add_argument("--profile", action="store_true", help="profile one in-process ingest")
    args = ap.parse_args(argv)
    catalog = load_catalog()
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        work = Path(tmp)
        print(f"machine: {cores()} cores, load average {os.getloadavg()[0]:.1f} at the start")
        fleet = make_bundles(work, args.hosts)
        if args.profile:
            profile_ingest(work, fleet)
            return
        scanned = scan_baseline(work)
        if scanned is not None:
            seconds, results, targets = scanned
            print(
                f"baseline, one scan of this machine ({targets}): {seconds:.2f} s, {results} results"
            )
        sqlite_run(work, catalog, fleet)
        if not args.no_pg:
            pg_run(fleet)


if __name__ == "__main__":
    main()
