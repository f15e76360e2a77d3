"""SQLAlchemy 2 typed models. The schema changes only through Alembic migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Assessment(Base):
    __tablename__ = "assessment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    started: Mapped[datetime] = mapped_column(UTCDateTime())
    finished: Mapped[datetime | None] = mapped_column(UTCDateTime())
    period: Mapped[str] = mapped_column(String(32), index=True)
    # incomplete until the scan ends; a killed scan stays incomplete
    status: Mapped[str] = mapped_column(String(16))
    scope: Mapped[list[str]] = mapped_column(JSON)
    tool_version: Mapped[str] = mapped_column(String(32))
    catalog_digest: Mapped[str] = mapped_column(String(80))
    scanner_host: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    # the system under assessment (scan --system); assessments of one system form its history
    system: Mapped[str | None] = mapped_column(String(255), index=True)
    # set by `assessor finalise`: who froze it, the frozen waivers and attestations, the
    # SHA-256 of its frozen content, and the digest of the system's previous finalised one
    finalised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finalised_by: Mapped[str | None] = mapped_column(String(255))
    frozen: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    digest: Mapped[str | None] = mapped_column(String(64))
    previous_digest: Mapped[str | None] = mapped_column(String(64))

    targets: Mapped[list[Target]] = relationship(
        back_populates="assessment", cascade="all, delete-orphan"
    )
    results: Mapped[list[Result]] = relationship(
        back_populates="assessment", cascade="all, delete-orphan"
    )


class Target(Base):
    __tablename__ = "target"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("assessment.id", ondelete="CASCADE"), index=True
    )
    uri: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    # collected | unreachable | error
    status: Mapped[str] = mapped_column(String(16))
    identity: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)

    assessment: Mapped[Assessment] = relationship(back_populates="targets")
    evidence: Mapped[list[TargetEvidence]] = relationship(cascade="all, delete-orphan")


class Evidence(Base):
    """Content-addressed: one row however many assessments observed the same document."""

    __tablename__ = "evidence"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)  # bytes of canonical JSON
    # zlib-compressed canonical JSON
    body: Mapped[bytes] = mapped_column(LargeBinary)


class TargetEvidence(Base):
    __tablename__ = "target_evidence"

    target_id: Mapped[int] = mapped_column(
        ForeignKey("target.id", ondelete="CASCADE"), primary_key=True
    )
    evidence_hash: Mapped[str] = mapped_column(
        ForeignKey("evidence.hash"), primary_key=True, index=True
    )
    resource: Mapped[str] = mapped_column(Text)
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Result(Base):
    __tablename__ = "result"
    __table_args__ = (Index("ix_result_assessment_status", "assessment_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(ForeignKey("target.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(100), index=True)
    # kept as judged, so history reads right after the catalog changes
    title: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16))
    resource: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    evidence_hash: Mapped[str | None] = mapped_column(ForeignKey("evidence.hash"))
    references: Mapped[dict[str, list[str]]] = mapped_column(JSON)

    assessment: Mapped[Assessment] = relationship(back_populates="results")
    target: Mapped[Target] = relationship()


class Report(Base):
    """A report file written from an assessment: what was written, its hash, and its signature."""

    __tablename__ = "report"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("assessment.id", ondelete="CASCADE"), index=True
    )
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    format: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(4096))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    frameworks: Mapped[list[str]] = mapped_column(JSON)
    # {kind: pades|cms, signer, certificate_sha256, signature_path, signature_sha256}; None unsigned
    signature: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Waiver(Base):
    """An approved exception: a rule's failures on matching resources read ``waived``."""

    __tablename__ = "waiver"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(100), index=True)
    resource_pattern: Mapped[str] = mapped_column(Text)  # fnmatch glob; "*" all
    target_pattern: Mapped[str] = mapped_column(Text)  # fnmatch glob; "*" all
    system: Mapped[str | None] = mapped_column(String(255))  # None: any system
    reason: Mapped[str] = mapped_column(Text)
    approver: Mapped[str] = mapped_column(String(255))
    compensating: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    expires: Mapped[datetime] = mapped_column(UTCDateTime())  # end of the expiry day, UTC
    source: Mapped[str] = mapped_column(Text)  # "cli" or the waivers file it came from
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(255))
    revoke_reason: Mapped[str | None] = mapped_column(Text)


class Attestation(Base):
    """A person's answer to a manual requirement, for a system and period."""

    __tablename__ = "attestation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    framework: Mapped[str] = mapped_column(String(64))
    requirement: Mapped[str] = mapped_column(String(64))
    system: Mapped[str | None] = mapped_column(String(255))
    period: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(8))  # pass | fail
    by: Mapped[str] = mapped_column(String(255))
    note: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    expires: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # [{name, sha256, size}] of files kept in ``attachment``
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class Attachment(Base):
    """A file attached as evidence (to an attestation), stored once by SHA-256."""

    __tablename__ = "attachment"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)  # zlib-compressed


class IngestedBundle(Base):
    """An evidence bundle stored by ``assessor ingest``, by the SHA-256 of its manifest: the
    same bundle again adds nothing (the key is unique, so two ingests at once store it once)."""

    __tablename__ = "ingested_bundle"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("assessment.id", ondelete="CASCADE"), index=True
    )
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    hostname: Mapped[str] = mapped_column(Text)  # the machine that collected it
    signer: Mapped[str | None] = mapped_column(Text)  # None: an unsigned bundle, allowed
