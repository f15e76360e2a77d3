"""Evidence bundles: the evidence of some targets in one signed file, to be ingested elsewhere.

``assessor collect`` writes one; ``assessor ingest`` reads it back, verified, into the store
(assessor.pipeline.ingest_bundle). The format (docs/bundles.md):

- an uncompressed POSIX tar archive with flat member names only, in this order:
  ``manifest.json``, ``manifest.json.p7s`` (absent in an unsigned bundle), then
  ``target-00001.json.gz``, ``target-00002.json.gz``... one per target;
- each target member is the gzip of the JSON frame assessor.collection uses to carry a
  collected target out of its collecting process (``to_frame``: the evidence documents as
  collected and redacted, the error the collector stopped on, its identity, warnings and
  evidence kinds) plus ``"target"``, the target string: rebuilt with ``from_frame``, every
  evidence document keeps its hash;
- ``manifest.json`` (canonical JSON) names the format and version, the collecting tool's
  version, the collecting machine's hostname, when collection started and ended, every
  target (string, kind, status, error, identity, member) and every member (name, SHA-256 and
  size as stored, size uncompressed);
- ``manifest.json.p7s`` is a detached CMS signature (DER) over the manifest's bytes, made with
  the collector's signing identity; ``openssl cms -verify -binary -inform DER -in
  manifest.json.p7s -content manifest.json -CAfile CERT`` checks it too.

A bundle is hostile input: it is read into memory within ``BundleLimits`` (never extracted to
the filesystem), its signature checked against trusted certificates before anything else is
believed, then every member against the manifest; any problem refuses the whole bundle with
one line (BundleError) and nothing of it is stored.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import re
import socket
import tarfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assessor import __version__, jsonsafe
from assessor.collection import Collected, Collection, from_frame, to_frame
from assessor.collectors.limits import GiB, MiB, parse_settings
from assessor.errors import AssessorError, TargetError, TargetUnreachableError
from assessor.evidence import canonical_json
from assessor.extras import require
from assessor.outfile import write_file
from assessor.regularfile import NotRegularFileError, TooLargeError, read_regular
from assessor.sign import sign_bytes
from assessor.sign.keys import subject_line
from assessor.sign.verify import Anchor, verify_detached
from assessor.targets import Target, parse_target
from assessor.vocab import TargetStatus

if TYPE_CHECKING:
    from assessor.sign.keys import SigningIdentity

FORMAT = "assessor-bundle"
VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.p7s"
_MEMBER = re.compile(r"^target-[0-9]{5}\.json\.gz$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ERROR_FIELD = "error"  # the key of a target's error in the manifest
_FRAME_DEPTH = jsonsafe.MAX_DEPTH + 8  # the frame's own levels above an evidence document


class BundleError(AssessorError):
    """A bundle cannot be written, or is refused: its one line names the file and why."""


@dataclass(frozen=True, slots=True)
class BundleLimits:
    """Every bound the reader puts on a bundle (``ingest --limit NAME=VALUE`` changes one)."""

    max_bundle_bytes: int = 1 * GiB  # the file as stored
    max_members: int = 10_001  # tar members: the manifest, its signature, one per target
    max_manifest_bytes: int = 16 * MiB
    max_signature_bytes: int = 1 * MiB
    max_member_bytes: int = 256 * MiB  # one target's frame, uncompressed
    max_total_bytes: int = 4 * GiB  # every frame, uncompressed
    max_ratio: int = 200  # uncompressed / stored, for a frame past ratio_floor
    ratio_floor: int = 64 * MiB

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]


def parse_limits(items: Sequence[str]) -> BundleLimits:
    """``NAME=VALUE`` items (also comma-separated; sizes with K, M, G) over the defaults."""
    settings = parse_settings(items, set(BundleLimits.names()), "bundle limit")
    return dataclasses.replace(BundleLimits(), **settings)


# --- writing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    """A bundle as written: its manifest's SHA-256 (the bundle's identity when ingested), its
    size, and who signed it (None: unsigned)."""

    path: Path
    digest: str
    size: int
    signer: str | None


def status_of(c: Collected) -> TargetStatus:
    """What became of a collected target."""
    if c.error is None:
        return TargetStatus.COLLECTED
    if isinstance(c.error, TargetUnreachableError):
        return TargetStatus.UNREACHABLE
    return TargetStatus.ERROR


def _summary(target: Target, c: Collected, member: str) -> dict[str, Any]:
    """A target's line in the manifest."""
    return {
        "target": str(target),
        "kind": str(target.kind),
        "status": status_of(c).value,
        _ERROR_FIELD: None if c.error is None else c.error.message,
        "identity": c.identity,
        "member": member,
    }


