"""Requirement status counts per period: the report's trend chart and ``assessor trend`` read
the same query (``period_trend``)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Text, cast, func, select

from assessor.audit.attestations import attestations_for
from assessor.audit.fleet import FINISHED, Reading, by_assessment, host_of, readings
from assessor.audit.rollup import requirement_status
from assessor.errors import NotFoundError
from assessor.store.db import Store
from assessor.store.models import Assessment, Result, Target
from assessor.vocab import JUDGED_STATUSES, REQUIREMENT_STATUSES, AssessmentStatus, Status


@dataclass
class PeriodPoint:
    """One period's latest assessment of the same system (or scope), rolled up per framework."""

    period: str
    assessment_id: int
    started: str
    # framework id -> requirement status -> number of requirements
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    # framework id -> severity -> failing results (waived ones are not failures)
    failures: dict[str, dict[str, int]] = field(default_factory=dict)
    # results a waiver applied to, and how many distinct waivers applied
    waived_results: int = 0
    waivers: int = 0
    # False when waivers are not known to this assessor (no waiver support): counts are 0
    waivers_known: bool = False
    # the assessments read (a fleet's: each host's latest reading in the period), and hosts
    assessments: list[int] = field(default_factory=list)
    hosts: int = 0


def share_passed(counts: dict[str, int]) -> float | None:
    """pass / (pass + fail + error + waived + manual); None when nothing was judged."""
    judged = sum(counts.get(k, 0) for k in JUDGED_STATUSES)
    return counts.get(Status.PASS, 0) / judged if judged else None


