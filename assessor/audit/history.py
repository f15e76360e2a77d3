"""Finalised assessments and their tamper-evident history.

Finalising an assessment freezes the waivers and attestations that applied to it and
stores the SHA-256 of a canonical JSON of its content (``digest``) together with the digest
of the same system's previously finalised assessment (``previous_digest``). The assessments
of one system thus form a hash chain: editing a finalised result, target, frozen waiver or
attestation changes the recomputed digest; deleting or un-finalising one leaves its
successor pointing at a digest that is no longer there. ``verify`` walks every chain and
also re-hashes every evidence body a finalised assessment refers to, and every evidence file
attached to the attestations it froze.

The chain is evidence of tampering, not a lock: whoever can write the database file can
still change it. What they cannot do unnoticed is change it and keep the chain intact.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from assessor.audit.attestations import attestations_for
from assessor.audit.waivers import applied_waivers, expired_waivers
from assessor.errors import AssessorError, NotFoundError
from assessor.evidence import canonical_json
from assessor.store.db import lock_until_commit
from assessor.store.models import Assessment, Attachment, Result, Target, TargetEvidence
from assessor.store.models import Evidence as EvidenceRow
from assessor.vocab import AssessmentStatus

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from assessor.store import Store

# Bump when the canonical form changes; it is part of what is hashed.
DIGEST_VERSION = 1
_ERROR_FIELD = "error"  # a target's error, in the canonical form


class AlreadyFinalisedError(AssessorError):
    """The assessment is finalised already; its content is frozen."""


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:  # the store hands out aware UTC; be safe with a naive one
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON (datetimes as ISO 8601 UTC), exactly as a JSON column keeps it."""
    return json.loads(json.dumps(value, default=_json_default, sort_keys=True))


def canonical_content(session: Session, assessment: Assessment) -> dict[str, Any]:
    """What the digest covers, as one JSON value (see docs/audit.md, "Finalising")."""
    a = assessment
    targets = list(
        session.scalars(select(Target).where(Target.assessment_id == a.id).order_by(Target.id))
    )
    index = {t.id: i for i, t in enumerate(targets)}
    hashes: dict[int, list[str]] = {t.id: [] for t in targets}
    if targets:
        q = select(TargetEvidence.target_id, TargetEvidence.evidence_hash).where(
            TargetEvidence.target_id.in_(list(index))
        )
        for tid, h in session.execute(q):
            hashes[tid].append(h)
    results = _canonical_results(session, a, targets, index)
    return {
        "digest_version": DIGEST_VERSION,
        "assessment": {
            "uuid": a.uuid,
            "period": a.period,
            "system": a.system,
            "scope": a.scope,
            "started": _iso(a.started),
            "finished": _iso(a.finished),
            "status": a.status,
            "tool_version": a.tool_version,
            "catalog_digest": a.catalog_digest,
        },
        "targets": [
            {
                "uri": t.uri,
                "kind": t.kind,
                "status": t.status,
                "identity": t.identity,
                _ERROR_FIELD: t.error,
                "evidence": sorted(hashes[t.id]),
            }
            for t in targets
        ],
        "results": results,
        "frozen": a.frozen,
        "finalised_at": _iso(a.finalised_at),
        "finalised_by": a.finalised_by,
        "previous_digest": a.previous_digest,
    }


def _canonical_results(
    session: Session, a: Assessment, targets: list[Target], index: dict[int, int]
) -> list[dict[str, Any]]:
    """The assessment's results as the digest covers them: in target order, then by their
    canonical JSON."""
    uris = {t.id: t.uri for t in targets}
    results: list[tuple[int, bytes, dict[str, Any]]] = []
    q2 = select(
        Result.id,
        Result.target_id,
        Result.rule,
        Result.title,
        Result.severity,
        Result.resource,
        Result.status,
        Result.message,
        Result.evidence_hash,
        Result.references,
    ).where(Result.assessment_id == a.id)
    for rid, tid, rule, title, severity, resource, status, message, ev, refs in session.execute(q2):
        item = {
            # frozen waivers are keyed by result id, so the id is part of what is hashed
            "id": rid,
            "rule": rule,
            "title": title,
            "severity": severity,
            "target": uris.get(tid),
            "resource": resource,
            "status": status,
            "message": message,
            "evidence_hash": ev,
            "references": refs,
        }
        # a result whose target is not this assessment's sorts last and still counts
        results.append((index.get(tid, len(targets)), canonical_json(item), item))
    results.sort(key=lambda r: (r[0], r[1]))
    return [item for _, _, item in results]


