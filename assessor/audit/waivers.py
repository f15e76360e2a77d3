"""Waivers: approved exceptions that make a rule's ``fail`` read ``waived`` (DESIGN §1, §5).

A waiver never changes a stored result; it is applied when results are read (``results``,
reports). It names a rule, fnmatch patterns on the resource and the target URI, optionally a
system, and carries a reason, an approver and an expiry (the end of that day, UTC).

A waiver is *active* at time ``at`` when it was created at or before ``at``, expires at or after
``at``, and is not revoked (or was revoked after ``at``). A finalised assessment reads the
waivers frozen with it, never the live table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from assessor.audit.periods import check_system
from assessor.errors import AssessorError, ControlDefinitionError
from assessor.store.models import Assessment, Result, Target, Waiver
from assessor.vocab import Status

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from assessor.catalog import Catalog

MAX_DAYS = 366  # an expiry further out than this needs --allow-long (or allow_long: true)
MAX_WAIVERS_FILE = 1 << 20
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z") if dt is not None else None


def end_of_day(day: date) -> datetime:
    """The last second of ``day``, UTC: when a waiver expiring that day stops applying."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def parse_day(text: str, what: str = "--expires") -> date:
    if not DATE.match(text.strip()):
        raise AssessorError(f"{what} {text!r}: expected a date YYYY-MM-DD")
    try:
        return date.fromisoformat(text.strip())
    except ValueError as e:
        raise AssessorError(f"{what} {text!r}: {e}") from None


def waiver_dict(w: Waiver) -> dict[str, Any]:
    """The documented shape of a waiver (also what a finalised assessment freezes)."""
    return {
        "id": w.id,
        "rule": w.rule,
        "resource_pattern": w.resource_pattern,
        "target_pattern": w.target_pattern,
        "system": w.system,
        "reason": w.reason,
        "approver": w.approver,
        "compensating": w.compensating,
        "expires": iso(w.expires),
        "source": w.source,
        "created": iso(w.created),
    }


def is_active(w: Waiver, at: datetime) -> bool:
    return w.created <= at and w.expires >= at and (w.revoked_at is None or w.revoked_at > at)


def state(w: Waiver, at: datetime) -> str:
    """active | revoked | expired | pending (created after ``at``)."""
    if w.revoked_at is not None and w.revoked_at <= at:
        return "revoked"
    if w.expires < at:
        return "expired"
    if w.created > at:
        return "pending"
    return "active"


def covers(w: Waiver, rule: str, resource: str, target: str) -> bool:
    return (
        w.rule == rule
        and fnmatchcase(resource, w.resource_pattern)
        and fnmatchcase(target, w.target_pattern)
    )


def _for_system(w: Waiver, system: str | None) -> bool:
    return w.system is None or w.system == system


def _fail_results(
    session: Session, assessment: Assessment, rules: Iterable[str]
) -> list[tuple[int, str, str, str]]:
    """(result id, rule, resource, target uri) of the assessment's fails of ``rules``."""
    wanted = sorted(set(rules))
    if not wanted:
        return []
    q = (
        select(Result.id, Result.rule, Result.resource, Target.uri)
        .join(Target, Result.target_id == Target.id)
        .where(
            Result.assessment_id == assessment.id,
            Result.status == Status.FAIL,
            Result.rule.in_(wanted),
        )
        .order_by(Result.id)
    )
    return [(int(i), r, res, uri) for i, r, res, uri in session.execute(q)]


def _best(candidates: list[Waiver]) -> Waiver:
    """Of several waivers covering one result: the one that lasts longest, then the oldest."""
    return sorted(candidates, key=lambda w: (-w.expires.timestamp(), w.id))[0]


def _live(
    session: Session, assessment: Assessment, at: datetime
) -> tuple[dict[int, Waiver], list[Waiver], list[tuple[int, str, str, str]]]:
    """Active waivers applied per result id, the waivers of the system, and the fails read."""
    waivers = [
        w
        for w in session.scalars(select(Waiver).order_by(Waiver.id))
        if _for_system(w, assessment.system)
    ]
    fails = _fail_results(session, assessment, (w.rule for w in waivers))
    by_rule: dict[str, list[Waiver]] = {}
    for w in waivers:
        if is_active(w, at):
            by_rule.setdefault(w.rule, []).append(w)
    applied: dict[int, Waiver] = {}
    for rid, rule, resource, uri in fails:
        hits = [w for w in by_rule.get(rule, ()) if covers(w, rule, resource, uri)]
        if hits:
            applied[rid] = _best(hits)
    return applied, waivers, fails


