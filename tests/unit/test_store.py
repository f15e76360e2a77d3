from __future__ import annotations

import re
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from assessor.errors import StoreError
from assessor.evidence import Evidence
from assessor.results import Result
from assessor.store import open_store, queries
from assessor.store.db import (
    HEAD,
    REVISIONS,
    alembic_config,
    as_url,
    current_revision,
    make_engine,
)
from assessor.store.models import Base
from assessor.vocab import AssessmentStatus, Status


def test_upgrade_head_on_empty_db_has_no_drift_and_downgrades(store_url: str) -> None:
    engine = make_engine(as_url(store_url))
    command.upgrade(alembic_config(engine), "head")
    assert current_revision(engine) == HEAD
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []
    command.downgrade(alembic_config(engine), "base")
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_revision_list_matches_migration_scripts() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    ordered = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert tuple(ordered) == REVISIONS
    assert script.get_current_head() == HEAD


def test_sqlite_is_in_wal_mode(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.close()


def test_newer_database_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "n.db"
    open_store(f"sqlite:///{path}").close()
    con = sqlite3.connect(path)
    con.execute("UPDATE alembic_version SET version_num='9999'")
    con.commit()
    con.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match=r"schema revision 9999, newer than this assessor knows"):
        open_store(f"sqlite:///{path}")
    assert path.read_bytes() == before


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE mine (x)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="not an assessor database"):
        open_store(f"sqlite:///{path}")


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a readable SQLite database"):
        open_store(f"sqlite:///{path}")


def test_evidence_is_stored_once_and_results_round_trip(store_url: str) -> None:
    store = open_store(store_url)
    ev = Evidence(
        "container", "engine:unix:///s", "web (abc)", {"HostConfig": {"Privileged": True}}
    )
    res = Result(
        "r",
        "t",
        "high",
        "engine:unix:///s",
        "web (abc)",
        Status.FAIL,
        "m",
        ev.sha256,
        {"cis-docker-1.8.0": ["5.5"]},
    )
    for _ in range(2):
        aid = queries.create_assessment(store, "2026-Q4", ["engine:unix:///s"], "sha256:x")
        queries.record_target(
            store,
            aid,
            "engine:unix:///s",
            "engine",
            status="collected",
            identity={},
            evidence=[ev],
            results=[res],
        )
        queries.finish_assessment(store, aid, AssessmentStatus.COMPLETE)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM evidence").scalar() == 1
        assert conn.exec_driver_sql("SELECT count(*) FROM target_evidence").scalar() == 2
    rows = queries.get_results(store, aid)
    assert [(r.rule, r.status, r.references, uri) for r, uri in rows] == [
        ("r", "fail", {"cis-docker-1.8.0": ["5.5"]}, "engine:unix:///s")
    ]
    assert queries.get_evidence(store, ev.sha256) == ev.document()
    latest = queries.get_assessment(store, None)
    assert latest.id == aid and latest.status == "complete"
    assert re.fullmatch(r"[0-9a-f-]{36}", latest.uuid)
    store.close()


def test_the_read_model_refuses_a_stored_status_no_scan_writes(store_url: str) -> None:
    """A result row whose status is outside the vocabulary (a hand-edited or foreign
    database) is a one-line StoreError naming it, not a view with a word nobody maps."""
    from assessor import readmodel
    from assessor.catalog.loader import Catalog

    store = open_store(store_url)
    res = Result("r", "t", "high", "host:/", "*", Status.FAIL, "m", None)
    aid = queries.create_assessment(store, "2026-Q4", ["host:/"], "sha256:x")
    queries.record_target(
        store, aid, "host:/", "host", status="collected", identity={}, results=[res]
    )
    queries.finish_assessment(store, aid, AssessmentStatus.COMPLETE)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE result SET status = 'waived'")
    with pytest.raises(StoreError, match=r"has the status 'waived', which no scan stores"):
        readmodel.load(store, Catalog(), str(aid))
    store.close()


