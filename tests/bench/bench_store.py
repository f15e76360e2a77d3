"""The store at scale (issue 8, item 7): writing a million results, trends over 8 quarters of
1,000 hosts, and how little an unchanged host adds per quarter. Every ratio is against a
baseline measured in the same run.

(a) write: ``--results`` synthetic results (default 1,000,000: 1,000 targets x 1,000 results,
    realistic rule ids, titles, severities, messages and framework references; one evidence
    document per target) stored, one transaction per target,
    - through ``assessor.store.queries.record_target`` (the scan's write path);
    - the baseline: the same rows, one transaction per target, by raw ``sqlite3`` ``execute`` /
      ``executemany`` into the same tables (a database created by assessor's own migrations, so
      the same columns, indexes and foreign keys), with the same pragmas.
    Building the rows is outside every timing; JSON-encoding them is inside (both sides do it).
    Prints seconds, results/s and the ratio to the baseline (goal <= 2x).
(b) trend: ``--quarters`` quarterly assessments (default 8) of one system of ``--hosts`` host
    targets (default 1,000), each with 40 results with references; times
    ``assessor.audit.trend.period_trend`` (the function the report and ``assessor trend`` share;
    median of 3) against a raw ``sqlite3`` read of the same columns of the same assessments
    with ``json.loads`` of every row's references, then ``assessor trend`` once in a fresh
    process.
(c) evidence dedup: in (b) each host has a ~4 KB evidence document; each quarter 5% of the
    hosts change (a new document), the rest are unchanged. Prints the database size (after a
    WAL checkpoint) and new evidence rows per quarter, beside what the evidence would weigh
    without deduplication (evidence MB: the compressed bodies stored; w/o dedup: what storing
    every host's document every quarter would take).

    .venv/bin/python tests/bench/bench_store.py                                  # full
    .venv/bin/python tests/bench/bench_store.py --results 50000 --hosts 100 --quarters 3
    .venv/bin/python tests/bench/bench_store.py --results 20000 --profile       # where time goes
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import json
import pstats
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from assessor.audit.trend import period_trend  # noqa: E402
from assessor.catalog import load_catalog  # noqa: E402
from assessor.evidence import Evidence  # noqa: E402
from assessor.report.data import DEFAULT_FRAMEWORKS  # noqa: E402
from assessor.results import Result as EvalResult  # noqa: E402
from assessor.store import open_store, queries  # noqa: E402
from assessor.store.db import Store  # noqa: E402
from assessor.store.models import Assessment  # noqa: E402
from assessor.store.models import Result as ResultRow  # noqa: E402
from assessor.vocab import AssessmentStatus, Status  # noqa: E402

RESULT_TABLE: Any = ResultRow.__table__
PYTHON = sys.executable
PER_TARGET = 1000
HOST_RULES = 40
CHANGED_SHARE = 0.05
GOAL = 2.0

Rule = tuple[str, str, str, dict[str, list[str]]]


def rule_pool() -> list[Rule]:
    catalog = load_catalog()
    pool = [
        (r.id, r.title, str(r.severity), catalog.references.get(r.id, {}))
        for r in sorted(catalog.rules.values(), key=lambda r: r.id)
    ]
    return [p for p in pool if p[3]] or pool


STATUSES = (Status.PASS,) * 7 + (Status.FAIL,) * 2 + (Status.NOT_APPLICABLE,)


def target_results(pool: Sequence[Rule], t: int, n: int, evidence: str) -> list[EvalResult]:
    out = []
    for j in range(n):
        rid, title, sev, refs = pool[j % len(pool)]
        resource = f"/srv/app{j // len(pool):03d}/{rid}"
        status = STATUSES[(t * 7 + j * 13) % len(STATUSES)]
        msg = f"{resource}: {status.value} (observed value {j % 17}, expected 0)"
        out.append(
            EvalResult(rid, title, sev, f"host:/t{t}", resource, status, msg, evidence, refs)
        )
    return out


def host_doc(h: int, version: int) -> dict[str, Any]:
    """About 4 KB of JSON: what a host collector records (kernel, sysctls, mounts, packages)."""
    return {
        "hostname": f"host-{h:05d}",
        "kernel": f"6.1.0-{18 + version}-amd64",
        "os_release": {"ID": "debian", "VERSION_ID": "12", "PRETTY_NAME": "Debian GNU/Linux 12"},
        "sysctl": {f"net.ipv4.conf.eth{i % 4}.opt{i}": (i * 7 + h) % 3 for i in range(80)},
        "mounts": [
            {"target": f"/mnt/vol{i}", "source": f"/dev/sd{chr(97 + i)}1", "options": "rw,nodev"}
            for i in range(8)
        ],
        "packages": [
            {"name": f"pkg-{i:03d}", "version": f"1.{i % 9}.{version}"} for i in range(60)
        ],
    }


# --- (a) writing results ---------------------------------------------------------------------


def raw_target(
    conn: sqlite3.Connection,
    assessment_id: int,
    uri: str,
    identity: dict[str, Any],
    ev: Evidence,
    results: Sequence[EvalResult],
) -> None:
    """The baseline: the same rows by raw sqlite3, one transaction."""
    cur = conn.cursor()
    cur.execute(
        "INSERT INTO target (assessment_id, uri, kind, status, identity, error) "
        "VALUES (?, ?, ?, ?, ?, NULL)",
        (assessment_id, uri, "host", "collected", json.dumps(identity)),
    )
    tid = cur.lastrowid
    body = ev.canonical()
    cur.execute(
        "INSERT OR IGNORE INTO evidence (hash, kind, size, body) VALUES (?, ?, ?, ?)",
        (ev.sha256, ev.kind, len(body), zlib.compress(body, 6)),
    )
    cur.execute(
        "INSERT INTO target_evidence (target_id, evidence_hash, resource, collected_at) "
        "VALUES (?, ?, ?, ?)",
        (tid, ev.sha256, ev.resource, ev.collected_at.strftime("%Y-%m-%d %H:%M:%S.%f")),
    )
    cur.executemany(
        'INSERT INTO result (assessment_id, target_id, rule, title, severity, resource, status, '
        'message, evidence_hash, "references") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        [
            (assessment_id, tid, r.rule, r.title, r.severity, r.resource, r.status.value,
             r.message, r.evidence, json.dumps(r.references))
            for r in results
        ],
    )  # fmt: skip
    conn.commit()


def raw_connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def write_run(work: Path, how: str, pool: list[Rule], n: int, per: int) -> float:
    """Store n results (per per target) by ``how``; returns the seconds spent storing."""
    path = work / f"write-{how}.db"
    store = open_store(f"sqlite:///{path}")
    aid = queries.create_assessment(store, "2026-Q4", ["host:/"], "sha256:bench")
    conn = None
    if how == "sqlite3":
        store.close()
        conn = raw_connect(path)
    spent = 0.0
    targets = (n + per - 1) // per
    for t in range(targets):
        count = min(per, n - t * per)
        ev = Evidence("host", f"host:/t{t}", "host", host_doc(t, 0))
        results = target_results(pool, t, count, ev.sha256)
        identity = {"hostname": f"host-{t:05d}", "machine_id": f"{t:032x}"}
        start = time.perf_counter()
        if conn is not None:
            raw_target(conn, aid, f"host:/t{t}", identity, ev, results)
        else:
            kw: dict[str, Any] = {"status": "collected", "identity": identity,
                                  "evidence": [ev], "results": results}  # fmt: skip
            queries.record_target(store, aid, f"host:/t{t}", "host", **kw)
        spent += time.perf_counter() - start
    if conn is not None:
        stored = conn.execute("SELECT count(*) FROM result").fetchone()[0]
        conn.close()
    else:
        with store.session() as s:
            from sqlalchemy import func, select

            stored = s.scalar(select(func.count()).select_from(ResultRow))
        store.close()
    if stored != n:
        raise SystemExit(f"{how}: stored {stored} results, expected {n}")
    path.unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return spent


def profile_write(work: Path, pool: list[Rule], n: int, per: int) -> None:
    prof = cProfile.Profile()
    prof.enable()
    write_run(work, "record_target", pool, n, per)
    prof.disable()
    print(f"\nprofile of record_target, {n:,} results (top 15 by own time):")
    pstats.Stats(prof).sort_stats("tottime").print_stats(15)


# --- (b) trend over quarters, (c) evidence dedup ----------------------------------------------


def periods(quarters: int) -> list[str]:
    out = []
    year, q = 2025, 1
    for _ in range(quarters):
        out.append(f"{year}-Q{q}")
        q += 1
        if q == 5:
            year, q = year + 1, 1
    return out


def db_size(store: Store, path: Path) -> int:
    from sqlalchemy import text

    with store.engine.connect() as c:
        c.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    wal = Path(f"{path}-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def fill_quarters(
    path: Path, pool: list[Rule], hosts: int, quarters: int
) -> tuple[list[tuple[str, float, int, int, int, int, int]], int]:
    """Returns, per quarter, (period, seconds, new evidence rows, db bytes, evidence bytes if
    not deduplicated, changed hosts, evidence bytes stored), and the last assessment id."""
    rules = pool[:HOST_RULES]
    rng = random.Random(8176)
    version = [0] * hosts
    statuses: list[list[Status]] = [[Status.PASS] * len(rules) for _ in range(hosts)]
    store = open_store(f"sqlite:///{path}")
    rows = []
    naive = 0
    aid = 0
    try:
        for qi, period in enumerate(periods(quarters)):
            fail_p = max(0.05, 0.30 - 0.03 * qi)  # posture improves each quarter
            changed = list(range(hosts)) if qi == 0 else rng.sample(range(hosts),
                                                                    int(hosts * CHANGED_SHARE))  # fmt: skip
            for h in changed:
                version[h] += 1 if qi else 0
                statuses[h] = [Status.FAIL if rng.random() < fail_p else Status.PASS for _ in rules]
            with store.session() as s:
                from sqlalchemy import func, select

                from assessor.store.models import Evidence as EvidenceRow

                before = s.scalar(select(func.count()).select_from(EvidenceRow)) or 0
            start = time.perf_counter()
            aid = queries.create_assessment(store, period, ["host:/"], "sha256:bench",
                                            system="fleet")  # fmt: skip
            for h in range(hosts):
                ev = Evidence("host", f"ssh://host-{h:05d}", "host", host_doc(h, version[h]))
                naive += len(zlib.compress(ev.canonical(), 6))
                results = [
                    EvalResult(rid, title, sev, f"ssh://host-{h:05d}", "host", st,
                               f"host-{h:05d}: {st.value}", ev.sha256, refs)
                    for (rid, title, sev, refs), st in zip(rules, statuses[h], strict=True)
                ]  # fmt: skip
                queries.record_target(store, aid, f"ssh://host-{h:05d}", "host",
                                      status="collected", identity={"hostname": f"host-{h:05d}"},
                                      evidence=[ev], results=results)  # fmt: skip
            queries.finish_assessment(store, aid, AssessmentStatus.COMPLETE)
            spent = time.perf_counter() - start
            with store.session() as s:
                after = s.scalar(select(func.count()).select_from(EvidenceRow)) or 0
                stored = s.scalar(select(func.sum(func.length(EvidenceRow.body)))) or 0
            rows.append((period, spent, after - before, db_size(store, path), naive,
                         len(changed), stored))  # fmt: skip
    finally:
        store.close()
    return rows, aid


def raw_trend_read(path: Path, ids: Sequence[int]) -> int:
    conn = sqlite3.connect(path)
    n = 0
    try:
        for aid in ids:
            for _st, _sev, refs in conn.execute(
                'SELECT status, severity, "references" FROM result WHERE assessment_id = ?',
                (aid,),
            ):
                json.loads(refs)
                n += 1
    finally:
        conn.close()
    return n


def timed(fn: Callable[[], Any], runs: int = 3) -> tuple[float, Any]:
    times, value = [], None
    for _ in range(runs):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=int, default=1_000_000)
    ap.add_argument("--per-target", type=int, default=PER_TARGET)
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--quarters", type=int, default=8)
    ap.add_argument("--profile", action="store_true", help="profile record_target, then stop")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="assessor-bench-store-"))
    try:
        pool = rule_pool()
        if args.profile:
            profile_write(work, pool, args.results, args.per_target)
            return
        n, per = args.results, args.per_target
        print(f"(a) {n:,} results, {per} per target ({(n + per - 1) // per:,} transactions), "
              f"{len(pool)} distinct rules; SQLite {sqlite3.sqlite_version}")  # fmt: skip
        base = write_run(work, "sqlite3", pool, n, per)
        ours = write_run(work, "record_target", pool, n, per)
        print(f"{'writer':44} {'seconds':>8} {'results/s':>10} {'ratio':>6}")
        for label, sec in (
            ("raw sqlite3 executemany (baseline)", base),
            ("queries.record_target (assessor's write path)", ours),
        ):
            print(f"{label:44} {sec:8.2f} {n / sec:10,.0f} {sec / base:5.2f}x")
        verdict = "meets" if ours / base <= GOAL else "MISSES"
        print(f"record_target: {ours / base:.2f}x the raw baseline ({verdict} the goal <= "
              f"{GOAL:.0f}x)")  # fmt: skip

        hosts, quarters = args.hosts, args.quarters
        path = work / "quarters.db"
        print(f"\n(b, c) {quarters} quarters x {hosts:,} hosts x {min(HOST_RULES, len(pool))} "
              f"results; {CHANGED_SHARE:.0%} of hosts change each quarter")  # fmt: skip
        rows, last = fill_quarters(path, pool, hosts, quarters)
        print(f"{'period':8} {'write s':>8} {'changed':>8} {'new evidence':>13} {'db MB':>8} "
              f"{'growth MB':>10} {'evidence MB':>12} {'w/o dedup':>10}")  # fmt: skip
        prev = 0
        for period, sec, new_ev, size, naive, changed, stored in rows:
            print(f"{period:8} {sec:8.2f} {changed:8} {new_ev:13} {size / 1e6:8.2f} "
                  f"{(size - prev) / 1e6:10.2f} {stored / 1e6:12.2f} {naive / 1e6:10.2f}")  # fmt: skip
            prev = size
        store = open_store(f"sqlite:///{path}")
        try:
            with store.session() as s:
                anchor = s.get(Assessment, last)
            assert anchor is not None
            fws = list(DEFAULT_FRAMEWORKS)
            t_fn, points = timed(lambda: period_trend(store, anchor, fws, limit=quarters))
        finally:
            store.close()
        ids = [p.assessment_id for p in points]
        t_raw, nrows = timed(lambda: raw_trend_read(path, ids))
        start = time.perf_counter()
        proc = subprocess.run(
            [PYTHON, "-m", "assessor", "trend", "--system", "fleet", "--format", "json",
             "--periods", str(quarters), "--db", f"sqlite:///{path}"],
            capture_output=True, text=True, cwd=ROOT, timeout=600, check=False,
        )  # fmt: skip
        t_cli = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"assessor trend failed ({proc.returncode}): {proc.stderr[-500:]}")
        got = len(json.loads(proc.stdout)["periods"])
        if len(points) != quarters or got != quarters:
            raise SystemExit(f"trend: {len(points)} / {got} periods, expected {quarters}")
        print(f"\ntrend over {quarters} periods ({nrows:,} results, {len(fws)} frameworks):")
        print(f"{'reader':52} {'seconds':>8} {'ratio':>6}")
        print(f"{'raw sqlite3 read + json.loads per row (baseline)':52} {t_raw:8.3f} {1:5.2f}x")
        print(f"{'period_trend (median of 3)':52} {t_fn:8.3f} {t_fn / t_raw:5.2f}x")
        print(f"{'assessor trend --format json (fresh process, once)':52} {t_cli:8.3f} "
              f"{t_cli / t_raw:5.2f}x")  # fmt: skip
        growth = [b[3] - a[3] for a, b in itertools.pairwise(rows)]
        if growth:
            first = rows[0][3]
            print(f"\ndatabase: {first / 1e6:.2f} MB after the first quarter, then "
                  f"{statistics.mean(growth) / 1e6:.2f} MB per quarter "
                  f"({statistics.mean(growth) / first:.0%} of the first): the quarter's result "
                  f"rows; evidence {rows[-1][6] / 1e6:.2f} MB stored against "
                  f"{rows[-1][4] / 1e6:.2f} MB without deduplication")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