def applied_waivers(
    session: Session, assessment: Assessment, at: datetime | None = None
) -> dict[int, dict[str, Any]]:
    """result id -> waiver dict, for every ``fail`` result of ``assessment`` an active waiver
    covers at ``at`` (default now). A finalised assessment reads ``frozen["waivers"]``."""
    if assessment.frozen is not None:
        frozen = assessment.frozen.get("waivers") or {}
        return {int(k): dict(v) for k, v in frozen.items()}
    at = at or datetime.now(UTC)
    applied, _, _ = _live(session, assessment, at)
    return {rid: waiver_dict(w) for rid, w in applied.items()}


def expired_waivers(
    session: Session, assessment: Assessment, at: datetime | None = None
) -> list[dict[str, Any]]:
    """Waivers that would cover a ``fail`` result of ``assessment`` no active waiver covers,
    but expired before ``at`` (revoked ones are not listed). Each dict adds ``results``: how
    many fails it would cover. A finalised assessment: ``frozen["expired_waivers"]`` when
    frozen, else computed from the stored waivers at the time of finalisation."""
    if assessment.frozen is not None:
        if "expired_waivers" in assessment.frozen:
            return [dict(w) for w in assessment.frozen["expired_waivers"]]
        at = assessment.finalised_at or at
        covered = set(applied_waivers(session, assessment))
    else:
        covered = set()
    at = at or datetime.now(UTC)
    applied, waivers, fails = _live(session, assessment, at)
    covered |= set(applied)
    expired = [
        w for w in waivers if w.expires < at and (w.revoked_at is None or w.revoked_at > w.expires)
    ]
    out = []
    for w in expired:
        n = sum(
            1
            for rid, rule, resource, uri in fails
            if rid not in covered and covers(w, rule, resource, uri)
        )
        if n:
            out.append({**waiver_dict(w), "results": n})
    return out


# --- writing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaiverSpec:
    rule: str
    resource: str
    target: str
    system: str | None
    reason: str
    approver: str
    expires: date
    compensating: str | None

    def key(self) -> tuple[Any, ...]:
        return (
            self.rule,
            self.resource,
            self.target,
            self.system,
            self.reason,
            self.approver,
            end_of_day(self.expires),
        )


def check_text(value: str | None, name: str) -> str:
    if value is None or not value.strip():
        raise AssessorError(f"{name} must not be empty")
    return value.strip()


def check_spec(
    spec: WaiverSpec,
    catalog: Catalog | None,
    *,
    today: date,
    allow_long: bool = False,
    allow_past: bool = False,
) -> None:
    """The rules every waiver obeys; raises AssessorError naming the field."""
    check_text(spec.reason, "reason")
    check_text(spec.approver, "approver")
    if not spec.resource or not spec.target:
        raise AssessorError("resource and target patterns must not be empty (use '*')")
    if catalog is not None and spec.rule not in catalog.rules:
        raise AssessorError(
            f"no rule {spec.rule!r} in the catalog", hint="'assessor controls list' lists them"
        )
    if spec.expires < today and not allow_past:
        raise AssessorError(f"expires {spec.expires.isoformat()} is in the past")
    if spec.expires > today + timedelta(days=MAX_DAYS) and not allow_long:
        raise AssessorError(
            f"expires {spec.expires.isoformat()} is more than {MAX_DAYS} days away",
            hint="review waivers at least yearly, or pass --allow-long",
        )


def find_identical(session: Session, spec: WaiverSpec) -> Waiver | None:
    """A stored waiver with the same rule, patterns, system, reason, approver and expiry."""
    for w in session.scalars(select(Waiver).where(Waiver.rule == spec.rule).order_by(Waiver.id)):
        same = (
            w.rule,
            w.resource_pattern,
            w.target_pattern,
            w.system,
            w.reason,
            w.approver,
            w.expires,
        )
        if same == spec.key():
            return w
    return None


def add_waiver(
    session: Session, spec: WaiverSpec, source: str, now: datetime | None = None
) -> tuple[Waiver, bool]:
    """Store ``spec`` unless an identical waiver is stored; (waiver, newly created)."""
    existing = find_identical(session, spec)
    if existing is not None:
        return existing, False
    row = Waiver(
        rule=spec.rule,
        resource_pattern=spec.resource,
        target_pattern=spec.target,
        system=spec.system,
        reason=spec.reason.strip(),
        approver=spec.approver.strip(),
        compensating=(spec.compensating or "").strip() or None,
        created=now or datetime.now(UTC),
        expires=end_of_day(spec.expires),
        source=source,
    )
    session.add(row)
    session.flush()
    return row, True


def revoke(session: Session, waiver_id: int, by: str, reason: str) -> Waiver:
    w = session.get(Waiver, waiver_id)
    if w is None:
        raise AssessorError(f"no waiver {waiver_id}", hint="'assessor waivers list --all'")
    if w.revoked_at is not None:
        raise AssessorError(f"waiver {waiver_id} was already revoked by {w.revoked_by}")
    w.revoked_at = datetime.now(UTC)
    w.revoked_by = check_text(by, "--by")
    w.revoke_reason = check_text(reason, "--reason")
    return w