def test_finish_assessment_sets_its_row_only(store_url: str) -> None:
    """Status, end time (UTC) and note of the one assessment; the other rows are unchanged; an
    id that is not stored is an error."""
    from datetime import UTC, datetime

    store = open_store(store_url)
    first = queries.create_assessment(store, "2026-Q4", ["host:/"], "sha256:x")
    second = queries.create_assessment(store, "2026-Q4", ["host:/"], "sha256:x")
    before = datetime.now(UTC)
    queries.finish_assessment(store, second, AssessmentStatus.INCOMPLETE, "host:/: no such root")
    done = queries.get_assessment(store, str(second))
    assert (done.status, done.note) == ("incomplete", "host:/: no such root")
    assert done.finished is not None and done.finished.tzinfo is not None
    assert before.replace(microsecond=0) <= done.finished <= datetime.now(UTC)
    untouched = queries.get_assessment(store, str(first))
    assert (untouched.status, untouched.finished, untouched.note) == ("incomplete", None, None)
    with pytest.raises(AssertionError):
        queries.finish_assessment(store, second + 1, AssessmentStatus.COMPLETE)
    store.close()


def test_nul_in_a_targets_text_is_stored_escaped_on_every_backend(store_url: str) -> None:
    """A NUL from a target (a hostile image's config in a message, a name) is stored as the
    text \\x00 on both backends: PostgreSQL refuses NUL in text, and SQLite stores the same."""
    store = open_store(store_url)
    ev = Evidence("container", "engine:unix:///s", "web\x00(abc)", {"User": "\x00root"})
    res = Result(
        "r", "t\x00", "high", "engine:unix:///s", "web\x00(abc)", Status.FAIL,
        "runs as '\x00root'", ev.sha256,
    )  # fmt: skip
    aid = queries.create_assessment(store, "2026-Q4", ["engine:unix:///s"], "sha256:x")
    queries.record_target(
        store, aid, "engine:unix:///s", "engine", status="collected", identity={},
        error="read /x\x00y: refused", evidence=[ev], results=[res],
    )  # fmt: skip
    queries.finish_assessment(store, aid, AssessmentStatus.INCOMPLETE, "x\x00y")
    ((r, uri),) = queries.get_results(store, aid)
    assert (r.title, r.resource, r.message, uri) == (
        "t\\x00",
        "web\\x00(abc)",
        "runs as '\\x00root'",
        "engine:unix:///s",
    )
    with store.engine.connect() as conn:
        stored = conn.exec_driver_sql(
            "SELECT te.resource, t.error FROM target_evidence te JOIN target t ON t.id = te.target_id"
        ).one()
    assert tuple(stored) == ("web\\x00(abc)", "read /x\\x00y: refused")
    assert queries.get_assessment(store, str(aid)).note == "x\\x00y"
    assert queries.get_evidence(store, ev.sha256) == ev.document()  # JSON keeps the NUL itself
    store.close()


def test_results_are_stored_as_given_on_every_backend(store_url: str) -> None:
    """Results go to the driver itself (SQLite's executemany, PostgreSQL's COPY, whose text
    format gives tab, newline and backslash a meaning): every character a target can put in
    a message or a resource comes back as it was, references as their JSON, each rule's
    mapping stored once per row whichever result shares it."""
    store = open_store(store_url)
    ev = Evidence("container", "engine:unix:///s", "web", {"User": "root"})
    refs = {"cis-docker-1.8.0": ["5.1", "5.2"], "nistir-8176": ["4.1"]}
    texts = [
        "tab\there",
        "line\nbreak\r",
        "back\\slash \\N \\.",
        "quote ' \" ,;",
        "é 漢 🐳",
        "",
        "\\x00",
    ]
    results = [
        Result(f"rule-{i}", f"title {t}", "high", "engine:unix:///s", f"/r{i}/{t}",
               Status.FAIL if i % 2 else Status.PASS, f"message {t}",
               ev.sha256 if i % 3 else None, refs if i % 2 else {})
        for i, t in enumerate(texts)
    ]  # fmt: skip
    aid = queries.create_assessment(store, "2026-Q4", ["engine:unix:///s"], "sha256:x")
    queries.record_target(
        store, aid, "engine:unix:///s", "engine", status="collected", identity={},
        evidence=[ev], results=results,
    )  # fmt: skip
    stored = sorted(queries.get_results(store, aid), key=lambda row: row[0].rule)
    assert [
        (r.rule, r.title, r.severity, r.resource, r.status, r.message, r.evidence_hash,
         r.references, uri)
        for r, uri in stored
    ] == [
        (x.rule, x.title, x.severity, x.resource, x.status.value, x.message, x.evidence,
         x.references, "engine:unix:///s")
        for x in results
    ]  # fmt: skip
    store.close()


