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
    scanner_host: Mapped[str | None] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(Text)

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
    uri: Mapped[str] = mapped_column(String(1024))
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
    resource: Mapped[str] = mapped_column(String(1024))
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
    resource: Mapped[str] = mapped_column(String(1024))
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
