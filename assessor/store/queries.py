"""Writes and reads over the store; every write of a target is one transaction."""

from __future__ import annotations

import json
import socket
import uuid
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from assessor import __version__
from assessor.errors import NotFoundError
from assessor.evidence import Evidence
from assessor.results import Result as EvalResult
from assessor.store.db import Store, retried
from assessor.store.models import (
    Assessment,
    IngestedBundle,
    Report,
    Result,
    Target,
    TargetEvidence,
)
from assessor.store.models import Evidence as EvidenceRow
from assessor.vocab import AssessmentStatus

if TYPE_CHECKING:
    from sqlalchemy.orm import Session
    from sqlalchemy.sql.compiler import SQLCompiler


class bytewise(FunctionElement[str]):
    """A text column ordered by its bytes, the same on every backend: SQLite's default
    (BINARY), and COLLATE "C" on PostgreSQL, whose database collation (en_US: '_z' < 'a' < 'B')
    would otherwise order results, and so every export, differently from SQLite."""

    inherit_cache = True
    name = "bytewise"


@compiles(bytewise)
def _bytewise(element: bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(bytewise, "postgresql")
def _bytewise_pg(element: bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return f'{compiler.process(element.clauses, **kw)} COLLATE "C"'


def create_assessment(
    store: Store,
    period: str,
    scope: Sequence[str],
    catalog_digest: str,
    *,
    system: str | None = None,
) -> int:
    """Write the assessment row first, as incomplete, so a killed scan still shows."""
    with store.session() as s:
        row = Assessment(
            uuid=str(uuid.uuid4()),
            started=datetime.now(UTC),
            period=period,
            status=AssessmentStatus.INCOMPLETE,
            scope=list(scope),
            tool_version=__version__,
            catalog_digest=catalog_digest,
            scanner_host=socket.gethostname(),
            system=system,
        )
        s.add(row)
        s.commit()
        return row.id


def _insert_evidence(s: Any, items: Iterable[Evidence]) -> None:
    rows = {}
    for ev in items:
        body = ev.canonical()
        rows[ev.sha256] = {
            "hash": ev.sha256,
            "kind": ev.kind,
            "size": len(body),
            "body": zlib.compress(body, 6),
        }
    if not rows:
        return
    # in hash order: PostgreSQL locks each new row's key as it inserts it, so two transactions
    # inserting shared documents in different orders would each wait for the other (deadlock)
    ordered = [rows[h] for h in sorted(rows)]
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        s.execute(pg_insert(EvidenceRow).on_conflict_do_nothing(), ordered)
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        s.execute(sqlite_insert(EvidenceRow).on_conflict_do_nothing(), ordered)
    else:
        have = set(s.scalars(select(EvidenceRow.hash).where(EvidenceRow.hash.in_(list(rows)))))
        s.add_all(EvidenceRow(**r) for h, r in rows.items() if h not in have)


def record_target(
    store: Store,
    assessment_id: int,
    uri: str,
    kind: str,
    *,
    status: str,
    identity: dict[str, Any],
    error: str | None = None,
    evidence: Sequence[Evidence] = (),
    results: Sequence[EvalResult] = (),
) -> int:
    """One target's evidence and results, in one transaction (run again when PostgreSQL
    rolled it back for a deadlock with another writer of the same evidence)."""
    return retried(
        lambda: _record_target(
            store, assessment_id, uri, kind, status, identity, error, evidence, results
        )
    )


def _record_target(
    store: Store,
    assessment_id: int,
    uri: str,
    kind: str,
    status: str,
    identity: dict[str, Any],
    error: str | None,
    evidence: Sequence[Evidence],
    results: Sequence[EvalResult],
) -> int:
    with store.session() as s:
        target_id = _add_target(
            s,
            assessment_id,
            TargetRecord(uri, kind, status, identity, error, evidence, results),
            insert_evidence=True,
        )
        s.commit()
        return target_id


@dataclass(frozen=True)
class TargetRecord:
    """One target of an assessment as stored: its row, its evidence and its results."""

    uri: str
    kind: str
    status: str
    identity: dict[str, Any]
    error: str | None = None
    evidence: Sequence[Evidence] = ()
    results: Sequence[EvalResult] = ()


def _add_target(s: Session, assessment_id: int, t: TargetRecord, *, insert_evidence: bool) -> int:
    """Add one target's row, evidence links and results to the transaction ``s`` (its
    evidence documents too when ``insert_evidence``; else the caller inserted them)."""
    target = Target(
        assessment_id=assessment_id,
        uri=_nul_free(t.uri),
        kind=t.kind,
        status=t.status,
        identity=t.identity,
        error=None if t.error is None else _nul_free(t.error),
    )
    s.add(target)
    s.flush()
    if insert_evidence:
        _insert_evidence(s, t.evidence)
    _link_evidence(s, target.id, t.evidence)
    if t.results:
        _insert_results(s, assessment_id, target.id, t.results)
    return target.id


_RESULT_COLUMNS = (
    "assessment_id",
    "target_id",
    "rule",
    "title",
    "severity",
    "resource",
    "status",
    "message",
    "evidence_hash",
    "references",
)
_SQLITE_RESULTS = (
    "INSERT INTO result (assessment_id, target_id, rule, title, severity, resource, status, "
    'message, evidence_hash, "references") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'
)
_PG_RESULTS = (
    "COPY result (assessment_id, target_id, rule, title, severity, resource, status, message, "
    'evidence_hash, "references") FROM STDIN'
)


def _insert_results(
    s: Session, assessment_id: int, target_id: int, results: Sequence[EvalResult]
) -> None:
    """A target's results, by the driver itself: a host's ~500 rows through SQLAlchemy's
    executemany (parameters built per row) or PostgreSQL's per-row statements were a third of
    an ingest (tests/bench/bench_fleet.py); SQLite takes one ``executemany`` of tuples,
    PostgreSQL one ``COPY``. Each distinct ``references`` mapping (one per rule, shared by its
    results) is written to JSON once, as the text SQLAlchemy's JSON type would store
    (json.dumps). Other databases go through SQLAlchemy."""
    texts: dict[int, tuple[object, str]] = {}  # id of a mapping -> (the mapping, its JSON)
    rows = []
    for r in results:
        refs = r.references
        known = texts.get(id(refs))
        if known is None or known[0] is not refs:
            known = texts[id(refs)] = (refs, json.dumps(refs))
        rows.append(
            (
                assessment_id,
                target_id,
                r.rule,
                _nul_free(r.title),
                r.severity,
                _nul_free(r.resource),
                r.status.value,
                _nul_free(r.message),
                r.evidence,
                known[1],
            )
        )
    dialect = s.get_bind().dialect.name
    if dialect == "sqlite":
        s.connection().exec_driver_sql(_SQLITE_RESULTS, rows)
    elif dialect == "postgresql":
        driver = s.connection().connection.driver_connection
        assert driver is not None
        with driver.cursor() as cur, cur.copy(_PG_RESULTS) as copy:
            for row in rows:
                copy.write_row(row)
    else:
        named: list[dict[str, Any]] = [
            {**dict(zip(_RESULT_COLUMNS[:-1], row, strict=False)), "references": r.references}
            for row, r in zip(rows, results, strict=True)
        ]
        s.execute(insert(cast(Table, Result.__table__)), named)


def _nul_free(text: str) -> str:
    """``text`` with each NUL character written as the four characters ``\\x00`` (the display
    form of assessor.jsonsafe.escape). PostgreSQL refuses NUL in text ("text fields cannot
    contain NUL"), and a target's own text (a hostile image's config, a file name) reaches
    results' messages and resources: both backends store the same escaped text."""
    return text.replace("\x00", "\\x00")


def _link_evidence(s: Session, target_id: int, evidence: Sequence[Evidence]) -> None:
    """The target's evidence documents, each once, with the resource and collection time (one
    Core executemany: an ORM object per link cost a seventh of an ingest)."""
    rows: dict[str, dict[str, Any]] = {}
    for ev in evidence:
        if ev.sha256 not in rows:
            rows[ev.sha256] = {
                "target_id": target_id,
                "evidence_hash": ev.sha256,
                "resource": _nul_free(ev.resource),
                "collected_at": ev.collected_at,
            }
    if rows:
        s.execute(insert(cast(Table, TargetEvidence.__table__)), list(rows.values()))


@dataclass(frozen=True)
class IngestRecord:
    """An evidence bundle's assessment as ``assessor ingest`` stores it: the bundle (its
    manifest digest, the machine that collected it, who signed it) and the assessment
    (collection times, period, system, scope, catalog, status and note)."""

    digest: str
    hostname: str
    signer: str | None
    started: datetime
    finished: datetime
    period: str
    system: str | None
    scope: Sequence[str]
    catalog_digest: str
    status: AssessmentStatus
    note: str | None


def ingested_assessment(store: Store, digest: str) -> int | None:
    """The assessment the bundle with this manifest digest was stored as, if it was."""
    with store.session() as s:
        return s.scalar(select(IngestedBundle.assessment_id).where(IngestedBundle.digest == digest))


def ingested_digests(store: Store) -> dict[str, int]:
    """Every stored bundle's manifest digest, and the assessment it was stored as."""
    with store.session() as s:
        rows = s.execute(select(IngestedBundle.digest, IngestedBundle.assessment_id)).tuples()
        return dict(rows.all())


def record_ingested(
    store: Store, bundle: IngestRecord, targets: Sequence[TargetRecord]
) -> tuple[int, bool]:
    """Store a bundle's assessment whole, in one transaction: (its id, True); or, when the
    bundle is stored already (even by another process at this moment), (that assessment's
    id, False) and nothing is added."""
    return retried(lambda: _record_ingested(store, bundle, targets))


def _record_ingested(
    store: Store, b: IngestRecord, targets: Sequence[TargetRecord]
) -> tuple[int, bool]:
    with store.session() as s:
        row = Assessment(
            uuid=str(uuid.uuid4()),
            started=b.started,
            finished=b.finished,
            period=b.period,
            status=b.status,
            scope=list(b.scope),
            tool_version=__version__,
            catalog_digest=b.catalog_digest,
            scanner_host=_nul_free(b.hostname),
            system=b.system,
            note=None if b.note is None else _nul_free(b.note),
        )
        s.add(row)
        s.flush()
        s.add(
            IngestedBundle(
                digest=b.digest,
                assessment_id=row.id,
                ingested_at=datetime.now(UTC),
                hostname=_nul_free(b.hostname),
                signer=None if b.signer is None else _nul_free(b.signer),
            )
        )
        try:
            # the bundle's key first: a second writer of the same bundle waits here for the
            # first (PostgreSQL) or finds it committed, and stores nothing
            s.flush()
        except IntegrityError:
            s.rollback()
            stored = s.scalar(
                select(IngestedBundle.assessment_id).where(IngestedBundle.digest == b.digest)
            )
            if stored is None:
                raise
            return stored, False
        _insert_evidence(s, (ev for t in targets for ev in t.evidence))
        for t in targets:
            _add_target(s, row.id, t, insert_evidence=False)
        s.commit()
        return row.id, True


def finish_assessment(
    store: Store, assessment_id: int, status: AssessmentStatus, note: str | None = None
) -> None:
    with store.session() as s:
        # one UPDATE, not a SELECT of the row and then its UPDATE (~2 ms less per scan)
        done = s.execute(
            update(Assessment)
            .where(Assessment.id == assessment_id)
            .values(
                status=status,
                finished=datetime.now(UTC),
                note=None if note is None else _nul_free(note),
            )
        )
        assert cast(CursorResult[Any], done).rowcount == 1
        s.commit()


def list_assessments(store: Store, limit: int = 100) -> list[tuple[Assessment, dict[str, int]]]:
    with store.session() as s:
        rows = list(s.scalars(select(Assessment).order_by(Assessment.id.desc()).limit(limit)))
        counts: dict[int, dict[str, int]] = {r.id: {} for r in rows}
        if rows:
            q = (
                select(Result.assessment_id, Result.status, func.count())
                .where(Result.assessment_id.in_(list(counts)))
                .group_by(Result.assessment_id, Result.status)
            )
            for aid, status, n in s.execute(q):
                counts[aid][status] = n
        return [(r, counts[r.id]) for r in rows]


def get_assessment(store: Store, ref: str | None) -> Assessment:
    """An assessment by id or uuid; the latest when ``ref`` is None."""
    with store.session() as s:
        if ref is None:
            row = s.scalars(select(Assessment).order_by(Assessment.id.desc()).limit(1)).first()
            if row is None:
                raise NotFoundError("no assessment stored yet", hint="run 'assessor scan' first")
            return row
        row = None
        if ref.isdigit():
            row = s.get(Assessment, int(ref))
        if row is None:
            row = s.scalars(select(Assessment).where(Assessment.uuid == ref)).first()
        if row is None:
            raise NotFoundError(f"no assessment {ref!r}", hint="'assessor assessments' lists them")
        return row


def get_results(
    store: Store, assessment_id: int, statuses: Sequence[str] = ()
) -> list[tuple[Result, str]]:
    """Results with their target URI, in a stable order."""
    with store.session() as s:
        q = (
            select(Result, Target.uri)
            .join(Target, Result.target_id == Target.id)
            .where(Result.assessment_id == assessment_id)
            .order_by(Target.id, bytewise(Result.rule), bytewise(Result.resource))
        )
        if statuses:
            q = q.where(Result.status.in_(list(statuses)))
        return [(r, uri) for r, uri in s.execute(q)]


def get_targets(store: Store, assessment_id: int) -> list[Target]:
    with store.session() as s:
        return list(
            s.scalars(
                select(Target).where(Target.assessment_id == assessment_id).order_by(Target.id)
            )
        )


def get_evidence(store: Store, sha256: str) -> dict[str, Any] | None:
    with store.session() as s:
        row = s.get(EvidenceRow, sha256)
        if row is None:
            return None
        doc: dict[str, Any] = json.loads(zlib.decompress(row.body))
        return doc


def record_report(
    store: Store,
    assessment_id: int,
    *,
    fmt: str,
    path: str,
    sha256: str,
    size: int,
    frameworks: Sequence[str],
    signature: dict[str, Any] | None,
) -> int:
    """Remember a written report: its file's hash, and who signed it."""
    with store.session() as s:
        row = Report(
            assessment_id=assessment_id,
            created=datetime.now(UTC),
            format=fmt,
            path=path,
            sha256=sha256,
            size=size,
            frameworks=list(frameworks),
            signature=signature,
        )
        s.add(row)
        s.commit()
        return row.id


def stored_evidence(
    store: Store, target_id: int
) -> list[tuple[str, datetime, dict[str, Any] | None]]:
    """A stored target's evidence: (hash, collected_at, document or None when the body is gone),
    in hash order."""
    with store.session() as s:
        q = (
            select(TargetEvidence.evidence_hash, TargetEvidence.collected_at, EvidenceRow.body)
            .outerjoin(EvidenceRow, EvidenceRow.hash == TargetEvidence.evidence_hash)
            .where(TargetEvidence.target_id == target_id)
            .order_by(TargetEvidence.evidence_hash)
        )
        out: list[tuple[str, datetime, dict[str, Any] | None]] = []
        for h, at, body in s.execute(q):
            doc = json.loads(zlib.decompress(body)) if body is not None else None
            out.append((h, at, doc))
        return out


def result_rules_by_target(store: Store, assessment_id: int) -> dict[int, set[str]]:
    """The rule ids each target of an assessment has results for."""
    with store.session() as s:
        out: dict[int, set[str]] = {}
        q = (
            select(Result.target_id, Result.rule)
            .where(Result.assessment_id == assessment_id)
            .distinct()
        )
        for tid, rule in s.execute(q):
            out.setdefault(tid, set()).add(rule)
        return out


def latest_assessment(
    store: Store, system: str | None, period: str | None = None
) -> Assessment | None:
    """The latest assessment of ``system`` (None: those without a system), in ``period`` if
    given; None when there is none."""
    with store.session() as s:
        q = select(Assessment).order_by(Assessment.id.desc()).limit(1)
        q = q.where(Assessment.system.is_(None) if system is None else Assessment.system == system)
        if period is not None:
            q = q.where(Assessment.period == period)
        return s.scalars(q).first()


def add_to_scope(store: Store, assessment_id: int, uris: Sequence[str]) -> None:
    """Append target URIs (an import's) to an assessment's scope, each once."""
    with store.session() as s:
        a = s.get(Assessment, assessment_id)
        if a is None:
            raise NotFoundError(f"no assessment {assessment_id}")
        a.scope = [*a.scope, *(u for u in uris if u not in a.scope)]
        s.commit()


# --- rows the read model (assessor.readmodel.load) reads, in one session --------------------


def target_rows(s: Session, assessment_id: int) -> list[tuple[Target, int]]:
    """The assessment's targets in the order they were stored, each with its number of
    evidence documents."""
    rows = list(
        s.scalars(select(Target).where(Target.assessment_id == assessment_id).order_by(Target.id))
    )
    counts = {
        int(tid): int(n)
        for tid, n in s.execute(
            select(TargetEvidence.target_id, func.count())
            .where(TargetEvidence.target_id.in_([t.id for t in rows]))
            .group_by(TargetEvidence.target_id)
        )
    }
    return [(t, counts.get(t.id, 0)) for t in rows]


def result_rows(s: Session, assessment_id: int) -> list[Result]:
    return list(s.scalars(select(Result).where(Result.assessment_id == assessment_id)))


def target_evidence_rows(
    s: Session, target_ids: Sequence[int]
) -> list[tuple[int, str, str, str, int]]:
    """(target id, evidence hash, resource, kind, size) of the targets' evidence documents, by
    target then resource."""
    rows = s.execute(
        select(
            TargetEvidence.target_id,
            TargetEvidence.evidence_hash,
            TargetEvidence.resource,
            EvidenceRow.kind,
            EvidenceRow.size,
        )
        .join(EvidenceRow, EvidenceRow.hash == TargetEvidence.evidence_hash)
        .where(TargetEvidence.target_id.in_(list(target_ids)))
        .order_by(TargetEvidence.target_id, bytewise(TargetEvidence.resource))
    )
    return [(tid, h, res, kind, size) for tid, h, res, kind, size in rows]


def evidence_rows(
    s: Session, hashes: Sequence[str], *, with_bodies: bool = False
) -> Iterator[tuple[str, str, int, bytes | None]]:
    """(hash, kind, size, stored body or None) of the evidence documents named."""
    for start in range(0, len(hashes), 500):  # bounded IN lists
        chunk = list(hashes[start : start + 500])
        cols = (EvidenceRow.hash, EvidenceRow.kind, EvidenceRow.size) + (
            (EvidenceRow.body,) if with_bodies else ()
        )
        for row in s.execute(select(*cols).where(EvidenceRow.hash.in_(chunk))):
            yield row[0], row[1], row[2], row[3] if with_bodies else None