# --- the reviewed waivers file ----------------------------------------------------------------


def _entry_model() -> Any:
    """The strict pydantic model of one waivers-file entry (built lazily: pydantic is slow
    to import and only this path needs it)."""
    from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

    class WaiverEntry(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        rule: str
        resource: str = "*"
        target: str = "*"
        system: str | None = None
        reason: str
        approver: str
        expires: date
        compensating: str | None = None
        allow_long: bool = False

        @field_validator("expires", mode="before")
        @classmethod
        def _day(cls, v: Any) -> Any:
            if isinstance(v, datetime) or not isinstance(v, date | str):
                raise ValueError("expected a date YYYY-MM-DD")
            if isinstance(v, str) and not DATE.match(v):
                raise ValueError("expected a date YYYY-MM-DD")
            return v

        @field_validator("reason", "approver", "resource", "target")
        @classmethod
        def _not_blank(cls, v: str) -> str:
            if not v.strip():
                raise ValueError("must not be empty")
            return v.strip()

        @field_validator("system")
        @classmethod
        def _system(cls, v: str | None) -> str | None:
            try:
                return check_system(v)
            except AssessorError as e:
                raise ValueError(e.message) from None

        @field_validator("rule")
        @classmethod
        def _rule(cls, v: str, info: ValidationInfo) -> str:
            catalog = (info.context or {}).get("catalog")
            if catalog is not None and v not in catalog.rules:
                raise ValueError(f"no rule {v!r} in the catalog")
            return v

    return WaiverEntry


@dataclass(frozen=True)
class FileWaiver:
    spec: WaiverSpec
    source: str  # FILE:LINE
    allow_long: bool


def read_waivers_file(path: Path, catalog: Catalog | None, today: date) -> list[FileWaiver]:
    """Parse and validate a waivers file: a YAML list of entries (or ``waivers:`` holding one).
    Every error names the file, the line and the field, like a control file's."""
    from pydantic import TypeAdapter

    from assessor.catalog.loader import YamlDoc, read_document

    read = read_document(path, MAX_WAIVERS_FILE)
    name, data = read.name, read.data if read.data is not None else []
    prefix: tuple[str | int, ...] = ()
    if isinstance(data, dict) and set(data) == {"waivers"}:
        data, prefix = data["waivers"], ("waivers",)
    if not isinstance(data, list):
        raise ControlDefinitionError(
            name, 1, None, "expected a list of waivers (or a mapping 'waivers:' holding one)"
        )
    doc = YamlDoc(path, data, {k[len(prefix) :]: v for k, v in read.lines.items()}, read.raw)
    model = _entry_model()
    adapter: Any = TypeAdapter(list[model])  # type: ignore[valid-type]
    entries: list[Any] = doc.validate(
        lambda d: adapter.validate_python(d, context={"catalog": catalog})
    )
    out = []
    for i, entry in enumerate(entries):
        spec = WaiverSpec(
            entry.rule,
            entry.resource,
            entry.target,
            entry.system,
            entry.reason,
            entry.approver,
            entry.expires,
            entry.compensating,
        )
        line = doc.lines.get((i,))
        try:
            check_spec(spec, None, today=today, allow_long=entry.allow_long, allow_past=True)
        except AssessorError as err:
            line = doc.lines.get((i, "expires"), line)
            raise ControlDefinitionError(name, line, f"[{i}].expires", err.message) from None
        out.append(FileWaiver(spec, f"{name}:{line}" if line else name, entry.allow_long))
    return out


@dataclass
class ImportOutcome:
    added: list[int]
    existing: list[int]
    warnings: list[str]


def import_waivers(session: Session, items: Sequence[FileWaiver], today: date) -> ImportOutcome:
    """Store the file's waivers; identical ones already stored are kept, not duplicated."""
    outcome = ImportOutcome([], [], [])
    for item in items:
        row, created = add_waiver(session, item.spec, item.source)
        (outcome.added if created else outcome.existing).append(row.id)
        if item.spec.expires < today:
            outcome.warnings.append(
                f"{item.source}: waiver {row.id} of {item.spec.rule} expired on "
                f"{item.spec.expires.isoformat()}; it no longer applies"
            )
        if not created and row.revoked_at is not None:
            outcome.warnings.append(
                f"{item.source}: waiver {row.id} of {item.spec.rule} was revoked by "
                f"{row.revoked_by}; it stays revoked"
            )
    return outcome


__all__ = [
    "MAX_DAYS",
    "WaiverSpec",
    "add_waiver",
    "applied_waivers",
    "end_of_day",
    "expired_waivers",
    "import_waivers",
    "is_active",
    "read_waivers_file",
    "revoke",
    "state",
    "waiver_dict",
]
