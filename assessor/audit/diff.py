"""What changed between two stored assessments (``assessor diff``): new failures, fixed
findings, new and removed targets, changed waivers and catalog changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from assessor.audit.trend import applied_waivers
from assessor.errors import AssessorError, NotFoundError
from assessor.store.db import Store
from assessor.store.models import Assessment, Result, Target
from assessor.vocab import FAILING_STATUSES, AssessmentStatus, severity_place

# (rule, target uri, resource)
Key = tuple[str, str, str]


@dataclass
class Row:
    """The columns of one result that a diff reads."""

    id: int
    rule: str
    title: str
    severity: str
    target: str
    resource: str
    status: str
    message: str


@dataclass
class Diff:
    before: Assessment
    after: Assessment
    new_failures: list[dict[str, Any]] = field(default_factory=list)
    fixed: list[dict[str, Any]] = field(default_factory=list)
    targets_added: list[dict[str, Any]] = field(default_factory=list)
    targets_removed: list[dict[str, Any]] = field(default_factory=list)
    waivers_known: bool = False
    no_longer_waived: list[dict[str, Any]] = field(default_factory=list)
    newly_waived: list[dict[str, Any]] = field(default_factory=list)
    rules_added: list[str] = field(default_factory=list)
    rules_removed: list[str] = field(default_factory=list)

    @property
    def catalog_changed(self) -> bool:
        return self.before.catalog_digest != self.after.catalog_digest


def default_pair(
    store: Store, system: str | None, *, system_given: bool
) -> tuple[Assessment, Assessment]:
    """The last two complete assessments of ``system`` (given) or of the latest assessment's
    system; an assessment without a system pairs with those without one and the same scope."""
    with store.session() as s:
        if system_given:
            anchor = s.scalars(
                select(Assessment)
                .where(Assessment.system == system)
                .order_by(Assessment.id.desc())
                .limit(1)
            ).first()
            if anchor is None:
                raise NotFoundError(
                    f"no assessment of system {system!r}",
                    hint="'assessor assessments' lists systems",
                )
        else:
            anchor = s.scalars(select(Assessment).order_by(Assessment.id.desc()).limit(1)).first()
            if anchor is None:
                raise NotFoundError("no assessment stored yet", hint="run 'assessor scan' first")
        q = (
            select(Assessment)
            .where(Assessment.status == AssessmentStatus.COMPLETE)
            .order_by(Assessment.id.desc())
        )
        if anchor.system is not None:
            rows = list(s.scalars(q.where(Assessment.system == anchor.system).limit(2)))
        else:
            scope = sorted(anchor.scope)
            rows = [
                a
                for a in s.scalars(q.where(Assessment.system.is_(None)))
                if sorted(a.scope) == scope
            ][:2]
    what = (
        f"system {anchor.system!r}"
        if anchor.system is not None
        else f"scope {', '.join(anchor.scope) or '(empty)'} (no system)"
    )
    if len(rows) < 2:
        raise AssessorError(
            f"diff needs two complete assessments of {what}; found {len(rows)}",
            hint="name two assessments: 'assessor diff A B'",
        )
    return rows[1], rows[0]


def previous_of(store: Store, a: Assessment) -> Assessment:
    """The complete assessment of the same system (or scope) just before ``a``."""
    with store.session() as s:
        q = (
            select(Assessment)
            .where(Assessment.status == AssessmentStatus.COMPLETE, Assessment.id < a.id)
            .order_by(Assessment.id.desc())
        )
        if a.system is not None:
            found = s.scalars(q.where(Assessment.system == a.system).limit(1)).first()
        else:
            scope = sorted(a.scope)
            found = next(
                (
                    b
                    for b in s.scalars(q.where(Assessment.system.is_(None)))
                    if sorted(b.scope) == scope
                ),
                None,
            )
    if found is None:
        raise AssessorError(
            f"assessment {a.id} has no earlier complete assessment of the same "
            + ("system" if a.system is not None else "scope"),
            hint="name two assessments: 'assessor diff A B'",
        )
    return found


def _rows(s: Any, assessment_id: int) -> dict[Key, Row]:
    q = (
        select(
            Result.id,
            Result.rule,
            Result.title,
            Result.severity,
            Target.uri,
            Result.resource,
            Result.status,
            Result.message,
        )
        .join(Target, Result.target_id == Target.id)
        .where(Result.assessment_id == assessment_id)
        .order_by(Result.id)
    )
    return {(r[1], r[4], r[5]): Row(*r) for r in s.execute(q)}


def _targets(s: Any, assessment_id: int) -> dict[str, dict[str, Any]]:
    q = (
        select(Target.uri, Target.kind, Target.status)
        .where(Target.assessment_id == assessment_id)
        .order_by(Target.id)
    )
    return {uri: {"uri": uri, "kind": kind, "status": st} for uri, kind, st in s.execute(q)}


def _plain(value: Any) -> Any:
    """A waiver as JSON can carry it."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat().replace("+00:00", "Z")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _finding(row: Row, before: str | None, now: str | None) -> dict[str, Any]:
    return {
        "rule": row.rule,
        "title": row.title,
        "severity": row.severity,
        "target": row.target,
        "resource": row.resource,
        "before": before,
        "now": now,
        "message": row.message,
    }


