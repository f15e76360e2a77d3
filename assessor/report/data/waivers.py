"""The report's waivers and attestations: the views of applied (and expired) waivers and of
attestations with their attached files."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class WaiverView:
    """An applied waiver (or an expired one) and how many failing results it covers."""

    id: int
    rule: str
    resource_pattern: str
    target_pattern: str
    system: str | None
    reason: str
    approver: str
    compensating: str | None
    expires: str  # YYYY-MM-DD
    source: str
    results: int
    created: str = ""  # YYYY-MM-DD: when the waiver was recorded
    targets: list[str] = field(default_factory=list)
    severity: str = ""
    frameworks: str = ""


@dataclass
class EvidenceFile:
    name: str
    sha256: str
    size: int
    href: str | None = None  # the attachment, when the renderer embeds or ships it


@dataclass
class AttestationView:
    id: int
    framework: str
    requirement: str
    status: str  # pass | fail
    by: str
    created: str  # YYYY-MM-DD HH:MM UTC
    note: str
    expires: str | None
    evidence: list[EvidenceFile]

    @property
    def anchor(self) -> str:
        return f"attestation-{self.id}"


def day(value: object) -> str:
    return str(value or "")[:10]


def waiver_view(w: dict[str, Any], results: int) -> WaiverView:
    return WaiverView(
        id=int(w["id"]),
        rule=str(w["rule"]),
        resource_pattern=str(w.get("resource_pattern") or "*"),
        target_pattern=str(w.get("target_pattern") or "*"),
        system=w.get("system"),
        reason=str(w.get("reason") or ""),
        approver=str(w.get("approver") or ""),
        compensating=w.get("compensating"),
        expires=day(w.get("expires")),
        source=str(w.get("source") or ""),
        results=results,
        created=day(w.get("created")),
    )


def attestation_view(a: dict[str, Any], attachments: dict[str, str]) -> AttestationView:
    created = str(a.get("created") or "")
    aid = int(a["id"])
    files = []
    for e in a.get("evidence") or []:
        sha = str(e.get("sha256", ""))
        files.append(
            EvidenceFile(
                str(e.get("name", "")),
                sha,
                int(e.get("size", 0)),
                attachments.get(f"attestation:{aid}:{sha}"),
            )
        )
    return AttestationView(
        id=aid,
        framework=str(a["framework"]),
        requirement=str(a["requirement"]),
        status=str(a["status"]),
        by=str(a.get("by") or ""),
        created=created[:16].replace("T", " ") + " UTC" if created else "",
        note=str(a.get("note") or ""),
        expires=day(a["expires"]) if a.get("expires") else None,
        evidence=files,
    )
