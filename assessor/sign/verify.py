"""Verify a signed report: a PAdES PDF, or any file with a detached CMS signature.

Trust is decided only against the given anchors (no system trust store), and nothing is
fetched: revocation (OCSP, CRL) is not checked.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from assessor.errors import AssessorError
from assessor.report.attachments import read_manifest
from assessor.sign.keys import (
    CERT_FILE,
    CHAIN_FILE,
    fingerprint,
    key_dir,
    load_certificates,
    subject_line,
)

if TYPE_CHECKING:
    from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped, unused-ignore]
    from pyhanko.sign.validation.settings import KeyUsageConstraints
    from pyhanko.sign.validation.status import SignatureStatus, StandardCMSSignatureStatus
    from pyhanko_certvalidator import ValidationContext

Kind = Literal["pdf", "cms"]
NO_ANCHOR = "signature intact, but no trust anchor: give --trust CERT"


@dataclass
class Anchor:
    """A trusted certificate and where it came from."""

    certificate: x509.Certificate
    origin: Path

    def describe(self) -> str:
        short = fingerprint(self.certificate)[:23]
        return f"{subject_line(self.certificate)} [SHA-256 {short}...] from {self.origin}"


@dataclass
class Verification:
    """The outcome of verifying one file. ``reason`` is one line saying what is wrong."""

    path: Path
    valid: bool
    reason: str
    kind: Kind
    sha256: str
    signer: str | None = None
    signed_at: dt.datetime | None = None
    trust_anchor: str | None = None
    signature: Path | None = None
    details: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        """The documented JSON shape of ``assessor verify --format json``."""
        at = self.signed_at.isoformat().replace("+00:00", "Z") if self.signed_at else None
        return {
            "file": str(self.path),
            "valid": self.valid,
            "reason": self.reason,
            "kind": self.kind,
            "sha256": self.sha256,
            "signer": self.signer,
            "signed_at": at,
            "trust_anchor": self.trust_anchor,
            "signature": str(self.signature) if self.signature else None,
            "details": self.details,
        }


# -- trust anchors ---------------------------------------------------------------------------


def load_anchors(trust: list[Path] | None) -> list[Anchor]:
    """The ``trust`` certificates; when none given, the key directory's certificate (and chain)."""
    if trust:
        return [Anchor(c, p) for p in trust for c in load_certificates(p)]
    directory = key_dir()
    files = [directory / CERT_FILE, directory / CHAIN_FILE]
    return [Anchor(c, p) for p in files if p.is_file() for c in load_certificates(p)]


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped, unused-ignore]

    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _context(anchors: list[Anchor]) -> ValidationContext:
    from pyhanko_certvalidator import ValidationContext

    return ValidationContext(
        trust_roots=[_asn1(a.certificate) for a in anchors],
        allow_fetching=False,
        revocation_mode="soft-fail",
    )


def _key_usage() -> KeyUsageConstraints:
    from pyhanko.sign.validation.settings import KeyUsageConstraints

    # either usage suffices: organisations' certificates often carry only one of them
    return KeyUsageConstraints(
        key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False
    )


# -- reading a status ------------------------------------------------------------------------


def _signer(status: SignatureStatus) -> str:
    cert = x509.load_der_x509_certificate(status.signing_cert.dump())
    return subject_line(cert)


def _signed_at(status: StandardCMSSignatureStatus) -> tuple[dt.datetime | None, str | None]:
    """The timestamp token's time when there is one, else the time the signer claims."""
    ts = status.timestamp_validity
    if ts is not None:
        trusted = "" if ts.trusted else " (its certificate is not trusted: add it with --trust)"
        return ts.timestamp, f"timestamp authority{trusted}"
    return status.signer_reported_dt, "signer's clock" if status.signer_reported_dt else None


def _anchor_used(status: SignatureStatus, anchors: list[Anchor]) -> str | None:
    from pyhanko_certvalidator.authority import AuthorityWithCert

    path = status.validation_path
    if path is None:
        return None
    authority = path.trust_anchor.authority
    if not isinstance(authority, AuthorityWithCert):
        return None
    der = authority.certificate.dump()
    for a in anchors:
        if a.certificate.public_bytes(serialization.Encoding.DER) == der:
            return a.describe()
    return None