def assessment_digest(session: Session, assessment: Assessment) -> str:
    """SHA-256 (hex) of the canonical JSON (sorted keys, no whitespace, UTF-8) of its content."""
    return hashlib.sha256(canonical_json(canonical_content(session, assessment))).hexdigest()


def _chain_query(system: str | None) -> Any:
    cond = Assessment.system.is_(None) if system is None else Assessment.system == system
    return (
        select(Assessment)
        .where(cond, Assessment.finalised_at.is_not(None))
        .order_by(Assessment.finalised_at, Assessment.id)
    )


@dataclass
class Finalised:
    id: int
    uuid: str
    period: str
    system: str | None
    digest: str
    previous_digest: str | None
    previous_id: int | None
    waivers: int
    attestations: int


def _resolve(session: Session, ref: str | None) -> Assessment:
    if ref is None:
        row = session.scalars(select(Assessment).order_by(Assessment.id.desc()).limit(1)).first()
        if row is None:
            raise NotFoundError("no assessment stored yet", hint="run 'assessor scan' first")
        return row
    row = session.get(Assessment, int(ref)) if ref.isdigit() else None
    if row is None:
        row = session.scalars(select(Assessment).where(Assessment.uuid == ref)).first()
    if row is None:
        raise NotFoundError(f"no assessment {ref!r}", hint="'assessor assessments' lists them")
    return row


def finalise(store: Store, ref: str | None, by: str, now: datetime | None = None) -> Finalised:
    """Freeze an assessment and chain it to its system's history, in one transaction."""
    by = by.strip()
    if not by or len(by) > 255 or not by.isprintable():
        raise AssessorError("--by: expected a name of at most 255 printable characters")
    with store.session() as s:
        a = _resolve(s, ref)
        # One system's finalisations one at a time, each reading its predecessor after the
        # last one committed. SQLite's write lock, taken by the UPDATE below before anything
        # is read, does this already; PostgreSQL locks only the updated row (a per-system
        # advisory lock there), else two at once both chained to the same predecessor.
        lock_until_commit(s, f"history chain of {a.system!r}")
        _check_finalisable(a)
        at = now or datetime.now(UTC)
        claimed = s.execute(
            update(Assessment)
            .where(Assessment.id == a.id, Assessment.finalised_at.is_(None))
            .values(finalised_at=at, finalised_by=by)
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 1) != 1:
            raise AlreadyFinalisedError(f"assessment {a.id} was finalised meanwhile")
        s.refresh(a)
        previous = s.scalars(
            _chain_query(a.system)
            .where(Assessment.id != a.id)
            .order_by(None)
            .order_by(Assessment.finalised_at.desc(), Assessment.id.desc())
        ).first()
        waivers, attestations = _freeze(s, a, at)
        a.finalised_at = at
        a.finalised_by = by
        a.previous_digest = previous.digest if previous is not None else None
        s.flush()
        a.digest = assessment_digest(s, a)
        s.commit()
        return Finalised(
            a.id,
            a.uuid,
            a.period,
            a.system,
            a.digest,
            a.previous_digest,
            previous.id if previous is not None else None,
            len(waivers),
            len(attestations),
        )


def _freeze(
    s: Session, a: Assessment, at: datetime
) -> tuple[dict[int, dict[str, Any]], list[dict[str, Any]]]:
    """Store in ``a.frozen`` the waivers and attestations in force at ``at`` (and the waivers
    expired by then, which the reports list); returns the first two."""
    waivers = applied_waivers(s, a, at)
    attestations = list(attestations_for(s, a, at))
    expired = expired_waivers(s, a, at)
    a.frozen = jsonable(
        {
            "waivers": {str(k): v for k, v in sorted(waivers.items())},
            "attestations": attestations,
            # read back by the reports, so they list what had expired when it was frozen
            "expired_waivers": list(expired),
        }
    )
    return waivers, attestations


def _check_finalisable(a: Assessment) -> None:
    """Only a complete assessment not yet finalised can be."""
    if a.finalised_at is not None:
        raise AlreadyFinalisedError(
            f"assessment {a.id} ({a.period}) was finalised on {_iso(a.finalised_at)} by "
            f"{a.finalised_by}; its content is frozen",
            hint="'assessor evaluate' re-evaluates it into a new assessment",
        )
    if a.status != AssessmentStatus.COMPLETE:
        raise AssessorError(
            f"assessment {a.id} ({a.period}) is {a.status}; only a complete assessment can "
            "be finalised",
            hint="scan again until every target is reached",
        )


