"""Several processes writing one PostgreSQL database at once (issue 21, item 4).

SQLite serialises writers with its database lock; PostgreSQL locks rows, so what SQLite
guarded for free needs a lock of its own there: the first open's migration, the history chain
of a system finalised twice at once, and evidence shared by transactions that insert it in
different orders. Each test starts its processes at one barrier, so they overlap.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from typing import Any

from assessor.store.db import HEAD
from tests.conftest import sql

SPAWN = multiprocessing.get_context("spawn")  # a child of its own: no engine shared by fork


def _in_processes(n: int, target: Callable[..., object], *args: object) -> list[str]:
    """Run ``target(barrier, i, *args)`` in n processes; each one's outcome ('ok' or the
    error's first line)."""
    barrier = SPAWN.Barrier(n)
    results = SPAWN.Queue()
    procs = [
        SPAWN.Process(target=_child, args=(results, target, barrier, i, *args)) for i in range(n)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0, f"child exited {p.exitcode}"
    out = dict(results.get(timeout=5) for _ in procs)
    return [out[i] for i in range(n)]


def _child(
    results: Any, target: Callable[..., object], barrier: Any, i: int, *args: object
) -> None:
    try:
        value = target(barrier, i, *args)
        results.put((i, "ok" if value is None else str(value)))
    except BaseException as e:
        first = (str(e) or type(e).__name__).splitlines()[0]
        results.put((i, f"{type(e).__name__}: {first}"))


def _open(barrier: Any, _i: int, url: str) -> None:
    from assessor.store import open_store

    barrier.wait()
    open_store(url).close()


def test_processes_opening_a_new_database_at_once_all_migrate_it_once(pg_url: str) -> None:
    for _ in range(3):  # before the lock, most rounds had one process fail
        sql(pg_url, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public")
        outcomes = _in_processes(6, _open, pg_url)
        assert outcomes == ["ok"] * 6
        assert sql(pg_url, "SELECT version_num FROM alembic_version") == [(HEAD,)]


def _finalise(barrier: Any, i: int, url: str, ids: list[int]) -> str:
    import assessor.audit.history as history
    from assessor.store import open_store

    digest = history.assessment_digest

    def slow(*a: Any) -> str:  # widens the window between reading the chain and committing
        time.sleep(0.5)
        return digest(*a)

    history.assessment_digest = slow  # type: ignore[assignment]
    store = open_store(url)
    try:
        barrier.wait()
        done = history.finalise(store, str(ids[i]), by=f"auditor-{i}")
        return f"previous {done.previous_id}"
    finally:
        store.close()


def test_one_system_finalised_twice_at_once_chains_one_after_the_other(pg_url: str) -> None:
    from assessor.audit import history
    from assessor.store import open_store
    from tests.reportdata import make_assessment

    ids = [make_assessment(pg_url, 2, system="prod")[0] for _ in range(2)]
    outcomes = _in_processes(2, _finalise, pg_url, ids)
    # one of them chains to nothing, the other to it; never both to nothing (a fork)
    assert sorted(outcomes) == sorted(["previous None", f"previous {ids[0]}"]) or sorted(
        outcomes
    ) == sorted(["previous None", f"previous {ids[1]}"]), outcomes
    store = open_store(pg_url)
    try:
        (chain,) = history.verify(store, "prod")
        assert chain.intact, chain.breaks
        assert len(chain.entries) == 2
    finally:
        store.close()


def _record(barrier: Any, i: int, url: str, n: int, round_: int) -> None:
    from assessor.evidence import Evidence
    from assessor.store import open_store, queries

    evidence = [
        Evidence("container", "engine:unix:///s", f"c{k}", {"k": k, "round": round_})
        for k in range(n)
    ]
    if i % 2:
        evidence.reverse()  # the same documents, in the opposite order
    store = open_store(url)
    try:
        aid = queries.create_assessment(store, "2026-Q4", ["engine:unix:///s"], "sha256:x")
        barrier.wait()
        queries.record_target(
            store, aid, "engine:unix:///s", "engine", status="collected", identity={},
            evidence=evidence,
        )  # fmt: skip
    finally:
        store.close()


def test_targets_sharing_evidence_stored_at_once_all_commit(pg_url: str) -> None:
    from assessor.store import open_store

    open_store(pg_url).close()
    n = 3000
    for round_ in range(2):  # new documents each round; before the fix most rounds deadlocked
        outcomes = _in_processes(4, _record, pg_url, n, round_)
        assert outcomes == ["ok"] * 4
    assert sql(pg_url, "SELECT count(*) FROM evidence") == [(2 * n,)]
    assert sql(pg_url, "SELECT count(*) FROM target_evidence") == [(8 * n,)]


def _cross(barrier: Any, i: int, url: str) -> str:
    """Lock row 1 then row 2 (even i) or row 2 then row 1 (odd i), as one retried
    transaction; how many attempts it took."""
    from sqlalchemy import text

    from assessor.store import open_store
    from assessor.store.db import retried

    store = open_store(url)
    attempts = []

    def work() -> None:
        attempts.append(1)
        with store.session() as s:
            first, second = (1, 2) if i % 2 == 0 else (2, 1)
            s.execute(text("UPDATE scratch SET n = n + 1 WHERE id = :id"), {"id": first})
            if len(attempts) == 1:
                barrier.wait()  # both hold their first row before either asks for the second
            s.execute(text("UPDATE scratch SET n = n + 1 WHERE id = :id"), {"id": second})
            s.commit()

    try:
        retried(work)
        return f"{len(attempts)} attempts"
    finally:
        store.close()


def test_a_transaction_rolled_back_for_a_deadlock_is_run_again(pg_url: str) -> None:
    from assessor.store import open_store

    open_store(pg_url).close()
    sql(
        pg_url,
        "CREATE TABLE scratch (id int PRIMARY KEY, n int NOT NULL)",
        "INSERT INTO scratch VALUES (1, 0), (2, 0)",
    )
    outcomes = _in_processes(2, _cross, pg_url)
    # PostgreSQL rolls one of them back (deadlock detected); it runs again after the other
    assert sorted(outcomes) == ["1 attempts", "2 attempts"], outcomes
    assert sql(pg_url, "SELECT n FROM scratch ORDER BY id") == [(2,), (2,)]