def _gzip(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=6, mtime=0)


def build(
    collected: Sequence[tuple[Target, Collected]],
    started: datetime,
    finished: datetime,
    identity: SigningIdentity | None,
    hostname: str | None = None,
) -> tuple[bytes, str]:
    """The bundle's bytes and its manifest's SHA-256, signed by ``identity`` (None:
    unsigned)."""
    members: list[tuple[str, bytes]] = []
    entries, targets = [], []
    for i, (target, c) in enumerate(collected, 1):
        name = f"target-{i:05d}.json.gz"
        body = json.dumps({"target": str(target), **to_frame(c)}, separators=(",", ":")).encode()
        stored = _gzip(body)
        members.append((name, stored))
        entries.append(
            {
                "name": name,
                "sha256": hashlib.sha256(stored).hexdigest(),
                "size": len(stored),
                "content_size": len(body),
            }
        )
        targets.append(_summary(target, c, name))
    manifest = canonical_json(
        {
            "format": FORMAT,
            "version": VERSION,
            "tool_version": __version__,
            "hostname": hostname or socket.gethostname(),
            "collected_at": started.isoformat(),
            "finished_at": finished.isoformat(),
            "targets": targets,
            "members": entries,
        }
    )
    head = [(MANIFEST, manifest)]
    if identity is not None:
        signature = sign_bytes(manifest, identity).detached
        assert signature is not None  # a JSON document gets a detached signature
        head.append((SIGNATURE, signature))
    return _tar([*head, *members], int(finished.timestamp())), hashlib.sha256(manifest).hexdigest()


def write(
    path: Path,
    collected: Sequence[tuple[Target, Collected]],
    started: datetime,
    finished: datetime,
    identity: SigningIdentity | None,
    hostname: str | None = None,
) -> Written:
    """Write the bundle of ``collected`` to ``path`` (whole or not at all)."""
    data, digest = build(collected, started, finished, identity, hostname)
    write_file(path, data)
    signer = None if identity is None else subject_line(identity.certificate)
    return Written(path, digest, len(data), signer)


@dataclass
class Collect:
    """A bundle collected and written: the file, and each target as collected."""

    written: Written
    targets: list[tuple[Target, Collected]]

    @property
    def failed(self) -> list[tuple[Target, Collected]]:
        return [(t, c) for t, c in self.targets if c.error is not None]


def collect(
    path: Path,
    collecting: Collection,
    identity: SigningIdentity | None,
    started: datetime,
    hostname: str | None = None,
) -> Collect:
    """``assessor collect``: the targets ``collecting`` reads (started at ``started`` by the
    caller, in a child process as a scan's are) written to the bundle ``path``, signed by
    ``identity`` (None: unsigned), naming the machine ``hostname`` (None: this one's). A
    target that fails is written with its error, as a scan stores it. The collection ends
    with this call, whatever happens."""
    try:
        collecting.ready()
        done = [(t, collecting.result(i)) for i, t in enumerate(collecting.targets)]
    finally:
        collecting.close()
    return Collect(write(path, done, started, datetime.now(UTC), identity, hostname), done)