@dataclass
class Break:
    """One thing wrong in a chain, naming the assessment it was found at."""

    assessment_id: int
    uuid: str
    period: str
    # content-changed | chain-broken | evidence-changed | evidence-missing | attachment-changed
    # | attachment-missing
    problem: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "assessment": self.assessment_id,
            "uuid": self.uuid,
            "period": self.period,
            "problem": self.problem,
            "detail": self.detail,
        }


@dataclass
class ChainEntry:
    id: int
    uuid: str
    period: str
    finalised_at: str | None
    finalised_by: str | None
    digest: str | None
    previous_digest: str | None
    ok: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uuid": self.uuid,
            "period": self.period,
            "finalised_at": self.finalised_at,
            "finalised_by": self.finalised_by,
            "digest": self.digest,
            "previous_digest": self.previous_digest,
            "ok": self.ok,
        }


@dataclass
class Chain:
    system: str | None
    entries: list[ChainEntry] = field(default_factory=list)
    breaks: list[Break] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.breaks

    def to_json(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "intact": self.intact,
            "assessments": [e.to_json() for e in self.entries],
            "breaks": [b.to_json() for b in self.breaks],
        }


def systems(session: Session) -> list[str | None]:
    """Every system with a finalised assessment; None (no system) first."""
    found = set(
        session.scalars(
            select(Assessment.system).where(Assessment.finalised_at.is_not(None)).distinct()
        )
    )
    return ([None] if None in found else []) + sorted(s for s in found if s is not None)


def _short(h: str | None) -> str:
    return "none" if h is None else h[:16]


def _check_evidence(
    session: Session, hashes: Iterable[str], checked: dict[str, str | None]
) -> dict[str, str]:
    """Re-hash evidence bodies; returns {hash: problem} for the bad ones (cached in checked)."""
    todo = sorted({h for h in hashes if h not in checked})
    for i in range(0, len(todo), 500):
        chunk = todo[i : i + 500]
        q = select(EvidenceRow.hash, EvidenceRow.body).where(EvidenceRow.hash.in_(chunk))
        # .all(): a Result has keys(), which dict() would take for a mapping
        found: dict[str, bytes] = dict(session.execute(q).tuples().all())
        for h in chunk:
            body = found.get(h)
            if body is None:
                checked[h] = "evidence-missing"
                continue
            try:
                actual = hashlib.sha256(zlib.decompress(body)).hexdigest()
            except zlib.error:
                checked[h] = "evidence-changed"
                continue
            checked[h] = None if actual == h else "evidence-changed"
    return {h: p for h in hashes if (p := checked.get(h)) is not None}


def _frozen_attachments(a: Assessment) -> list[tuple[str, str, str, int | None]]:
    """(sha256, file name, FRAMEWORK:REQUIREMENT, size) of every evidence file attached to an
    attestation frozen with ``a``."""
    out: list[tuple[str, str, str, int | None]] = []
    for att in (a.frozen or {}).get("attestations") or []:
        if not isinstance(att, dict):
            continue
        where = f"{att.get('framework')}:{att.get('requirement')}"
        for ev in att.get("evidence") or []:
            if isinstance(ev, dict) and isinstance(ev.get("sha256"), str):
                size = ev.get("size")
                out.append(
                    (
                        ev["sha256"],
                        str(ev.get("name")),
                        where,
                        size if isinstance(size, int) else None,
                    )
                )
    return out


def _check_attachments(
    session: Session, items: list[tuple[str, str, str, int | None]], checked: dict[str, str | None]
) -> list[tuple[str, str, str, str]]:
    """Re-hash the attachments' stored bytes: (problem, sha256, name, where) for the bad ones."""
    bad = []
    for sha, name, where, size in items:
        key = f"attachment:{sha}"
        if key not in checked:
            row = session.get(Attachment, sha)
            if row is None:
                checked[key] = "attachment-missing"
            else:
                try:
                    body = zlib.decompress(row.body)
                except zlib.error:
                    checked[key] = "attachment-changed"
                else:
                    same = hashlib.sha256(body).hexdigest() == sha and row.size == len(body)
                    checked[key] = None if same else "attachment-changed"
                    if same and size is not None and size != len(body):
                        checked[key] = "attachment-changed"
        problem = checked[key]
        if problem is not None:
            bad.append((problem, sha, name, where))
    return bad