def diff(store: Store, before: Assessment, after: Assessment) -> Diff:
    """Compare ``before`` with ``after``; a result is keyed by rule, target URI and resource."""
    out = Diff(before, after)
    with store.session() as s:
        old, new = _rows(s, before.id), _rows(s, after.id)
        old_targets, new_targets = _targets(s, before.id), _targets(s, after.id)
        a_old, a_new = s.get(Assessment, before.id), s.get(Assessment, after.id)
        assert a_old is not None
        assert a_new is not None
        w_old, w_new = applied_waivers(s, a_old), applied_waivers(s, a_new)
    out.targets_added = [t for uri, t in new_targets.items() if uri not in old_targets]
    out.targets_removed = [t for uri, t in old_targets.items() if uri not in new_targets]
    old_rules = {k[0] for k in old}
    new_rules = {k[0] for k in new}
    out.rules_added = sorted(new_rules - old_rules)
    out.rules_removed = sorted(old_rules - new_rules)
    for key, row in new.items():
        prev = old.get(key)
        if row.status in FAILING_STATUSES and (prev is None or prev.status not in FAILING_STATUSES):
            out.new_failures.append(_finding(row, prev.status if prev else None, row.status))
    gone_targets = {t["uri"] for t in out.targets_removed}
    gone_rules = set(out.rules_removed)
    for key, row in old.items():
        if (
            row.status not in FAILING_STATUSES
            or row.target in gone_targets
            or row.rule in gone_rules
        ):
            continue
        cur = new.get(key)
        if cur is None or cur.status not in FAILING_STATUSES:
            # absent now: the resource went away while its target and rule stayed
            out.fixed.append(_finding(cur or row, row.status, cur.status if cur else None))
    if w_old is not None or w_new is not None:
        out.waivers_known = True
        w_old, w_new = w_old or {}, w_new or {}
        was = {key: w_old[row.id] for key, row in old.items() if row.id in w_old}
        now = {key: w_new[row.id] for key, row in new.items() if row.id in w_new}
        for key, waiver in was.items():
            if key not in now:
                cur = new.get(key)
                item = _finding(cur or old[key], old[key].status, cur.status if cur else None)
                out.no_longer_waived.append({**item, "waiver": _plain(waiver)})
        for key, waiver in now.items():
            if key not in was:
                prev = old.get(key)
                item = _finding(new[key], prev.status if prev else None, new[key].status)
                out.newly_waived.append({**item, "waiver": _plain(waiver)})
    for items in (out.new_failures, out.fixed, out.no_longer_waived, out.newly_waived):
        items.sort(key=_order)
    return out


def _order(item: dict[str, Any]) -> tuple[int, str, str, str]:
    return severity_place(item["severity"]), item["rule"], item["target"], item["resource"]


def summary(d: Diff) -> dict[str, int]:
    return {
        "new_failures": len(d.new_failures),
        "fixed": len(d.fixed),
        "targets_added": len(d.targets_added),
        "targets_removed": len(d.targets_removed),
        "no_longer_waived": len(d.no_longer_waived),
        "newly_waived": len(d.newly_waived),
        "rules_added": len(d.rules_added),
        "rules_removed": len(d.rules_removed),
    }


def to_json(d: Diff, assessment_json: Any) -> dict[str, Any]:
    """The documented ``assessor diff --format json`` document (docs/audit.md)."""
    return {
        "before": assessment_json(d.before),
        "after": assessment_json(d.after),
        "summary": summary(d),
        "new_failures": d.new_failures,
        "fixed": d.fixed,
        "targets": {"added": d.targets_added, "removed": d.targets_removed},
        "waivers": {
            "known": d.waivers_known,
            "no_longer_waived": d.no_longer_waived,
            "newly_waived": d.newly_waived,
        },
        "catalog": {
            "changed": d.catalog_changed,
            "before": d.before.catalog_digest,
            "after": d.after.catalog_digest,
            "rules_added": d.rules_added,
            "rules_removed": d.rules_removed,
        },
    }
