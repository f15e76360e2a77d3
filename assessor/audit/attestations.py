"""Manual attestations: a person's answer (pass or fail) to a requirement the tool cannot
observe, for one system and period, with evidence files kept by SHA-256 (DESIGN §3, §5)."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from assessor.audit.waivers import iso
from assessor.errors import AssessorError
from assessor.regularfile import NotRegularFileError, TooLargeError, read_regular
from assessor.store.models import Assessment, Attachment, Attestation
from assessor.vocab import ATTESTATION_STATUSES, Coverage

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from assessor.catalog import Catalog

MAX_EVIDENCE_BYTES = 20 << 20  # 20 MiB per evidence file


def attestation_dict(a: Attestation) -> dict[str, Any]:
    """The documented shape of an attestation (also what a finalised assessment freezes)."""
    return {
        "id": a.id,
        "framework": a.framework,
        "requirement": a.requirement,
        "system": a.system,
        "period": a.period,
        "status": a.status,
        "by": a.by,
        "note": a.note,
        "created": iso(a.created),
        "expires": iso(a.expires),
        "evidence": [dict(e) for e in a.evidence],
    }


def attestations_for(
    session: Session, assessment: Assessment, at: datetime | None = None
) -> list[dict[str, Any]]:
    """The attestations for ``assessment``'s system (None matches None only) and period, made at
    or before ``at`` (default now) and not expired then; the newest per (framework,
    requirement), sorted by framework and requirement. A finalised assessment reads
    ``frozen["attestations"]``."""
    if assessment.frozen is not None:
        return [dict(a) for a in assessment.frozen.get("attestations") or []]
    at = at or datetime.now(UTC)
    q = select(Attestation).where(Attestation.period == assessment.period)
    if assessment.system is None:
        q = q.where(Attestation.system.is_(None))
    else:
        q = q.where(Attestation.system == assessment.system)
    newest: dict[tuple[str, str], Attestation] = {}
    for row in session.scalars(q.order_by(Attestation.created, Attestation.id)):
        if row.created > at or (row.expires is not None and row.expires < at):
            continue
        newest[(row.framework, row.requirement)] = row  # later rows replace earlier ones
    return [attestation_dict(newest[k]) for k in sorted(newest)]


def by_requirement(attestations: Sequence[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(a["framework"], a["requirement"]): a for a in attestations}


def resolve_requirement(
    catalog: Catalog, requirement: str, framework: str | None
) -> tuple[str, str]:
    """``FRAMEWORK:ID`` or ``ID`` with ``--framework`` -> (framework, requirement id), both
    checked against the catalog; a requirement fully automated or not applicable is refused."""
    fw, sep, rid = requirement.partition(":")
    if sep and (framework is None or fw in catalog.frameworks):
        if framework is not None and framework != fw:
            raise AssessorError(
                f"{requirement!r} names framework {fw!r}, --framework {framework!r}"
            )
    elif framework is not None:
        fw, rid = framework, requirement
    else:
        raise AssessorError(
            f"requirement {requirement!r}: give FRAMEWORK:ID (e.g. nistir-8176:4.6) or --framework",
            hint="known frameworks: " + ", ".join(sorted(catalog.frameworks)),
        )
    if fw not in catalog.frameworks:
        raise AssessorError(
            f"no framework {fw!r}", hint="known: " + ", ".join(sorted(catalog.frameworks))
        )
    req = next((r for r in catalog.frameworks[fw].requirements if r.id == rid), None)
    if req is None:
        raise AssessorError(
            f"no requirement {rid!r} in {fw}",
            hint=f"'assessor controls coverage --framework {fw}' lists them",
        )
    coverage = catalog.coverage(req)
    if coverage in (Coverage.AUTOMATED, Coverage.NOT_APPLICABLE):
        raise AssessorError(
            f"{fw}:{rid} is {coverage.value.replace('_', ' ')}: it has no manual part to attest"
        )
    return fw, rid


def read_evidence(path: Path, limit: int = MAX_EVIDENCE_BYTES) -> tuple[str, bytes]:
    """(basename, bytes) of an evidence file, read at most ``limit`` bytes."""
    try:
        body, _ = read_regular(path, limit)
    except NotRegularFileError as e:
        raise AssessorError(f"evidence {path}: not a file ({e.kind})") from None
    except TooLargeError:
        raise AssessorError(
            f"evidence {path}: larger than {limit >> 20} MiB",
            hint="attach an excerpt, or a document that names where the full record is kept",
        ) from None
    except OSError as e:
        raise AssessorError(f"evidence {path}: cannot read: {e.strerror}") from None
    return path.name, body


def store_attachment(session: Session, body: bytes) -> str:
    """Keep ``body`` once by SHA-256; returns the hash."""
    sha = hashlib.sha256(body).hexdigest()
    if session.get(Attachment, sha) is None:
        session.add(Attachment(sha256=sha, size=len(body), body=zlib.compress(body, 6)))
        session.flush()
    return sha


def read_attachment(session: Session, sha256: str) -> bytes | None:
    row = session.get(Attachment, sha256)
    return zlib.decompress(row.body) if row is not None else None


@dataclass(frozen=True)
class AttestationSpec:
    framework: str
    requirement: str
    system: str | None
    period: str
    status: str
    by: str
    note: str
    expires: datetime | None


def add_attestation(
    session: Session,
    spec: AttestationSpec,
    evidence: Sequence[tuple[str, bytes]] = (),
    now: datetime | None = None,
) -> Attestation:
    if spec.status not in ATTESTATION_STATUSES:
        raise AssessorError(f"--status {spec.status!r}: expected pass or fail")
    for value, name in ((spec.by, "--by"), (spec.note, "--note")):
        if not value or not value.strip():
            raise AssessorError(f"{name} must not be empty")
    now = now or datetime.now(UTC)
    if spec.expires is not None and spec.expires < now:
        raise AssessorError(f"--expires {spec.expires.date().isoformat()} is in the past")
    files = [
        {"name": name, "sha256": store_attachment(session, body), "size": len(body)}
        for name, body in evidence
    ]
    row = Attestation(
        framework=spec.framework,
        requirement=spec.requirement,
        system=spec.system,
        period=spec.period,
        status=spec.status,
        by=spec.by.strip(),
        note=spec.note.strip(),
        created=now,
        expires=spec.expires,
        evidence=files,
    )
    session.add(row)
    session.flush()
    return row


__all__ = [
    "MAX_EVIDENCE_BYTES",
    "AttestationSpec",
    "add_attestation",
    "attestation_dict",
    "attestations_for",
    "by_requirement",
    "read_attachment",
    "read_evidence",
    "resolve_requirement",
    "store_attachment",
]