def _tar(members: Sequence[tuple[str, bytes]], mtime: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = mtime
            tf.addfile(info, io.BytesIO(data))
    return out.getvalue()


# --- reading --------------------------------------------------------------------------------


@dataclass
class Bundle:
    """A bundle read and verified: where it came from, and each target as collected there."""

    path: Path
    digest: str  # SHA-256 of manifest.json
    hostname: str
    tool_version: str
    collected_at: datetime
    finished_at: datetime
    signer: str | None  # the signer's subject (None: unsigned, allowed by the caller)
    targets: list[tuple[Target, Collected]] = field(default_factory=list)
    size: int = 0


def read_bundle(
    path: Path,
    *,
    anchors: list[Anchor] | None,
    allow_unsigned: bool = False,
    limits: BundleLimits | None = None,
) -> Bundle:
    """The bundle at ``path``, verified: its signature made by a certificate of ``anchors``
    (None: no signature is checked, for a caller that allows unsigned bundles only), every
    member as the manifest lists it, every frame an evidence frame. Raises BundleError with
    the one reason it is refused."""
    bounds = limits or BundleLimits()
    data = _read_file(path, bounds)
    members = _members(path, data, bounds)
    if MANIFEST not in members:
        raise BundleError(f"{path}: not an evidence bundle (no {MANIFEST} in it)")
    raw = members.pop(MANIFEST)
    manifest = _manifest(path, raw, bounds)
    signature = members.pop(SIGNATURE, None)
    signer = None
    if signature is None:
        if not allow_unsigned:
            raise BundleError(
                f"{path}: refused: the bundle is not signed (collected with --unsigned)",
                hint="give --allow-unsigned to store it anyway; its assessment then says it "
                "came from an unsigned bundle",
            )
    else:
        signer = _verify(path, raw, signature, anchors)
    bundle = Bundle(
        path,
        hashlib.sha256(raw).hexdigest(),
        _text(path, manifest, "hostname", 255),
        _text(path, manifest, "tool_version", 64),
        _time(path, manifest, "collected_at"),
        _time(path, manifest, "finished_at"),
        signer,
        size=len(data),
    )
    bundle.targets = _targets(path, manifest, members, bounds)
    return bundle


def _read_file(path: Path, bounds: BundleLimits) -> bytes:
    try:
        data, _ = read_regular(path, bounds.max_bundle_bytes)
    except FileNotFoundError:
        raise BundleError(f"{path}: no such file") from None
    except NotRegularFileError as e:
        raise BundleError(f"{path}: is {e.kind}, not a bundle file") from None
    except TooLargeError:
        raise BundleError(
            f"{path}: refused: larger than max_bundle_bytes ({bounds.max_bundle_bytes} bytes)"
        ) from None
    except OSError as e:
        raise BundleError(f"{path}: cannot read: {e.strerror or e}") from None
    return data


def _members(path: Path, data: bytes, bounds: BundleLimits) -> dict[str, bytes]:
    """The archive's members by name: regular files with flat names each present once, their
    data entirely inside the file."""
    found: dict[str, bytes] = {}
    try:
        tf = tarfile.open(fileobj=io.BytesIO(data), mode="r:")  # noqa: SIM115 - closed below
    except (tarfile.TarError, EOFError) as e:
        raise BundleError(f"{path}: not an evidence bundle (not a tar archive: {e})") from None
    with tf:
        while True:
            try:
                ti = tf.next()
            except (tarfile.TarError, EOFError) as e:
                raise BundleError(f"{path}: refused: truncated or corrupt archive ({e})") from None
            if ti is None:
                return found
            tf.members.clear()  # type: ignore[attr-defined]  # tarfile keeps every member
            _check_member(path, ti, found, bounds)
            if ti.offset_data + ti.size > len(data):
                raise BundleError(f"{path}: refused: truncated (member {ti.name} is cut short)")
            found[ti.name] = data[ti.offset_data : ti.offset_data + ti.size]


def _check_member(
    path: Path, ti: tarfile.TarInfo, found: dict[str, bytes], bounds: BundleLimits
) -> None:
    name = ti.name
    shown = jsonsafe.escape(name[:120])
    if len(found) >= bounds.max_members:
        raise BundleError(f"{path}: refused: more than max_members ({bounds.max_members}) members")
    if name not in (MANIFEST, SIGNATURE) and not _MEMBER.match(name):
        raise BundleError(f"{path}: refused: unexpected member name {shown!r}")
    if not ti.isreg():
        raise BundleError(f"{path}: refused: member {shown} is not a regular file (a link?)")
    if name in found:
        raise BundleError(f"{path}: refused: member {shown} appears twice")
    bound = {MANIFEST: "max_manifest_bytes", SIGNATURE: "max_signature_bytes"}.get(
        name, "max_member_bytes"
    )
    most = getattr(bounds, bound)
    if ti.size > most:
        raise BundleError(
            f"{path}: refused: member {shown} is {ti.size} bytes, over {bound} ({most})"
        )


def _manifest(path: Path, raw: bytes, bounds: BundleLimits) -> dict[str, Any]:
    try:
        manifest = jsonsafe.loads(raw, max_bytes=bounds.max_manifest_bytes)
    except ValueError as e:
        raise BundleError(f"{path}: refused: {MANIFEST} is not valid JSON ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{path}: not an evidence bundle ({MANIFEST} is not a bundle manifest)")
    if manifest.get("version") != VERSION:
        raise BundleError(
            f"{path}: refused: bundle format version {str(manifest.get('version'))[:20]}; this "
            f"assessor reads version {VERSION}"
        )
    return manifest


def _verify(path: Path, manifest: bytes, signature: bytes, anchors: list[Anchor] | None) -> str:
    """The signer's subject, when the signature over the manifest is valid and trusted."""

    if anchors is None:
        raise BundleError(f"{path}: refused: signed, but no certificate to check it against")
    require("report", "signed bundles")  # pyHanko checks the signature
    result = verify_detached(
        manifest,
        signature,
        path=path / MANIFEST,
        sig_path=path / SIGNATURE,
        anchors=anchors,
    )
    if not result.valid:
        raise BundleError(f"{path}: refused: {_plain(result.reason)}")
    return result.signer or "unknown signer"


def _plain(reason: str) -> str:
    """verify's reason, in a bundle's words."""
    return reason.replace(
        "content does not match signature (file changed after signing)",
        f"{MANIFEST} does not match its signature (changed after signing)",
    )


def _text(path: Path, manifest: dict[str, Any], key: str, most: int) -> str:
    value = manifest.get(key)
    if not isinstance(value, str) or not value or len(value) > most or not value.isprintable():
        raise BundleError(f"{path}: refused: {MANIFEST}: {key} is not a name")
    return value


def _time(path: Path, manifest: dict[str, Any], key: str) -> datetime:
    value = manifest.get(key)
    try:
        at = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise BundleError(f"{path}: refused: {MANIFEST}: {key} is not a time with a zone")
    return at


def _targets(
    path: Path, manifest: dict[str, Any], members: dict[str, bytes], bounds: BundleLimits
) -> list[tuple[Target, Collected]]:
    """Every target of the manifest, its member checked against the manifest's hash and
    size, unpacked within bounds and rebuilt; a member the manifest does not list refuses
    the bundle."""
    listed = _listed_members(path, manifest, bounds)
    for name in members:
        if name not in listed:
            raise BundleError(f"{path}: refused: extra member {name} (not in the manifest)")
    targets = manifest.get("targets")
    if not isinstance(targets, list) or len(targets) != len(listed):
        raise BundleError(f"{path}: refused: {MANIFEST}: targets do not match members")
    out: list[tuple[Target, Collected]] = []
    used: set[str] = set()
    for entry in targets:
        if not isinstance(entry, dict) or entry.get("member") not in listed:
            raise BundleError(f"{path}: refused: {MANIFEST}: a target names no listed member")
        name = str(entry["member"])
        if name in used:
            raise BundleError(f"{path}: refused: {MANIFEST}: two targets name {name}")
        used.add(name)
        if name not in members:
            raise BundleError(f"{path}: refused: member {name} is missing")
        body = _unpack(path, name, members[name], listed[name], bounds)
        out.append(_target(path, name, entry, body))
    return out


def _listed_members(
    path: Path, manifest: dict[str, Any], bounds: BundleLimits
) -> dict[str, dict[str, Any]]:
    entries = manifest.get("members")
    if not isinstance(entries, list):
        raise BundleError(f"{path}: refused: {MANIFEST}: no member list")
    listed: dict[str, dict[str, Any]] = {}
    total = 0
    for e in entries:
        ok = (
            isinstance(e, dict)
            and isinstance(e.get("name"), str)
            and _MEMBER.match(e["name"])
            and isinstance(e.get("sha256"), str)
            and _SHA256.match(e["sha256"])
            and all(
                isinstance(e.get(k), int) and not isinstance(e.get(k), bool) and e[k] >= 0
                for k in ("size", "content_size")
            )
        )
        if not ok or e["name"] in listed:
            raise BundleError(f"{path}: refused: {MANIFEST}: an invalid member entry")
        total += e["content_size"]
        listed[e["name"]] = e
    if total > bounds.max_total_bytes:
        raise BundleError(
            f"{path}: refused: {total} bytes of evidence, over max_total_bytes "
            f"({bounds.max_total_bytes})"
        )
    return listed


def _unpack(
    path: Path, name: str, stored: bytes, entry: dict[str, Any], bounds: BundleLimits
) -> bytes:
    """A member's frame: its stored bytes as the manifest says, decompressed within bounds."""
    if len(stored) != entry["size"] or hashlib.sha256(stored).hexdigest() != entry["sha256"]:
        raise BundleError(
            f"{path}: refused: member {name} does not match its SHA-256 in the manifest "
            "(changed after collection)"
        )
    declared = entry["content_size"]
    most = min(declared, bounds.max_member_bytes)
    if declared > bounds.max_member_bytes or (
        declared > bounds.ratio_floor and declared > bounds.max_ratio * max(len(stored), 1)
    ):
        raise BundleError(
            f"{path}: refused: member {name} unpacks to {declared} bytes, over "
            f"max_member_bytes ({bounds.max_member_bytes}) or max_ratio ({bounds.max_ratio})"
        )
    d = zlib.decompressobj(wbits=31)
    try:
        body = d.decompress(stored, most + 1)
    except zlib.error as e:
        raise BundleError(f"{path}: refused: member {name} is not valid gzip ({e})") from None
    if len(body) != declared or not d.eof or d.unused_data:
        raise BundleError(
            f"{path}: refused: member {name} does not unpack to the {declared} bytes the "
            "manifest says"
        )
    return body


_DOC_FIELDS = {"kind": str, "target": str, "resource": str, "data": dict, "collected_at": str}


def _target(path: Path, name: str, entry: dict[str, Any], body: bytes) -> tuple[Target, Collected]:
    """The target and what was collected of it, from its frame (checked before rebuilt)."""
    where = f"{path}: refused: member {name}"
    try:
        frame = jsonsafe.loads(body, max_depth=_FRAME_DEPTH)
    except ValueError as e:
        raise BundleError(f"{where} is not valid JSON ({e})") from None
    problem = _frame_problem(frame)
    if problem:
        raise BundleError(f"{where} is not an evidence frame ({problem})")
    try:
        target = parse_target(frame["target"])
    except TargetError as e:
        raise BundleError(f"{where} names an invalid target: {e.message}") from None
    try:
        collected = from_frame(frame)
    except (KeyError, TypeError, ValueError) as e:
        raise BundleError(f"{where} is not an evidence frame ({type(e).__name__})") from None
    if _summary(target, collected, name) != entry:
        raise BundleError(f"{where} does not say what {MANIFEST} says of its target")
    return target, collected


def _frame_problem(frame: Any) -> str | None:
    """What makes ``frame`` not an evidence frame, or None."""
    if not isinstance(frame, dict) or not isinstance(frame.get("target"), str):
        return "no target"
    stopped = frame.get("stopped")
    if stopped is not None and not (
        isinstance(stopped, dict)
        and isinstance(stopped.get("message"), str)
        and isinstance(stopped.get("unreachable"), bool)
    ):
        return "stopped"
    if not isinstance(frame.get("identity"), dict):
        return "identity"
    for key in ("warnings", "kinds"):
        value = frame.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return key
    for key in ("evidence", "failure"):
        docs = frame.get(key)
        if not isinstance(docs, list):
            return key
        for doc in docs:
            problem = _document_problem(doc)
            if problem:
                return f"{key}: {problem}"
    return None


def _document_problem(doc: Any) -> str | None:
    if not isinstance(doc, dict):
        return "a document is not an object"
    for key, kind in _DOC_FIELDS.items():
        if not isinstance(doc.get(key), kind):
            return f"a document's {key}"
    if len(doc["kind"]) > 32:
        return "a document's kind"
    redactions = doc.get("redactions", [])
    if not isinstance(redactions, list) or not all(isinstance(r, dict) for r in redactions):
        return "a document's redactions"
    try:
        at = datetime.fromisoformat(doc["collected_at"])
    except ValueError:
        return "a document's collected_at"
    return None if at.tzinfo is not None else "a document's collected_at has no zone"


__all__ = [
    "FORMAT",
    "MANIFEST",
    "SIGNATURE",
    "VERSION",
    "Bundle",
    "BundleError",
    "BundleLimits",
    "Collect",
    "Written",
    "build",
    "collect",
    "parse_limits",
    "read_bundle",
    "status_of",
    "write",
]
