"""Requirement status counts per period, for the report's trend chart (and ``assessor trend``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from assessor.audit.rollup import REQUIREMENT_STATUSES, rollup
from assessor.store.db import Store
from assessor.store.models import Assessment, Result


@dataclass
class PeriodPoint:
    """One period's latest assessment of the same scope, rolled up per framework."""

    period: str
    assessment_id: int
    started: str
    # framework id -> requirement status -> number of requirements
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    # framework id -> severity -> failing results
    failures: dict[str, dict[str, int]] = field(default_factory=dict)


def requirement_counts(
    rows: Sequence[tuple[str, str, dict[str, list[str]]]], frameworks: Sequence[str]
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """(status, severity, references) rows -> per framework: requirement status counts and
    failing results by severity. Requirements no result references are not counted here."""
    by_req: dict[str, dict[str, list[str]]] = {fw: defaultdict(list) for fw in frameworks}
    failures: dict[str, dict[str, int]] = {fw: defaultdict(int) for fw in frameworks}
    for status, severity, refs in rows:
        for fw in frameworks:
            ids = (refs or {}).get(fw)
            if not ids:
                continue
            for rid in ids:
                by_req[fw][rid].append(status)
            if status == "fail":
                failures[fw][severity] += 1
    counts: dict[str, dict[str, int]] = {}
    for fw in frameworks:
        c = dict.fromkeys(REQUIREMENT_STATUSES, 0)
        for statuses in by_req[fw].values():
            c[rollup(statuses)] += 1
        counts[fw] = c
    return counts, {fw: dict(v) for fw, v in failures.items()}


def period_trend(
    store: Store, assessment: Assessment, frameworks: Sequence[str], limit: int = 8
) -> list[PeriodPoint]:
    """The latest assessment of each period up to ``assessment``'s, with the same scope, oldest
    first, at most ``limit`` periods; ``assessment`` itself stands for its own period."""
    scope = sorted(assessment.scope)
    with store.session() as s:
        rows = s.execute(
            select(Assessment.id, Assessment.period, Assessment.started, Assessment.scope)
            .where(Assessment.id <= assessment.id)
            .where(Assessment.status == "complete")
            .order_by(Assessment.id)
        ).all()
        latest: dict[str, tuple[int, str]] = {}
        for aid, period, started, sc in rows:
            if sorted(sc) == scope and period <= assessment.period:
                latest[period] = (aid, started.strftime("%Y-%m-%d"))
        latest[assessment.period] = (assessment.id, assessment.started.strftime("%Y-%m-%d"))
        chosen = sorted(latest.items())[-limit:]
        points = []
        for period, (aid, started) in chosen:
            results = s.execute(
                select(Result.status, Result.severity, Result.references).where(
                    Result.assessment_id == aid
                )
            ).all()
            counts, failures = requirement_counts(
                [(st, sev, refs) for st, sev, refs in results], frameworks
            )
            points.append(PeriodPoint(period, aid, started, counts, failures))
    return points