TRUST_PROBLEMS = {
    "NO_CERTIFICATE_CHAIN_FOUND": "no certificate chain leads from it to a trust anchor",
    "CHAIN_CONSTRAINTS_FAILURE": "not issued by any trust anchor, or not allowed to sign",
    "EXPIRED": "its certificate has expired",
    "OUT_OF_BOUNDS_NO_POE": "its certificate has expired or is not yet valid, and no "
    "timestamp proves the signature is older",
    "OUT_OF_BOUNDS_NOT_REVOKED": "its certificate has expired or is not yet valid",
    "NOT_YET_VALID": "its certificate is not yet valid",
    "REVOKED": "its certificate is revoked",
    "REVOKED_NO_POE": "its certificate is revoked",
    "REVOKED_CA_NO_POE": "an issuing certificate is revoked",
    "CRYPTO_CONSTRAINTS_FAILURE": "a certificate uses a disallowed algorithm",
}


def _signer_dn(status: SignatureStatus) -> str:
    """The signer's subject as an RFC 4514 name (CN=...,O=...), shortened for one line."""
    cert = x509.load_der_x509_certificate(status.signing_cert.dump())
    rdns = [r.rfc4514_string() for r in reversed(cert.subject.rdns)]  # RFC 4514 order
    dn = ",".join(sorted(rdns, key=lambda r: not r.startswith("CN="))) or "(empty subject)"
    return dn if len(dn) <= 160 else dn[:157] + "..."


def _trust_problem(status: SignatureStatus, anchors: list[Anchor]) -> str:
    """Plainly: the signature is intact, and the signer is not trusted, and why."""
    if not anchors:
        return NO_ANCHOR
    origins = ", ".join(sorted({str(a.origin) for a in anchors}))
    indic = status.trust_problem_indic
    name = str(indic.standard_name) if indic is not None else ""
    why = TRUST_PROBLEMS.get(name, name.lower().replace("_", " ") or "reason unknown")
    return (
        f"signature intact but signer {_signer_dn(status)} is NOT trusted ({why}; "
        f"trust anchors: {origins})"
    )


@contextmanager
def _captured_warnings(into: list[str]) -> Iterator[None]:
    """Collect pyHanko's log messages (first lines) instead of printing tracebacks."""

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            into.append(record.getMessage().splitlines()[0] if record.getMessage() else "")

    loggers = [logging.getLogger(n) for n in ("pyhanko", "pyhanko_certvalidator")]
    saved = [(lg.propagate, lg.level) for lg in loggers]
    handler = Collect(logging.WARNING)
    for lg in loggers:
        lg.addHandler(handler)
        lg.propagate = False
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, (propagate, level) in zip(loggers, saved, strict=True):
            lg.removeHandler(handler)
            lg.propagate = propagate
            lg.setLevel(level)


def _judge(status: StandardCMSSignatureStatus, anchors: list[Anchor], what: str) -> str | None:
    """The problem with one signature, or None when it is intact, valid and trusted."""
    if not status.intact:
        return f"{what}content does not match signature (file changed after signing)"
    if not status.valid:
        return f"{what}signature value is invalid (not made by the certificate's key)"
    ts = status.timestamp_validity
    if ts is not None and not (ts.intact and ts.valid):
        return f"{what}timestamp token is invalid"
    if not status.trusted:
        problem = _trust_problem(status, anchors)
        return problem if not what or problem == NO_ANCHOR else f"{what}{problem}"
    validity = _validity_problem(status)
    return f"{what}{validity}" if validity else None


def _validity_problem(status: StandardCMSSignatureStatus) -> str | None:
    """The signer's certificate outside its validity now (or at a trusted timestamp's time).

    pyHanko does not check a trust anchor's dates, and a self-signed signer is its own anchor.
    """
    cert = x509.load_der_x509_certificate(status.signing_cert.dump())
    ts = status.timestamp_validity
    proven = ts is not None and ts.intact and ts.valid and ts.trusted
    moment = ts.timestamp if ts is not None and proven else dt.datetime.now(dt.UTC)
    claimed = status.signer_reported_dt
    if claimed is not None and claimed.tzinfo is None:
        claimed = claimed.replace(tzinfo=dt.UTC)
    if claimed is not None and not cert.not_valid_before_utc <= claimed <= cert.not_valid_after_utc:
        return f"signed at {claimed:%Y-%m-%d %H:%M} UTC, outside the certificate's validity"
    if moment > cert.not_valid_after_utc:
        why = "" if proven else " and no trusted timestamp proves the signature older"
        return f"signer's certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}{why}"
    if moment < cert.not_valid_before_utc:
        return f"signer's certificate is not valid before {cert.not_valid_before_utc:%Y-%m-%d}"
    return None


# -- PDF -------------------------------------------------------------------------------------


def _pdf_coverage_problem(status: object, revisions: int, sig_revision: int) -> str | None:
    from pyhanko.sign.validation import SignatureCoverageLevel

    coverage = getattr(status, "coverage", None)
    if coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return None
    if sig_revision < revisions - 1:
        added = revisions - 1 - sig_revision
        return (
            f"file changed after signing: {added} incremental update(s) added "
            "after the last signature"
        )
    return "file changed after signing: bytes appended after the last signature"


