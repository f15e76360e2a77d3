"""Evidence bundles (assessor.bundle): the format written, and every way a bundle is refused.

Each refusal is one BundleError line naming the bundle and the reason; a bundle is read in
memory, never extracted (the tests look for no file written beside it)."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from assessor import bundle
from assessor.bundle import BundleError, BundleLimits, parse_limits, read_bundle
from assessor.collection import Collected
from assessor.errors import CollectorError, TargetError, TargetUnreachableError
from assessor.evidence import Evidence
from assessor.sign.keys import SigningIdentity, init_keys, load_identity
from assessor.sign.verify import Anchor, load_anchors
from assessor.targets import parse_target
from tests.conftest import require_module

require_module("pyhanko", "the report extra")

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(minutes=3)


def _identity(directory: Path, name: str = "collector") -> SigningIdentity:
    init_keys(directory, common_name=name, organisation="fleet", passphrase=None)
    return load_identity(key=directory / "signing-key.pem", cert=directory / "signing-cert.pem")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[SigningIdentity, list[Anchor]]:
    folder = tmp_path_factory.mktemp("keys")
    identity = _identity(folder)
    return identity, load_anchors([folder / "signing-cert.pem"])


def _collected() -> list[tuple[object, Collected]]:
    host = parse_target("host:/srv/root")
    engine = parse_target("engine:tcp://10.0.0.7:2376")
    docs = [
        Evidence("host", str(host), "host", {"files": {"/etc/docker": {"mode": "0755"}}}, T0),
        Evidence("daemon", str(host), "dockerd", {"icc": False, "note": "caf\u00e9"}, T0),
    ]
    failed = TargetUnreachableError("engine:tcp://10.0.0.7:2376: connection refused")
    return [
        (host, Collected(docs, None, {"hostname": "web-1"}, ["a warning"], frozenset({"host"}))),
        (engine, Collected([], failed)),
    ]


def _bundle(tmp_path: Path, identity: SigningIdentity | None, name: str = "b.bundle") -> Path:
    data, _ = bundle.build(_collected(), T0, T1, identity, hostname="web-1")  # type: ignore[arg-type]
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _members(path: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(path, mode="r:") as tf:
        return [(m.name, tf.extractfile(m).read()) for m in tf.getmembers()]  # type: ignore[union-attr]


def _rewrite(path: Path, members: list[tuple[str, bytes]]) -> Path:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    path.write_bytes(out.getvalue())
    return path


def _refused(path: Path, anchors: list[Anchor], **kw: object) -> str:
    with pytest.raises(BundleError) as info:
        read_bundle(path, anchors=anchors, **kw)  # type: ignore[arg-type]
    message = info.value.message
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    return message


# --- the format -----------------------------------------------------------------------------


def test_a_bundle_reads_back_with_the_same_evidence_hashes_and_errors(
    tmp_path: Path, keys: tuple[SigningIdentity, list[Anchor]]
) -> None:
    identity, anchors = keys
    path = _bundle(tmp_path, identity)
    got = read_bundle(path, anchors=anchors)
    assert got.signer == "collector (fleet)"
    assert (got.hostname, got.collected_at, got.finished_at) == ("web-1", T0, T1)
    assert got.digest == hashlib.sha256(dict(_members(path))["manifest.json"]).hexdigest()
    want = _collected()
    assert [str(t) for t, _ in got.targets] == [str(t) for t, _ in want]
    (_, host), (_, engine) = got.targets
    (_, host0), _ = want
    assert [e.sha256 for e in host.evidence] == [e.sha256 for e in host0.evidence]
    assert [e.collected_at for e in host.evidence] == [T0, T0]
    assert (host.identity, host.warnings, host.kinds) == (
        {"hostname": "web-1"},
        ["a warning"],
        {"host"},
    )
    assert isinstance(engine.error, TargetUnreachableError)
    assert engine.error.message == "engine:tcp://10.0.0.7:2376: connection refused"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.bundle"]  # nothing extracted


def test_the_layout_is_a_flat_tar_of_manifest_signature_and_gzip_frames(
    tmp_path: Path, keys: tuple[SigningIdentity, list[Anchor]]
) -> None:
    members = _members(_bundle(tmp_path, keys[0]))
    names = [n for n, _ in members]
    assert names == [
        "manifest.json",
        "manifest.json.p7s",
        "target-00001.json.gz",
        "target-00002.json.gz",
    ]
    manifest = json.loads(members[0][1])
    assert manifest["format"] == "assessor-bundle" and manifest["version"] == 1
    assert [t["status"] for t in manifest["targets"]] == ["collected", "unreachable"]
    for entry, (_, stored) in zip(manifest["members"], members[2:], strict=True):
        assert entry["sha256"] == hashlib.sha256(stored).hexdigest()
        assert entry["content_size"] == len(gzip.decompress(stored))


def test_the_same_collection_writes_the_same_bytes_unsigned(tmp_path: Path) -> None:
    a = _bundle(tmp_path, None, "a.bundle").read_bytes()
    b = _bundle(tmp_path, None, "b.bundle").read_bytes()
    assert a == b


# --- refusals -------------------------------------------------------------------------------


def test_a_changed_manifest_is_refused_by_its_signature(
    tmp_path: Path, keys: tuple[SigningIdentity, list[Anchor]]
) -> None:
    path = _bundle(tmp_path, keys[0])
    members = _members(path)
    members[0] = ("manifest.json", members[0][1].replace(b'"web-1"', b'"web-2"'))
    message = _refused(_rewrite(path, members), keys[1])
    assert "manifest.json does not match its signature (changed after signing)" in message


def test_a_changed_member_is_refused_by_its_hash(
    tmp_path: Path, keys: tuple[SigningIdentity, list[Anchor]]
) -> None:
    path = _bundle(tmp_path, keys[0])
    members = _members(path)
    frame = json.loads(gzip.decompress(members[2][1]))
    frame["evidence"][1]["data"]["icc"] = True  # the evidence an attacker would like
    members[2] = (members[2][0], gzip.compress(json.dumps(frame).encode()))
    message = _refused(_rewrite(path, members), keys[1])
    assert message.endswith(
        "refused: member target-00001.json.gz does not match its SHA-256 in the manifest "
        "(changed after collection)"
    )


def test_a_missing_member_is_refused(
    tmp_path: Path, keys: tuple[SigningIdentity, list[Anchor]]
) -> None:
    path = _bundle(tmp_path, keys[0])
    members = [m for m in _members(path) if m[0] != "target-00002.json.gz"]
    assert _refused(_rewrite(path, members), keys[1]).endswith(
        "refused: member target-00002.json.gz is missing"
    )


def test_an_extra_member_is_refused(
    tmp_path: Path, keys: tuple[SigningIdentity, list[Anchor]]
) -> None:
    path = _bundle(tmp_path, keys[0])
    members = [*_members(path), ("target-00003.json.gz", gzip.compress(b"{}"))]
    assert _refused(_rewrite(path, members), keys[1]).endswith(
        "refused: extra member target-00003.json.gz (not in the manifest)"
    )


def test_a_bundle_signed_by_an_untrusted_key_is_refused(
    tmp_path: Path, keys: tuple[SigningIdentity, list[Anchor]]
) -> None:
    stranger = _identity(tmp_path / "stranger", "stranger")
    path = _bundle(tmp_path, stranger)
    message = _refused(path, keys[1])
    assert "signer CN=stranger" in message and "is NOT trusted" in message
    # the same bundle with the stranger's certificate trusted is stored
    trusted = load_anchors([tmp_path / "stranger" / "signing-cert.pem"])
    assert read_bundle(path, anchors=trusted).signer == "stranger (fleet)"


def test_a_bundle_signed_with_an_expired_certificate_is_refused(
    tmp_path: Path, keys: tuple[SigningIdentity, list[Anchor]]
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old collector")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now - dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = _bundle(tmp_path, SigningIdentity(key, cert))
    message = _refused(path, [Anchor(cert, tmp_path / "old.pem")])
    assert "certificate" in message and ("expired" in message or "validity" in message)


SHA256_OID = bytes.fromhex("0609608648016503040201")  # DER of 2.16.840.1.101.3.4.2.1


@pytest.mark.parametrize("which", [1, 2])
def test_a_signature_naming_an_unknown_digest_is_refused_in_one_line(
    tmp_path: Path, keys: tuple[SigningIdentity, list[Anchor]], which: int
) -> None:
    """A signature whose digest algorithm is no known one (a flipped byte of its OID): pyHanko
    failed on it with an AttributeError, a traceback instead of a refusal."""
    path = _bundle(tmp_path, keys[0])
    members = _members(path)
    signature = members[1][1]
    places = [i for i in range(len(signature)) if signature.startswith(SHA256_OID, i)]
    # the SignedData's list (unsigned, and unused: changing it changes nothing), the signer's
    # digest algorithm, the signing certificate's hash in the signed attributes
    assert len(places) == 3
    at = places[which] + len(SHA256_OID) - 3  # the arc "4" of ...3.4.2.1
    members[1] = ("manifest.json.p7s", signature[:at] + b"\x78" + signature[at + 1 :])
    message = _refused(_rewrite(path, members), keys[1])
    assert "refused" in message


def test_an_unsigned_bundle_is_refused_unless_allowed(tmp_path: Path) -> None:
    path = _bundle(tmp_path, None)
    message = _refused(path, [])
    assert message.endswith("refused: the bundle is not signed (collected with --unsigned)")
    got = read_bundle(path, anchors=[], allow_unsigned=True)
    assert got.signer is None and len(got.targets) == 2


def test_allowing_unsigned_bundles_does_not_let_a_bad_signature_through(
    tmp_path: Path, keys: tuple[SigningIdentity, list[Anchor]]
) -> None:
    path = _bundle(tmp_path, keys[0])
    members = _members(path)
    members[0] = ("manifest.json", members[0][1].replace(b'"web-1"', b'"web-2"'))
    message = _refused(_rewrite(path, members), keys[1], allow_unsigned=True)
    assert "does not match its signature" in message


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "not an evidence bundle"),
        (b"hello, I am not a tar file at all" * 40, "not an evidence bundle"),
        (gzip.compress(b"x" * 2000), "not an evidence bundle"),
    ],
)
def test_what_is_not_a_bundle_says_so(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "x.bundle"
    path.write_bytes(content)
    assert reason in _refused(path, [])


def test_a_tar_without_a_manifest_is_not_a_bundle(tmp_path: Path) -> None:
    path = _rewrite(tmp_path / "x.bundle", [("target-00001.json.gz", gzip.compress(b"{}"))])
    assert _refused(path, []).endswith("not an evidence bundle (no manifest.json in it)")


def test_a_truncated_bundle_is_refused(
    tmp_path: Path, keys: tuple[SigningIdentity, list[Anchor]]
) -> None:
    path = _bundle(tmp_path, keys[0])
    data = path.read_bytes()
    sizes = {n: len(d) for n, d in _members(path)}
    cut = 512 * 3 + sizes["manifest.json"] + sizes["manifest.json.p7s"]  # mid target-00001
    path.write_bytes(data[: cut + 100])
    message = _refused(path, keys[1])
    assert "truncated" in message or "missing" in message


def test_a_member_with_a_path_a_link_or_twice_is_refused(
    tmp_path: Path, keys: tuple[SigningIdentity, list[Anchor]]
) -> None:
    path = _bundle(tmp_path, keys[0])
    members = _members(path)
    slashed = _rewrite(tmp_path / "p.bundle", [*members, ("../etc/target-00001.json.gz", b"")])
    assert "unexpected member name '../etc/target-00001.json.gz'" in _refused(slashed, keys[1])
    twice = _rewrite(tmp_path / "t.bundle", [*members, members[2]])
    assert _refused(twice, keys[1]).endswith("member target-00001.json.gz appears twice")
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in members[:2]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("target-00001.json.gz")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/shadow"
        tf.addfile(link)
    linked = tmp_path / "l.bundle"
    linked.write_bytes(out.getvalue())
    assert "member target-00001.json.gz is not a regular file" in _refused(linked, keys[1])


def test_every_bound_is_enforced(
    tmp_path: Path, keys: tuple[SigningIdentity, list[Anchor]]
) -> None:
    path = _bundle(tmp_path, keys[0])
    size = path.stat().st_size
    over = _refused(path, keys[1], limits=BundleLimits(max_bundle_bytes=size - 1))
    assert over.endswith(f"refused: larger than max_bundle_bytes ({size - 1} bytes)")
    assert "more than max_members (2)" in _refused(
        path, keys[1], limits=BundleLimits(max_members=2)
    )
    small = BundleLimits(max_member_bytes=50)
    assert "over max_member_bytes (50)" in _refused(path, keys[1], limits=small)
    assert "over max_total_bytes (10)" in _refused(
        path, keys[1], limits=BundleLimits(max_total_bytes=10)
    )
    ratio = BundleLimits(max_ratio=1, ratio_floor=10)
    assert "max_ratio (1)" in _refused(path, keys[1], limits=ratio)
    manifest = _refused(path, keys[1], limits=BundleLimits(max_manifest_bytes=100))
    assert "member manifest.json is" in manifest and "over max_manifest_bytes (100)" in manifest
    signature = _refused(path, keys[1], limits=BundleLimits(max_signature_bytes=100))
    assert "over max_signature_bytes (100)" in signature


def test_a_gzip_bomb_is_refused_before_it_is_unpacked(tmp_path: Path) -> None:
    """A member that says it is small but unpacks to far more: only what the manifest
    declares (plus one byte) is ever decompressed."""
    bomb = gzip.compress(b"{" + b" " * (64 << 20) + b"}", compresslevel=9)
    manifest = {
        "format": "assessor-bundle",
        "version": 1,
        "tool_version": "1",
        "hostname": "h",
        "collected_at": T0.isoformat(),
        "finished_at": T1.isoformat(),
        "targets": [],
        "members": [
            {
                "name": "target-00001.json.gz",
                "sha256": hashlib.sha256(bomb).hexdigest(),
                "size": len(bomb),
                "content_size": 10,
            }
        ],
    }
    manifest["targets"] = [
        {
            "target": "host:/",
            "kind": "host",
            "status": "collected",
            "error": None,
            "identity": {},
            "member": "target-00001.json.gz",
        }
    ]
    path = _rewrite(
        tmp_path / "bomb.bundle",
        [("manifest.json", json.dumps(manifest).encode()), ("target-00001.json.gz", bomb)],
    )
    message = _refused(path, [], allow_unsigned=True)
    assert message.endswith("does not unpack to the 10 bytes the manifest says")


def test_a_frame_that_is_not_evidence_is_refused(tmp_path: Path) -> None:
    """A signed-by-nobody frame must still be the frame assessor writes: documents with a
    kind, resource, data and a zoned time."""
    path = _bundle(tmp_path, None)
    members = _members(path)
    manifest = json.loads(members[0][1])
    frame = json.loads(gzip.decompress(members[1][1]))
    frame["evidence"][0]["collected_at"] = "2026-12-01T09:00:00"  # no zone
    stored = gzip.compress(json.dumps(frame).encode())
    manifest["members"][0].update(
        sha256=hashlib.sha256(stored).hexdigest(),
        size=len(stored),
        content_size=len(gzip.decompress(stored)),
    )
    members[0] = ("manifest.json", json.dumps(manifest).encode())
    members[1] = (members[1][0], stored)
    message = _refused(_rewrite(path, members), [], allow_unsigned=True)
    assert "is not an evidence frame (evidence: a document's collected_at has no zone)" in message


def test_limits_parse_with_sizes_and_name_the_unknown() -> None:
    assert parse_limits(["max_bundle_bytes=2G", "max_members=5"]) == BundleLimits(
        max_bundle_bytes=2 << 30, max_members=5
    )
    with pytest.raises(TargetError, match="bundle limit 'nope=1': expected NAME=VALUE"):
        parse_limits(["nope=1"])
    with pytest.raises(TargetError, match="is not a number"):
        parse_limits(["max_members=lots"])


def test_a_collector_error_keeps_its_kind() -> None:
    assert bundle.status_of(Collected([], CollectorError("x"))) == "error"
    assert bundle.status_of(Collected([], TargetUnreachableError("x"))) == "unreachable"
    assert bundle.status_of(Collected([], None)) == "collected"