def _referenced_evidence(session: Session, assessment_id: int) -> set[str]:
    linked = select(TargetEvidence.evidence_hash).join(
        Target, TargetEvidence.target_id == Target.id
    )
    out = set(session.scalars(linked.where(Target.assessment_id == assessment_id)))
    out.update(
        h
        for h in session.scalars(
            select(Result.evidence_hash)
            .where(Result.assessment_id == assessment_id, Result.evidence_hash.is_not(None))
            .distinct()
        )
        if h is not None
    )
    return out


def verify_chain(
    session: Session, system: str | None, checked: dict[str, str | None] | None = None
) -> Chain:
    """Walk one system's finalised assessments in finalisation order and report every break."""
    checked = {} if checked is None else checked
    chain = Chain(system)
    prev: Assessment | None = None
    for a in session.scalars(_chain_query(system)):
        entry = ChainEntry(
            a.id,
            a.uuid,
            a.period,
            _iso(a.finalised_at),
            a.finalised_by,
            a.digest,
            a.previous_digest,
        )
        chain.entries.append(entry)
        problems = _digest_problems(session, a, prev) + _store_problems(session, a, checked)
        for problem, detail in problems:
            entry.ok = False
            chain.breaks.append(Break(a.id, a.uuid, a.period, problem, detail))
        prev = a
    return chain


def _digest_problems(
    session: Session, a: Assessment, prev: Assessment | None
) -> list[tuple[str, str]]:
    """(problem, detail) when the content no longer matches its digest, or the chain to the
    previous finalised assessment is broken."""
    out: list[tuple[str, str]] = []
    actual = assessment_digest(session, a)
    if a.digest is None:
        out.append(("content-changed", "finalised but has no digest (the digest was removed)"))
    elif actual != a.digest:
        out.append(
            (
                "content-changed",
                f"content changed since finalisation: digest is now {_short(actual)}, "
                f"recorded {_short(a.digest)} (results, targets, frozen waivers/attestations or "
                "finalisation fields were edited)",
            )
        )
    if prev is None:
        if a.previous_digest is not None:
            out.append(
                (
                    "chain-broken",
                    f"chain broken: it follows a finalised assessment with digest "
                    f"{_short(a.previous_digest)} that is no longer there (deleted or "
                    "un-finalised)",
                )
            )
    elif a.previous_digest != prev.digest:
        out.append(
            (
                "chain-broken",
                f"chain broken: previous digest {_short(a.previous_digest)} does not match "
                f"assessment {prev.id} ({prev.period}) digest {_short(prev.digest)} (a "
                "finalised assessment between them was deleted or un-finalised, or a digest "
                "was edited)",
            )
        )
    return out


def _store_problems(
    session: Session, a: Assessment, checked: dict[str, str | None]
) -> list[tuple[str, str]]:
    """(problem, detail) for each evidence document or attached file the assessment refers to
    that is missing from the store or no longer hashes to its key."""
    out: list[tuple[str, str]] = []
    bad = _check_evidence(session, _referenced_evidence(session, a.id), checked)
    for h, problem in sorted(bad.items()):
        out.append(
            (
                problem,
                f"evidence {h[:16]} "
                + (
                    "is missing from the store"
                    if problem == "evidence-missing"
                    else "was changed: its body no longer hashes to its key"
                ),
            )
        )
    for problem, sha, name, where in _check_attachments(session, _frozen_attachments(a), checked):
        out.append(
            (
                problem,
                f"attachment {name!r} (sha256 {sha[:16]}) of the attestation of {where} "
                + (
                    "is missing from the store"
                    if problem == "attachment-missing"
                    else "was changed: its stored bytes no longer hash to its SHA-256"
                ),
            )
        )
    return out


_ALL: Any = object()


def verify(store: Store, system: Any = _ALL) -> list[Chain]:
    """Every system's chain (or the given one's); a system with no finalised assessment gives an
    empty, intact chain."""
    with store.session() as s:
        names = systems(s) if system is _ALL else [system]
        checked: dict[str, str | None] = {}
        return [verify_chain(s, name, checked) for name in names]


def is_finalised(store: Store, assessment_id: int) -> bool:
    with store.session() as s:
        row = s.get(Assessment, assessment_id)
        return row is not None and row.finalised_at is not None


__all__ = [
    "AlreadyFinalisedError",
    "Break",
    "Chain",
    "Finalised",
    "assessment_digest",
    "canonical_content",
    "finalise",
    "verify",
    "verify_chain",
]