def requirement_counts(
    rows: Sequence[tuple[str, str, dict[str, list[str]]]], frameworks: Sequence[str]
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """(status, severity, references) rows -> per framework: requirement status counts and
    failing results by severity. Requirements no result references are not counted here."""
    return weighted_requirement_counts([(st, sev, refs, 1) for st, sev, refs in rows], frameworks)


def weighted_requirement_counts(
    rows: Sequence[tuple[str, str, dict[str, list[str]], int]],
    frameworks: Sequence[str],
    attested: dict[tuple[str, str], str] | None = None,
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """As ``requirement_counts``, for (status, severity, references, n) rows: n results alike.
    ``attested`` maps (framework, requirement) to an attestation's pass or fail, which answers
    the requirement's manual part (assessor.audit.rollup.requirement_status), as the report's
    tables count it; an attested requirement no result refers to is counted too."""
    attested = attested or {}
    by_req: dict[str, dict[str, set[str]]] = {fw: defaultdict(set) for fw in frameworks}
    failures: dict[str, dict[str, int]] = {fw: defaultdict(int) for fw in frameworks}
    for status, severity, refs, n in rows:
        if n <= 0:
            continue
        for fw in frameworks:
            ids = (refs or {}).get(fw)
            if not ids:
                continue
            for rid in ids:
                by_req[fw][rid].add(status)
            if status == Status.FAIL:
                failures[fw][severity] += n
    for fw, rid in attested:
        if fw in by_req:
            by_req[fw].setdefault(rid, set())  # the attestation alone makes it judged
    counts: dict[str, dict[str, int]] = {}
    for fw in frameworks:
        c: dict[str, int] = dict.fromkeys(REQUIREMENT_STATUSES, 0)
        for rid, statuses in by_req[fw].items():
            c[requirement_status(statuses, attested.get((fw, rid)))] += 1
        counts[fw] = c
    return counts, {fw: dict(v) for fw, v in failures.items()}


def applied_waivers(session: Any, assessment: Assessment) -> dict[int, dict[str, Any]] | None:
    """{result id: waiver} of the waivers applied to ``assessment``'s results; None when this
    assessor has no waiver support (``assessor.audit.waivers`` absent)."""
    try:
        from assessor.audit.waivers import applied_waivers as applied
    except ImportError:
        return None
    found: dict[int, dict[str, Any]] = applied(session, assessment)
    return found


def waiver_key(w: dict[str, Any]) -> str:
    """A waiver's identity within one answer of ``applied_waivers``."""
    if "id" in w:
        return str(w["id"])
    return json.dumps(w, sort_keys=True, default=str)


def _refs(text: str | None) -> dict[str, list[str]]:
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def assessment_point(
    session: Any, a: Assessment, frameworks: Sequence[str], period: str, started: str
) -> PeriodPoint:
    """One assessment rolled up: results grouped in SQL by (status, severity, references);
    results a waiver applied to move from their status to ``waived``."""
    return readings_point(session, [(a, None)], frameworks, period, started)


def readings_point(
    session: Any,
    parts: Sequence[tuple[Assessment, Sequence[int] | None]],
    frameworks: Sequence[str],
    period: str,
    started: str,
    hosts: int = 0,
) -> PeriodPoint:
    """Assessments rolled up together: each (assessment, its target ids to count, None for
    all), results grouped in SQL by (status, severity, references); results a waiver applied
    to move from their status to ``waived``. A requirement's status is rolled up over every
    part's results (failed when any host fails it)."""
    parsed: dict[str | None, dict[str, list[str]]] = {}
    weights: dict[tuple[str, str, str | None], int] = defaultdict(int)
    waived_results = 0
    waiver_keys: set[str] = set()
    known = False
    attested: dict[tuple[str, str], str] = {}
    for a, target_ids in parts:
        waived, keys, applied_known = _add_weights(session, a, target_ids, parsed, weights)
        waived_results += waived
        waiver_keys |= keys
        known = known or applied_known
        for x in attestations_for(session, a):
            attested[(str(x["framework"]), str(x["requirement"]))] = str(x["status"])
    counts, failures = weighted_requirement_counts(
        [(st, sev, parsed[text], n) for (st, sev, text), n in weights.items()],
        frameworks,
        attested,
    )
    return PeriodPoint(
        period,
        max((a.id for a, _ in parts), default=0),
        started,
        counts,
        failures,
        waived_results=waived_results,
        waivers=len(waiver_keys),
        waivers_known=known,
        assessments=sorted(a.id for a, _ in parts),
        hosts=hosts,
    )


def _add_weights(
    session: Any,
    a: Assessment,
    target_ids: Sequence[int] | None,
    parsed: dict[str | None, dict[str, list[str]]],
    weights: dict[tuple[str, str, str | None], int],
) -> tuple[int, set[str], bool]:
    """Add ``a``'s results (of ``target_ids`` only, unless None) to ``weights`` by (status,
    severity, references text); returns (waived results, waiver keys, waivers known)."""
    refs_text = cast(Result.references, Text)
    wanted = set(target_ids) if target_ids is not None else None
    q = select(Result.target_id, Result.status, Result.severity, refs_text, func.count())
    grouped = session.execute(
        q.where(Result.assessment_id == a.id).group_by(
            Result.target_id, Result.status, Result.severity, refs_text
        )
    ).all()
    for tid, status, severity, text, n in grouped:
        if wanted is not None and tid not in wanted:
            continue
        if text not in parsed:
            parsed[text] = _refs(text)
        weights[(status, severity, text)] += int(n)
    applied = applied_waivers(session, a)
    waived_results = 0
    kept: list[int] = []
    ids = list(applied or ())
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for rid, tid, status, severity, text in session.execute(
            select(Result.id, Result.target_id, Result.status, Result.severity, refs_text).where(
                Result.id.in_(chunk), Result.assessment_id == a.id
            )
        ):
            if wanted is not None and tid not in wanted:
                continue
            if text not in parsed:
                parsed[text] = _refs(text)
            weights[(status, severity, text)] -= 1
            weights[(Status.WAIVED, severity, text)] += 1
            waived_results += 1
            kept.append(rid)
    if not applied:
        return waived_results, set(), applied is not None
    shown = applied.values() if wanted is None else [applied[rid] for rid in kept]
    return waived_results, {waiver_key(w) for w in shown}, True


def period_trend(
    store: Store,
    assessment: Assessment,
    frameworks: Sequence[str],
    limit: int = 8,
    *,
    whole_history: bool = False,
) -> list[PeriodPoint]:
    """Each period up to ``assessment``'s, oldest first, at most ``limit`` periods. The history
    is the assessment's system's (``Assessment.system``): in each period, every host's latest
    reading among its assessments that finished (assessor.audit.fleet; one assessment when it
    read every host), ``assessment`` standing for the hosts it read in its own period. For an
    assessment without a system, the latest complete assessment of each period among those
    without one with the same scope. Only what was stored up to ``assessment`` counts (a
    report of it reads the same trend later), unless ``whole_history`` (``assessor trend``
    and the fleet report: an older period's bundles may be ingested after a newer one's)."""
    scope = sorted(assessment.scope)
    with store.session() as s:
        q = (
            select(Assessment.id, Assessment.period, Assessment.started, Assessment.scope)
            .where(
                FINISHED
                if assessment.system is not None
                else Assessment.status == AssessmentStatus.COMPLETE
            )
            .where(Assessment.period <= assessment.period)
            .order_by(Assessment.id)
        )
        if not whole_history:
            q = q.where(Assessment.id <= assessment.id)
        if assessment.system is not None:
            q = q.where(Assessment.system == assessment.system)
        else:
            q = q.where(Assessment.system.is_(None))
        latest: dict[str, tuple[int, str]] = {}
        for aid, period, started, sc in s.execute(q):
            if assessment.system is not None or sorted(sc) == scope:
                latest[period] = (aid, started.strftime("%Y-%m-%d"))
        latest[assessment.period] = (assessment.id, assessment.started.strftime("%Y-%m-%d"))
        chosen = sorted(latest.items())[-limit:] if limit > 0 else []
        found = (
            readings(
                s,
                assessment.system,
                [p for p, _ in chosen],
                upto=None if whole_history else assessment.id,
                anchor=assessment.id,
            )
            if assessment.system is not None
            else {}
        )
        points = []
        for period, (aid, started) in chosen:
            points.append(_point(s, aid, found.get(period, []), frameworks, period, started))
    return points


def _point(
    session: Any,
    latest: int,
    found: Sequence[Reading],
    frameworks: Sequence[str],
    period: str,
    started: str,
) -> PeriodPoint:
    """A period's point: the ``latest`` assessment alone when it read every host of the period
    (or the system is unknown), else each host's latest reading (a fleet)."""
    groups = by_assessment(found)
    if len(groups) <= 1:
        row = session.get(Assessment, next(iter(groups), latest))
        assert row is not None
        if row.id != latest:  # the latest stored was read before another (an old bundle)
            started = row.started.strftime("%Y-%m-%d")
        hosts = len(found) or _host_count(session, row)
        return readings_point(session, [(row, None)], frameworks, period, started, hosts)
    parts = []
    for aid, rs in groups.items():
        row = session.get(Assessment, aid)
        assert row is not None
        parts.append((row, [t for r in rs for t in r.target_ids]))
    return readings_point(session, parts, frameworks, period, started, len(found))


def _host_count(session: Any, a: Assessment) -> int:
    """How many hosts ``a``'s targets were read from."""
    uris = session.scalars(select(Target.uri).where(Target.assessment_id == a.id))
    return len({host_of(u, a.scanner_host) for u in uris})


def anchor(store: Store, system: str | None) -> Assessment:
    """The assessment the trend ends with: of ``system``, the latest that finished (complete or
    not: assessor.audit.fleet.FINISHED) of the latest period; with no system given, the latest
    complete assessment of the latest period."""
    with store.session() as s:
        if system is not None:
            q = select(Assessment).where(FINISHED, Assessment.system == system)
        else:
            q = select(Assessment).where(Assessment.status == AssessmentStatus.COMPLETE)
        latest = q.order_by(Assessment.period.desc(), Assessment.id.desc())
        row = s.scalars(latest.limit(1)).first()
    if row is None:
        if system is not None:
            raise NotFoundError(
                f"no finished assessment of system {system!r}",
                hint="'assessor assessments' lists systems",
            )
        raise NotFoundError("no complete assessment stored yet", hint="run 'assessor scan' first")
    return row


def to_json(a: Assessment, points: Sequence[PeriodPoint], frameworks: Sequence[str]) -> Any:
    """The documented ``assessor trend --format json`` document (docs/audit.md)."""
    return {
        "system": a.system,
        "scope": a.scope,
        "frameworks": list(frameworks),
        "waivers_known": any(p.waivers_known for p in points),
        "periods": [
            {
                "period": p.period,
                "assessment": p.assessment_id,
                "assessments": p.assessments,
                "hosts": p.hosts,
                "started": p.started,
                "waived_results": p.waived_results,
                "waivers": p.waivers,
                "frameworks": {
                    fw: {
                        "share_passed": _round(share_passed(p.counts.get(fw, {}))),
                        # not_assessed is not counted per period (no result references it)
                        "requirements": {
                            k: v
                            for k, v in p.counts.get(fw, {}).items()
                            if k != Status.NOT_ASSESSED
                        },
                        "failures": p.failures.get(fw, {}),
                    }
                    for fw in frameworks
                },
            }
            for p in points
        ],
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)