def _record(
    status: StandardCMSSignatureStatus, label: str, anchors: list[Anchor], result: Verification
) -> None:
    """Copy signer, time and anchor into ``result`` and add a detail line."""
    result.signer = _signer(status)
    result.signed_at, source = _signed_at(status)
    # only a trusted signature names an anchor: a chain that ends in one is not trust by itself
    result.trust_anchor = _anchor_used(status, anchors) if status.trusted else None
    coverage = getattr(status, "coverage", None)
    covers = f"coverage {coverage.name.lower()}, " if coverage is not None else ""
    result.details.append(
        f"{label}: signer {result.signer}, time from {source}, {covers}"
        f"intact {status.intact}, valid {status.valid}, trusted {status.trusted}"
    )


def _verify_pdf(data: bytes, anchors: list[Anchor], result: Verification) -> None:
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.errors import SignatureValidationError

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        sigs = list(reader.embedded_signatures)
        revisions = reader.xrefs.total_revisions
    except (PdfError, ValueError, KeyError, TypeError) as e:
        result.reason = f"not a readable PDF ({e})"
        return
    if not sigs:
        result.reason = "no signature"
        return
    problems: list[str] = []
    for n, sig in enumerate(sigs, 1):
        label = f"signature {n} of {len(sigs)} ({sig.field_name})"
        what = f"{label}: " if len(sigs) > 1 else ""
        logged: list[str] = []
        try:
            with _captured_warnings(logged):
                status = validate_pdf_signature(
                    sig, _context(anchors), key_usage_settings=_key_usage()
                )
        except (SignatureValidationError, PdfError, ValueError, KeyError, TypeError) as e:
            problems.append(f"{what}cannot be validated ({e})")
            continue
        finally:
            result.details += [f"{label}: {m}" for m in logged]
        _record(status, label, anchors, result)
        problem = _judge(status, anchors, what)
        if problem is None and not (status.docmdp_ok or status.modification_level is None):
            problem = f"{what}document modified after signing in a way the signature forbids"
        if problem:
            problems.append(problem)
        if n == len(sigs):
            cover = _pdf_coverage_problem(status, revisions, sig.signed_revision)
            if cover:
                problems.insert(0, cover)
    result.valid = not problems
    result.reason = (
        problems[0] if problems else "signature valid and trusted; covers the whole file"
    )


# -- detached CMS ----------------------------------------------------------------------------


def _load_signed_data(raw: bytes, where: str) -> object:
    """The SignedData of a DER (or PEM) CMS signature; ValueError when it is not one."""
    from asn1crypto import cms, pem  # type: ignore[import-untyped, unused-ignore]

    try:
        if pem.detect(raw):
            _, _, raw = pem.unarmor(raw)
        info = cms.ContentInfo.load(raw)
        if info["content_type"].native != "signed_data":
            raise ValueError(f"content type {info['content_type'].native}, not signed_data")
        signed = info["content"]
        signed.native  # noqa: B018 - parse fully now, not half-way through validation
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"{where}: not a CMS signature ({e})") from e
    return signed


def _verify_cms(
    data: bytes, raw: bytes, sig_path: Path, anchors: list[Anchor], result: Verification
) -> None:
    """``raw``, the detached signature read from ``sig_path``, checked over ``data``."""
    from pyhanko.sign.validation import async_validate_detached_cms
    from pyhanko.sign.validation.errors import SignatureValidationError

    try:
        signed = _load_signed_data(raw, str(sig_path))
    except ValueError as e:
        result.reason = str(e)
        return
    label = f"signature {sig_path.name}"
    logged: list[str] = []
    try:
        with _captured_warnings(logged):
            status = asyncio.run(
                async_validate_detached_cms(
                    data,
                    signed,
                    signer_validation_context=_context(anchors),
                    key_usage_settings=_key_usage(),
                )
            )
    except (SignatureValidationError, ValueError, KeyError, TypeError, AttributeError) as e:
        # AttributeError: pyHanko looks a digest algorithm's name up in cryptography's hashes
        # module, and a signature naming an unknown one fails there
        result.reason = f"{sig_path}: signature cannot be validated ({_one_line(e)})"
        return
    finally:
        result.details += [f"{label}: {m}" for m in logged]
    _record(status, label, anchors, result)
    problem = _judge(status, anchors, "")
    result.valid = problem is None
    result.reason = problem or "signature valid and trusted; matches the file"


