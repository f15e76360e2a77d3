"""Fleets at scale (issue 21, item 6): ``--hosts`` synthetic hosts (default 1,000; each the
evidence ``assessor collect`` gives of a Docker host: its host document, its engine, 8-12
containers and 8-12 images, built from captured evidence by tests/bench/fleet.py) evaluated
with the current controls and stored as one assessment per host, on SQLite and on PostgreSQL.
Every figure comes with a baseline measured in the same run, so a busy machine still compares.

(a) ingest+evaluate wall time of all hosts, one assessment each (the assessment row, each
    target's evidence and results in one transaction, the assessment finished: the store path
    of ``assessor scan`` and ``assessor ingest``), on SQLite (goal <= 60 s for 1,000 hosts
    on 2 cores) and on the test setup's PostgreSQL (scripts/test-setup.sh; fsync off there).
    Baselines: the documents' own cost (canonical JSON, zlib and SHA-256 of each, what any
    store of them pays), and the same rows written by raw ``sqlite3`` executemany, one
    transaction per host, into a database made by assessor's migrations (same tables, indexes,
    foreign keys and pragmas).
(b) database growth per quarter: bytes after the first quarter (per 1,000 hosts), and what a
    second quarter adds when 5% of the hosts changed and the rest only re-collected (evidence
    is stored once per hash: an unchanged host and its containers add no document; its
    engine's clock and its images' ``read_at``/``age_days`` do change at every collection).
    SQLite size after a WAL checkpoint, by table (dbstat); PostgreSQL's pg_database_size.

    .venv/bin/python tests/bench/bench_fleet.py                   # full: 1,000 hosts, 2 quarters
    .venv/bin/python tests/bench/bench_fleet.py --hosts 100 --no-pg
    .venv/bin/python tests/bench/bench_fleet.py --hosts 200 --profile --no-pg   # where time goes
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import pstats
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
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
from assessor.store import open_store, queries  # noqa: E402
from assessor.vocab import AssessmentStatus, TargetStatus  # noqa: E402

GOAL_S = 60.0
PERIODS = ("2026-Q1", "2026-Q2")
SYSTEM = "fleet-bench"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
PG_ADMIN_URL = os.environ.get(
    "ASSESSOR_TEST_PG", "postgresql+psycopg://postgres@/postgres?host=/run/assessor-test-pg"
)


def scope(host: SyntheticHost) -> dict[str, dict[str, frozenset[str]]]:
    """Each target's kinds as its collector declares them (the engine's: engine, container,
    image, so a host without containers still gets its "no container found" results)."""
    kinds = {"host": frozenset({"host"}), "engine": frozenset({"engine", "container", "image"})}
    return {t.uri: {t.uri: kinds[t.kind]} for t in host.targets}


def ingest_host(store: Any, catalog: Catalog, host: SyntheticHost, period: str) -> int:
    """One host as one assessment: what ``assessor ingest`` stores of a bundle."""
    kinds = scope(host)
    aid = queries.create_assessment(
        store, period, [t.uri for t in host.targets], catalog.digest, system=SYSTEM
    )
    for t in host.targets:
        results = evaluate(catalog, t.evidence, kinds[t.uri])
        queries.record_target(
            store,
            aid,
            t.uri,
            t.kind,
            status=TargetStatus.COLLECTED,
            identity=t.identity,
            evidence=t.evidence,
            results=results,
        )
    queries.finish_assessment(store, aid, AssessmentStatus.COMPLETE)
    return aid


def ingest_all(url: str, catalog: Catalog, hosts: Sequence[SyntheticHost], period: str) -> float:
    store = open_store(url)
    try:
        start = time.perf_counter()
        for host in hosts:
            ingest_host(store, catalog, host, period)
        return time.perf_counter() - start
    finally:
        store.close()


# --- baselines --------------------------------------------------------------------------------


def documents_cost(hosts: Sequence[SyntheticHost]) -> float:
    """Canonical JSON, zlib and SHA-256 of every document: what storing them costs at least."""
    docs = [ev.document() for h in hosts for t in h.targets for ev in t.evidence]
    start = time.perf_counter()
    for doc in docs:
        body = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        hashlib.sha256(body).hexdigest()
        zlib.compress(body, 6)
    return time.perf_counter() - start


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


# --- the run ----------------------------------------------------------------------------------


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def report_ingest(label: str, seconds: float, hosts: int, docs_s: float) -> None:
    per = seconds / hosts * 1000
    goal = f" ({'meets' if seconds <= GOAL_S * hosts / 1000 else 'MISSES'} the 60 s/1,000 goal)"
    print(
        f"{label}: {seconds:.1f} s for {hosts:,} hosts, {per:.1f} ms/host, "
        f"{hosts / seconds:,.0f} hosts/s; {seconds / docs_s:.1f}x the documents' own cost{goal}"
    )


def sqlite_run(work: Path, catalog: Catalog, quarters: list[list[SyntheticHost]]) -> None:
    q1, q2 = quarters
    n = len(q1)
    docs_s = documents_cost(q1)
    ev_s = evaluate_only(catalog, q1)
    path = work / "fleet.db"
    url = f"sqlite:///{path}"
    open_store(url).close()  # migrations, outside the timing
    seconds = ingest_all(url, catalog, q1, PERIODS[0])
    raw_s = raw_ingest(work / "raw.db", catalog, q1)
    print(f"baseline, the documents' own cost (canonical JSON, SHA-256, zlib): {docs_s:.1f} s")
    print(f"evaluation alone (evaluate() of every target, nothing stored): {ev_s:.1f} s")
    print(f"baseline, raw sqlite3 writing the same rows (evaluated before): {raw_s:.1f} s")
    report_ingest("SQLite ingest+evaluate", seconds, n, docs_s)
    print(f"  = {seconds / (raw_s + ev_s):.2f}x (evaluation alone + raw sqlite3 writes)")
    size1, tables1 = sqlite_size(path)
    ev1 = evidence_rows(url)
    seconds2 = ingest_all(url, catalog, q2, PERIODS[1])
    size2, tables2 = sqlite_size(path)
    ev2 = evidence_rows(url)
    print(f"SQLite second quarter: {seconds2:.1f} s")
    print_growth("SQLite", n, size1, size2, ev1, ev2)
    print(
        "  by table, first quarter (+ second): "
        + ", ".join(
            f"{t} {mb(s)} (+{mb(tables2.get(t, 0) - s)})"
            for t, s in sorted(tables1.items(), key=lambda kv: -kv[1])
            if s > 100_000
        )
    )


def print_growth(label: str, n: int, size1: int, size2: int, ev1: int, ev2: int) -> None:
    per1k = 1000 / n
    print(
        f"{label} database: {mb(size1 * per1k)} per 1,000 hosts after one quarter "
        f"({ev1:,} evidence documents); a second quarter adds {mb((size2 - size1) * per1k)} "
        f"per 1,000 hosts ({ev2 - ev1:,} new documents)"
    )


def pg_run(catalog: Catalog, quarters: list[list[SyntheticHost]]) -> None:
    q1, q2 = quarters
    with pg_database() as pg:
        if pg is None:
            return
        url, size = pg
        open_store(url).close()
        size0 = size()
        seconds = ingest_all(url, catalog, q1, PERIODS[0])
        size1 = size()
        ev1 = evidence_rows(url)
        report_ingest("PostgreSQL ingest+evaluate", seconds, len(q1), documents_cost(q1))
        seconds2 = ingest_all(url, catalog, q2, PERIODS[1])
        print(f"PostgreSQL second quarter: {seconds2:.1f} s")
        print_growth("PostgreSQL", len(q1), size1 - size0, size() - size0, ev1, evidence_rows(url))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--no-pg", action="store_true", help="SQLite only")
    ap.add_argument("--profile", action="store_true", help="profile the SQLite ingest only")
    args = ap.parse_args(argv)
    catalog = load_catalog()
    start = time.perf_counter()
    fleet = Fleet(args.hosts)
    quarters = [[fleet.host(h, q) for h in range(args.hosts)] for q in range(len(PERIODS))]
    docs = sum(h.documents for h in quarters[0])
    print(
        f"fleet: {args.hosts:,} hosts, {docs:,} documents "
        f"({docs / args.hosts:.1f} per host: host, engine, containers, images), "
        f"generated in {time.perf_counter() - start:.1f} s (untimed)"
    )
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            ingest_all(f"sqlite:///{tmp}/p.db", catalog, quarters[0], PERIODS[0])
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(30)
            return
        scanned = scan_baseline(Path(tmp))
        if scanned is not None:
            seconds, results, targets = scanned
            print(
                f"baseline, one scan of this machine ({targets}): {seconds:.2f} s, {results} results"
            )
        sqlite_run(Path(tmp), catalog, quarters)
    if not args.no_pg:
        pg_run(catalog, quarters)


if __name__ == "__main__":
    main()
