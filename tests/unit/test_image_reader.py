"""The layer reader, the layer merge and the config reader, on layers built in memory."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from typing import Any

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assessor.collectors.image import content, fs, meta
from assessor.collectors.image.layer import LayerScan, scan_layer
from assessor.collectors.image.stream import Budget, digest_of
from assessor.collectors.limits import Limits, parse_limits
from assessor.errors import ImageError, TargetError
from assessor.evaluate.image import image_copy_not_add, image_update_alone
from assessor.evidence import Redactor

Member = tuple[str, str, dict[str, Any]]  # (name, kind, options)


def tar_bytes(*members: Member) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, opts in members:
            info = tarfile.TarInfo(name)
            info.mode = opts.get("mode", 0o644)
            info.uid = opts.get("uid", 0)
            data = opts.get("data", b"")
            if kind == "d":
                info.type = tarfile.DIRTYPE
                info.mode = opts.get("mode", 0o755)
            elif kind == "l":
                info.type = tarfile.SYMTYPE
                info.linkname = opts["link"]
            elif kind == "h":
                info.type = tarfile.LNKTYPE
                info.linkname = opts["link"]
            elif kind == "c":
                info.type = tarfile.CHRTYPE
                info.devmajor, info.devminor = 1, 3
            else:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if kind == "f" else None)
    return buf.getvalue()


def scan(raw: bytes, limits: Limits | None = None, index: int = 0, **kw: Any) -> LayerScan:
    stream = io.BytesIO(raw)
    budget = Budget(limits or Limits())
    return scan_layer(
        stream.read,
        index=index,
        digest=kw.get("digest", digest_of(raw)),
        size=kw.get("size", len(raw)),
        budget=budget,
        what="layer",
    )


def f(name: str, **opts: Any) -> Member:
    return (name, "f", opts)


def test_plain_gzip_and_zstd_layers_give_the_same_index_and_diff_id() -> None:
    plain = tar_bytes(("bin", "d", {}), f("bin/su", mode=0o4755, data=b"x"))
    scans = [
        scan(plain),
        scan(gzip.compress(plain)),
        scan(zstandard.ZstdCompressor().compress(plain)),
    ]
    assert [s.compression for s in scans] == ["none", "gzip", "zstd"]
    assert {s.diff_id for s in scans} == {digest_of(plain)}
    assert all(s.entries["bin/su"].mode == 0o4755 for s in scans)


def test_digest_mismatch_and_truncation_are_errors() -> None:
    raw = gzip.compress(tar_bytes(f("a", data=b"hello")))
    with pytest.raises(ImageError, match="digest mismatch"):
        scan(raw, digest="sha256:" + "0" * 64)
    cut = raw[: len(raw) // 2]
    with pytest.raises(ImageError, match=r"truncated|corrupt"):
        scan(cut, digest=digest_of(cut), size=len(cut))
    with pytest.raises(ImageError, match="truncated: 10 of"):
        scan(raw[:10], size=len(raw))


def test_garbage_after_the_archive_is_an_error() -> None:
    raw = tar_bytes(f("a", data=b"x")) + b"\x01" * 512
    with pytest.raises(ImageError, match="after the end of the archive"):
        scan(raw)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../../etc/passwd", "escapes the image root"),
        ("/etc/passwd", "absolute member path"),
        ("a/../../b", "escapes the image root"),
    ],
)
def test_hostile_member_names(name: str, problem: str) -> None:
    with pytest.raises(ImageError, match=problem):
        scan(tar_bytes(f(name, data=b"x")))


def test_symlink_escape_and_write_through_a_symlink() -> None:
    with pytest.raises(ImageError, match="escapes the image root"):
        scan(tar_bytes(("etc/evil", "l", {"link": "../../../etc/shadow"})))
    # an absolute symlink points inside the container's root: allowed
    layer = scan(tar_bytes(("etc/localtime", "l", {"link": "/usr/share/zoneinfo/UTC"})))
    assert layer.entries["etc/localtime"].link == "/usr/share/zoneinfo/UTC"
    through = scan(tar_bytes(("etc/x", "l", {"link": "/tmp"}), f("etc/x/file", data=b"1")))
    with pytest.raises(ImageError, match="written through the symlink etc/x"):
        fs.merge([through])


def test_hard_links() -> None:
    with pytest.raises(ImageError, match="escapes the image root"):
        scan(tar_bytes(("x", "h", {"link": "../../etc/passwd"})))
    dangling = scan(tar_bytes(("x", "h", {"link": "not/there"})))
    with pytest.raises(ImageError, match="a path in no layer below"):
        fs.merge([dangling])
    lower = scan(tar_bytes(f("bin/tool", data=b"t")), index=0)
    upper = scan(tar_bytes(("bin/alias", "h", {"link": "bin/tool"})), index=1)
    assert "bin/alias" in fs.merge([lower, upper])


def test_whiteouts_and_opaque_directories_shape_the_final_filesystem() -> None:
    lower = scan(
        tar_bytes(
            f("bin/su", mode=0o4755, data=b"s"),
            f("opt/app/old", mode=0o4755, data=b"o"),
            f("keep", mode=0o6755, data=b"k"),
            f("root/.ssh/id_rsa", data=b"-----BEGIN RSA PRIVATE KEY-----\nabc\n"),
        ),
        index=0,
    )
    upper = scan(
        tar_bytes(
            f("bin/.wh.su"),
            f("opt/app/.wh..wh..opq"),
            f("opt/app/new", data=b"n"),
            f("root/.ssh/.wh.id_rsa"),
        ),
        index=1,
    )
    final = fs.merge([lower, upper])
    assert "bin/su" not in final and "opt/app/old" not in final and "opt/app/new" in final
    ev = fs.file_evidence([lower, upper], final, Limits())
    assert [i["path"] for i in ev["files"]["setuid"]["items"]] == ["/keep"]
    assert ev["files"]["setuid"]["items"][0]["bits"] == "setuid+setgid"
    # the key was deleted by the upper layer: the final filesystem has none
    assert ev["file_secrets"]["count"] == 0
    # without the upper layer it is reported, by path and fingerprint only
    ev = fs.file_evidence([lower], fs.merge([lower]), Limits())
    (secret,) = ev["file_secrets"]["items"]
    assert secret["path"] == "/root/.ssh/id_rsa" and secret["fingerprint"].startswith("sha256:")
    assert "abc" not in str(secret)


def test_world_writable_devices_and_ssh_server() -> None:
    layer = scan(
        tar_bytes(
            ("tmp", "d", {"mode": 0o1777}),
            ("shared", "d", {"mode": 0o777}),
            f("etc/passwd", mode=0o666, data=b"root:x:0:0::/root:/bin/sh\n"),
            ("dev/mem", "c", {}),
            f("usr/sbin/sshd", mode=0o755, data=b"\x7fELF"),
        )
    )
    ev = fs.file_evidence([layer], fs.merge([layer]), Limits())
    writable = [i["path"] for i in ev["files"]["world_writable"]["items"]]
    assert writable == ["/etc/passwd", "/shared"]
    assert [i["path"] for i in ev["files"]["devices"]["items"]] == ["/dev/mem"]
    assert ev["ssh_server"] == ["/usr/sbin/sshd"]


def test_package_databases() -> None:
    status = (
        b"Package: openssh-server\nStatus: install ok installed\nVersion: 1:9.2\n\n"
        b"Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n"
        b"Package: bash\nStatus: install ok installed\nVersion: 5.2\nDescription: x\n more\n"
    )
    apk = b"P:musl\nV:1.2.4\n\nP:busybox\nV:1.36\n"
    layer = scan(
        tar_bytes(f("var/lib/dpkg/status", data=status), f("lib/apk/db/installed", data=apk))
    )
    ev = fs.file_evidence([layer], fs.merge([layer]), Limits())
    assert ev["packages"]["managers"] == ["apk", "dpkg"]
    assert ev["packages"]["names"] == [
        "bash 5.2",
        "busybox 1.36",
        "musl 1.2.4",
        "openssh-server 1:9.2",
    ]


def test_env_file_and_credentials_keep_keys_never_values() -> None:
    found = content.reader_for("app/.env", 100, Limits())
    assert found is not None
    out = found.analyse("app/.env", b"DEBUG=1\nDB_PASSWORD='hunter2'\nexport API_KEY=abc\n", 60)
    assert out[0]["kind"] == "env-file"
    assert [k["key"] for k in out[0]["keys"]] == ["DB_PASSWORD", "API_KEY"]
    assert "hunter2" not in str(out) and "abc" not in str(out).replace("sha256", "")
    aws = content.reader_for("root/.aws/credentials", 10, Limits())
    assert aws is not None
    assert aws.analyse("root/.aws/credentials", b"[default]\naws_secret_access_key = X\n", 1)
    assert not aws.analyse("root/.aws/credentials", b"[default]\nregion = eu-west-1\n", 1)
    # a certificate bundle is not a private key
    pem = content.reader_for("etc/ssl/certs/ca.pem", 10, Limits())
    assert pem is not None
    assert not pem.analyse("etc/ssl/certs/ca.pem", b"-----BEGIN CERTIFICATE-----\n", 1)


def test_limits_are_enforced_and_named() -> None:
    many = tar_bytes(*(f(f"f{i}") for i in range(50)))
    with pytest.raises(ImageError, match="more than max_entries"):
        scan(many, parse_limits(["max_entries=10"]))
    big = gzip.compress(tar_bytes(f("zeros", data=bytes(4 << 20))))
    with pytest.raises(ImageError, match="max_ratio"):
        scan(big, parse_limits(["ratio_floor=1M,max_ratio=20"]))
    with pytest.raises(ImageError, match="max_image_bytes"):
        scan(big, parse_limits(["max_image_bytes=1M"]))
    long_name = tar_bytes(f("d/" + "x" * 5000))
    with pytest.raises(ImageError, match=r"max_header_bytes|max_path_length"):
        scan(long_name, parse_limits(["max_header_bytes=1K"]))
    with pytest.raises(ImageError, match="max_path_length"):
        scan(long_name)
    with pytest.raises(TargetError, match="expected NAME=VALUE"):
        parse_limits(["nonsense=1"])
    assert parse_limits(["max_layer_bytes=2G"]).max_layer_bytes == 2 << 30


def test_history_steps_are_classified_and_redacted() -> None:
    config = {
        "history": [
            {"created_by": "/bin/sh -c #(nop) ADD file:abc123 in / "},
            {
                "created_by": "|1 DB_PASSWORD=hunter2 /bin/sh -c apt-get update",
                "empty_layer": False,
            },
            {"created_by": f"/bin/sh -c #(nop) ADD {'a' * 64} in /opt/x "},
            {"created_by": "ADD https://example.com/x.tgz /opt/ # buildkit"},
            {"created_by": "COPY app /app # buildkit"},
            {"created_by": "ADD vendor.tar.gz /opt/ # buildkit"},
            {"created_by": "/bin/sh -c #(nop) ADD file:def in /etc/app.conf "},
            {"created_by": "RUN /bin/sh -c apt-get update && apt-get install -y curl # buildkit"},
        ]
    }
    red = Redactor()
    steps = meta.history(config, red, "image")
    assert [s.get("add", {}).get("source") for s in steps] == [
        "base-rootfs",
        None,
        "remote",
        "remote",
        None,
        "local-archive",
        "local",
        None,
    ]
    assert "hunter2" not in str(steps)
    assert red.found[0].key == "DB_PASSWORD"
    data = {"history": steps}
    update = image_update_alone(data, {})
    assert update.status == "fail" and "step 2" in update.message and "step 8" not in update.message
    add = image_copy_not_add(data, {})
    assert add.status == "fail"
    assert "2 ADD of a remote URL" in add.message and "1 ADD of local files" in add.message


def test_config_of_the_wrong_shape_is_a_clear_error() -> None:
    with pytest.raises(ImageError, match="'Env' has the wrong type"):
        meta.config_evidence({"config": {"Env": "A=1"}}, Redactor(), "image")
    with pytest.raises(ImageError, match="expected a list of strings"):
        meta.config_evidence({"config": {"Cmd": [1, 2]}}, Redactor(), "image")


# ---- property-based: whatever the bytes, the reader ends in a result or an ImageError ----


def _valid_layer() -> bytes:
    return tar_bytes(
        ("bin", "d", {}),
        f("bin/tool", mode=0o4755, data=b"#!/bin/sh\necho hi\n" * 20),
        ("bin/link", "l", {"link": "tool"}),
        f(".env", data=b"TOKEN=abc\n"),
    )


VALID = _valid_layer()
VALID_GZ = gzip.compress(VALID, mtime=0)


def _read_any(raw: bytes) -> None:
    try:
        layer = scan(raw, parse_limits(["max_ratio=50,ratio_floor=64K,max_entries=1000"]))
        fs.file_evidence([layer], fs.merge([layer]), Limits())
    except ImageError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_random_bytes_never_crash_the_reader(raw: bytes) -> None:
    _read_any(raw)


@settings(max_examples=300, deadline=None)
@given(
    base=st.sampled_from([VALID, VALID_GZ]),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
    cut=st.one_of(st.none(), st.integers(0, 10_000)),
)
def test_mutated_layers_never_crash_the_reader(
    base: bytes, edits: list[tuple[int, int]], cut: int | None
) -> None:
    raw = bytearray(base)
    for pos, value in edits:
        raw[pos % len(raw)] = value
    if cut is not None:
        raw = raw[: cut % (len(raw) + 1)]
    _read_any(bytes(raw))


def test_the_fingerprint_is_not_the_value() -> None:
    assert (
        content.file_fingerprint(b"secret")
        == "sha256:" + hashlib.sha256(b"secret").hexdigest()[:12]
    )


def test_platform_is_picked_from_an_index() -> None:
    from assessor.collectors.image.resolve import Platform, select

    def d(arch: str, variant: str = "") -> dict[str, Any]:
        platform = {
            "os": "linux",
            "architecture": arch,
            **({"variant": variant} if variant else {}),
        }
        return {
            "digest": "sha256:" + hashlib.sha256(arch.encode()).hexdigest(),
            "platform": platform,
        }

    index = {"manifests": [d("arm64", "v8"), d("amd64"), d("arm", "v7")]}
    assert select(index, Platform(), "img")["platform"]["architecture"] == "amd64"
    chosen = select(index, Platform.parse("linux/arm/v7"), "img")
    assert chosen["platform"]["variant"] == "v7"
    with pytest.raises(
        ImageError, match=r"no image for platform linux/s390x \(offered: linux/amd64"
    ):
        select(index, Platform.parse("linux/s390x"), "img")
    with pytest.raises(ImageError, match="expected OS/ARCH"):
        Platform.parse("amd64")


def test_base_image_is_read_from_annotations_or_labels() -> None:
    from assessor.collectors.image.analyze import BASE_DIGEST, BASE_NAME, base_image

    assert base_image({}, {BASE_NAME: "debian:12", BASE_DIGEST: "sha256:ab"}) == {
        "recorded": True,
        "name": "debian:12",
        "digest": "sha256:ab",
    }
    assert base_image({BASE_NAME: "alpine:3.20"}, {})["name"] == "alpine:3.20"
    assert base_image({}, {}) == {"recorded": False}


def test_credentials_on_build_command_lines_are_redacted() -> None:
    red = Redactor()
    steps = [
        "/bin/sh -c docker login -u me --password hunter2 reg.example.com",
        'RUN curl -H "Authorization: Bearer abc.def" https://x/y # buildkit',
        "/bin/sh -c tool --db-password=s3cr3t --passive --tokenizer-path /m",
    ]
    out = [meta.redact_step(s, red, f"history[{i}]") for i, s in enumerate(steps)]
    for secret in ("hunter2", "abc.def", "s3cr3t"):
        assert secret not in str(out)
    assert "--passive --tokenizer-path /m" in out[2]  # look-alike flags are left alone
    assert [r.key for r in red.found] == ["--password", "Authorization", "--db-password"]
    assert [r.kind for r in red.found] == ["password", "token", "password"]