def test_long_target_text_is_stored_whole_on_every_backend(store_url: str) -> None:
    """PostgreSQL enforces a VARCHAR's length: a hostile image's 5,000-character path, a long
    target URI or scanning host's name must not fail the target (migration 0004 made them Text)."""
    store = open_store(store_url)
    uri = "image:oci:/" + "d" * 5000
    resource = "/" + "p" * 5000
    ev = Evidence("image-file", uri, resource, {"mode": "0777"})
    res = Result("r", "t", "high", uri, resource, Status.FAIL, "m", ev.sha256)
    aid = queries.create_assessment(store, "2026-Q4", [uri], "sha256:x")
    queries.record_target(
        store, aid, uri, "image", status="collected", identity={}, evidence=[ev], results=[res]
    )
    ((r, stored_uri),) = queries.get_results(store, aid)
    assert (r.resource, stored_uri) == (resource, uri)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT resource FROM target_evidence").scalar() == resource
    store.close()


def test_migrations_keep_every_stored_row(store_url: str) -> None:
    """Down to 0003 and up again through the migration engine 'assessor db upgrade' uses: every
    row survives. (On SQLite, batch mode copies a table and drops the old one; with foreign keys
    on, that DROP cascaded and 0004 deleted every result and target.)"""
    from assessor.store.db import _migration_engine

    store = open_store(store_url)
    ev = Evidence("host", "host:/", "whole host", {"k": "v"})
    res = Result("r", "t", "high", "host:/", "whole host", Status.FAIL, "m", ev.sha256)
    aid = queries.create_assessment(store, "2026-Q4", ["host:/"], "sha256:x")
    queries.record_target(
        store, aid, "host:/", "host", status="collected", identity={}, evidence=[ev], results=[res]
    )
    store.close()

    def counts() -> list[int]:
        engine = make_engine(as_url(store_url))
        with engine.connect() as conn:
            tables = ("assessment", "target", "evidence", "target_evidence", "result")
            found = [conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one() for t in tables]
        engine.dispose()
        return found

    assert counts() == [1, 1, 1, 1, 1]
    migrating = _migration_engine(make_engine(as_url(store_url)))
    command.downgrade(alembic_config(migrating), "0003")
    migrating.dispose()
    assert counts() == [1, 1, 1, 1, 1]
    store = open_store(store_url)  # upgrades to HEAD, as every command does
    assert [r.resource for r, _ in queries.get_results(store, aid)] == ["whole host"]
    store.close()
    assert counts() == [1, 1, 1, 1, 1]


def test_results_come_in_byte_order_whatever_the_databases_collation(
    pg_admin: Any, tmp_path: Path
) -> None:
    """A PostgreSQL database made with a language collation (ICU en-US orders '_z' < 'a' < 'B')
    returns results in the same order as SQLite (bytes: 'B' < '_z' < 'a'), so an export is the
    same file from either backend."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from tests.conftest import PG_ADMIN_URL

    name = f"assessor_test_icu_{uuid.uuid4().hex[:12]}"
    with pg_admin.connect() as conn:
        conn.execute(
            text(
                f"CREATE DATABASE \"{name}\" LOCALE_PROVIDER icu ICU_LOCALE 'en-US' "
                "TEMPLATE template0"
            )
        )
    pg = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    resources = ["a", "_z", "B", "cis1.2", "cis-1.10", "z"]
    try:
        orders = []
        for url in (f"sqlite:///{tmp_path / 'a.db'}", pg):
            store = open_store(url)
            aid = queries.create_assessment(store, "2026-Q4", ["host:/"], "sha256:x")
            evs = [Evidence("host", "host:/", r, {}) for r in resources]
            results = [
                Result(rule, "t", "high", "host:/", r, Status.FAIL, "m", None)
                for r in resources
                for rule in ("b-rule", "B-rule", "a_rule")
            ]
            queries.record_target(
                store, aid, "host:/", "host", status="collected", identity={},
                evidence=evs, results=results,
            )  # fmt: skip
            tid = queries.get_targets(store, aid)[0].id
            with store.session() as s:
                evidence_order = [row[2] for row in queries.target_evidence_rows(s, [tid])]
            results_order = [(r.rule, r.resource) for r, _ in queries.get_results(store, aid)]
            orders.append((results_order, evidence_order))
            store.close()
    finally:
        with pg_admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    expected = sorted((rule, r) for r in resources for rule in ("b-rule", "B-rule", "a_rule"))
    assert orders[0] == orders[1]
    assert orders[0][0] == expected
    assert orders[0][1] == sorted(resources)