def _one_line(e: Exception) -> str:
    text = (str(e).splitlines() or [""])[0][:200]
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


# -- entry point -----------------------------------------------------------------------------


def _read_input(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise AssessorError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise AssessorError(f"{path}: is a directory, not a {what}") from None
    except OSError as e:
        raise AssessorError(f"{path}: cannot read {what}: {e.strerror}") from e


def verify_file(
    path: Path, *, signature: Path | None = None, trust: list[Path] | None = None
) -> Verification:
    """Verify ``path``: embedded PAdES for a PDF, else the detached ``signature`` or FILE.p7s.

    Input errors (a missing file or trust certificate) raise AssessorError; a bad, missing
    or untrusted signature gives an invalid Verification.
    """
    data = _read_input(path, "file")
    if signature is not None:
        _read_input(signature, "signature file")
    anchors = load_anchors(trust)
    kind: Kind = "pdf" if signature is None and data.startswith(b"%PDF-") else "cms"
    result = Verification(path, False, "", kind, hashlib.sha256(data).hexdigest())
    if kind == "pdf":
        _verify_pdf(data, anchors, result)
        return result
    sig_path = signature or path.with_name(path.name + ".p7s")
    if not sig_path.is_file():
        result.reason = f"no signature found (looked for {sig_path})"
        return result
    result.signature = sig_path
    _verify_cms(data, sig_path.read_bytes(), sig_path, anchors, result)
    _verify_shipped(data, path, result)
    return result


def verify_detached(
    data: bytes, signature: bytes, *, path: Path, sig_path: Path, anchors: list[Anchor]
) -> Verification:
    """``signature`` (a detached CMS, as ``assessor verify`` checks FILE.p7s) over ``data``,
    both already in memory: ``path`` and ``sig_path`` name them in the result (an evidence
    bundle's manifest and its signature member)."""
    result = Verification(path, False, "", "cms", hashlib.sha256(data).hexdigest())
    result.signature = sig_path
    _verify_cms(data, signature, sig_path, anchors, result)
    return result


# -- files shipped beside an HTML report -----------------------------------------------------

MAX_SHIPPED_PROBLEMS = 20  # problems listed in details; the rest are counted


def _hash_file(path: Path, limit: int) -> tuple[str, int] | None:
    """SHA-256 and size of a regular file (not through a symlink), reading at most ``limit``
    + 1 bytes; None when it is missing, a link or not a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        h, n = hashlib.sha256(), 0
        while n <= limit and (chunk := f.read(1 << 20)):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


def _verify_shipped(data: bytes, path: Path, result: Verification) -> None:
    """An HTML report's shipped files (assessor.report.attachments) against the manifest in the
    signed HTML: each listed file present and unchanged, and nothing else in the folder. Only
    a valid signature makes the manifest worth checking; a problem makes the result invalid."""
    if not result.valid or b"assessor-shipped-files" not in data:
        return

    folder_name, entries, problems = read_manifest(data.decode("utf-8", "replace"))
    if folder_name is None:
        return
    base = path.parent
    folder = base / folder_name
    if not folder_name or "/" in folder_name or folder_name in (".", ".."):
        problems.append(f"the manifest names an unsafe folder {folder_name!r}")
        entries = []
    listed: set[Path] = set()
    for e in entries:
        parts = e.path.split("/")
        if parts[0] != folder_name or any(p in ("", ".", "..") for p in parts):
            problems.append(f"the manifest names an unsafe path {e.path!r}")
            continue
        file = base.joinpath(*parts)
        listed.add(file)
        got = _hash_file(file, e.size)
        if got is None:
            problems.append(f"{e.path}: missing (or not a regular file)")
        elif got != (e.sha256, e.size):
            problems.append(f"{e.path}: changed after signing (sha256 {got[0][:16]}...)")
    if folder.is_dir() and not folder.is_symlink():
        for f in sorted(folder.rglob("*")):
            if (f.is_file() or f.is_symlink()) and f not in listed:
                problems.append(f"{f.relative_to(base)}: not listed in the signed report")
    elif entries:
        problems.append(f"{folder_name}/: missing (the report's files)")
    result.details.append(
        f"shipped files: {len(entries)} listed in the signed HTML under {folder_name}/, "
        f"{len(problems)} problem(s)"
    )
    if problems:
        shown = problems[:MAX_SHIPPED_PROBLEMS]
        result.details += shown
        if len(problems) > len(shown):
            result.details.append(f"... and {len(problems) - len(shown)} more problem(s)")
        result.valid = False
        result.reason = f"a file shipped with the report does not match: {problems[0]}"
    else:
        result.reason += f"; its {len(entries)} shipped file(s) match"
