"""Hostile images: the committed corpus of tests/fixtures/hostile, and what issue 17 added.

Every image of tests/fixtures/hostile (listed in its cases.json, with the reason the reader
must give in tests/integration/test_hostile_images.py) is one case here, scanned in place
(the two large ones are written on demand into the case's folder by make_hostile.py). The
new cases plant: file names that are not UTF-8 (items 4), JSON nested too deep or holding
huge numbers in configs, manifests and indexes (item 5), and things that are not archive
files given as archives: /dev/zero, a FIFO, a directory, a socket, an oversized file
(item 9); OCI layouts whose files are FIFOs, devices or symlinks out of the layout.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import sqlite3
import sys
import tarfile
import zlib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from tests.hostile.corpus import Case, Ctx
from tests.integration.test_hostile_images import REASON

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CORPUS = FIXTURES / "hostile"
LISTING: dict[str, dict[str, Any]] = json.loads((CORPUS / "cases.json").read_text())["cases"]
# the reason each fixture's one-line error gives: the integration test's table, read as text
EXTRA_ARGS = {"bomb-entry-count": ["--image-limit", "max_entries=100000"]}


@cache
def _gen() -> Any:
    """tests/fixtures/make_hostile.py, the corpus generator (its builders make the new cases)."""
    path = FIXTURES / "make_hostile.py"
    spec = importlib.util.spec_from_file_location("make_hostile", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def _fixture(name: str) -> Callable[[Ctx], list[str]]:
    entry = LISTING[name]

    def build(ctx: Ctx) -> list[str]:
        transport, _, rel = entry["target"].partition(":")
        path = CORPUS / rel
        if entry.get("on_demand"):
            gen = _gen()
            path = ctx.work / gen.CASES[name].path
            gen.CASES[name].build(path)
        return ["scan", f"image:{transport}:{path}", *EXTRA_ARGS.get(name, [])]

    return build


def _evidence(ctx: Ctx) -> list[dict[str, Any]]:
    """Every evidence document stored by the case's scan."""
    con = sqlite3.connect(ctx.db.removeprefix("sqlite:///"))
    try:
        rows = con.execute("SELECT body FROM evidence").fetchall()
    finally:
        con.close()
    return [json.loads(zlib.decompress(body)) for (body,) in rows]


def _device_nodes_reported(ctx: Ctx, out: str, err: str) -> None:
    (result,) = [r for r in json.loads(out)["results"] if r["rule"] == "image-no-device-files"]
    assert result["status"] == "fail", result
    assert "/dev/evil-null (char device" in result["message"]
    assert not os.path.lexists("/dev/evil-null")


def _fixture_cases() -> list[Case]:
    cases = [
        Case(
            f"img-{name}",
            "images",
            LISTING[name]["defect"],
            _fixture(name),
            2,
            rf"^assessor: error: image:\S+{re.escape(name)}.*{re.escape(reason)}",
            timeout=120,
        )
        for name, reason in sorted(REASON.items())
    ]
    device = _fixture("device-nodes")
    cases.append(
        Case(
            "img-device-nodes",
            "images",
            LISTING["device-nodes"]["defect"],
            lambda ctx: [*device(ctx), "--format", "json"],
            0,
            None,
            check=_device_nodes_reported,
        )
    )
    return cases


# ---- builders of the new cases ----------------------------------------------------------


def _raw_name(text: bytes) -> str:
    """A name as Python keeps bytes that are not UTF-8 (lone surrogates)."""
    return text.decode("utf-8", "surrogateescape")


def _member(tar: Any, name: bytes, kind: bytes = tarfile.REGTYPE, **attrs: Any) -> None:
    """A ustar member whose name (and link) are raw bytes, written as they are."""
    info = tarfile.TarInfo(_raw_name(name))
    info.type = kind
    data = attrs.pop("data", b"")
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.mode = attrs.pop("mode", 0o644)
    for key, value in attrs.items():
        setattr(info, key, _raw_name(value) if isinstance(value, bytes) else value)
    tar.raw(info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape"))
    if data:
        tar.raw(data + bytes(-len(data) % tarfile.BLOCKSIZE))


def _bad_names(tar: Any) -> None:
    gen = _gen()
    gen._base_files(tar)
    _member(tar, b"etc/\xff\xfe", data=b"abc", mode=0o4755)
    _member(tar, b"usr/\xc3(bin", tarfile.DIRTYPE, mode=0o777)
    _member(tar, b"usr/\xc3(bin/tool\x80", data=b"#!/bin/sh\n", mode=0o2755)
    _member(tar, b"etc/link\xfe", tarfile.SYMTYPE, linkname=b"\xff\xfe")
    _member(tar, b"etc/hard\xfd", tarfile.LNKTYPE, linkname=b"etc/\xff\xfe")


def _gen_base(tar: Any) -> None:
    _gen()._base_files(tar)


def _nonutf8_whiteouts(ctx: Ctx) -> list[str]:
    """Two layers: the lower one has setuid files under d\xfe and e\xfd; the upper one
    whites out d\xfe/\xff and makes e\xfd opaque."""
    gen = _gen()
    root = ctx.work / "image"
    layout = gen.OciLayout(root)

    def lower(tar: Any) -> None:
        _member(tar, b"d\xfe", tarfile.DIRTYPE, mode=0o777)
        _member(tar, b"d\xfe/\xff", data=b"x", mode=0o4755)
        _member(tar, b"d\xfe/kept\xff", data=b"x", mode=0o4755)
        _member(tar, b"e\xfd", tarfile.DIRTYPE)
        _member(tar, b"e\xfd/gone\xfc", data=b"x", mode=0o4755)

    def upper(tar: Any) -> None:
        _member(tar, b"d\xfe/.wh.\xff")
        _member(tar, b"e\xfd/.wh..wh..opq")

    layout.finish(layout.image([layout.layer(lower), layout.layer(upper)]))
    return ["scan", f"image:oci:{root}", "--format", "json"]


def _whiteouts_applied(ctx: Ctx, out: str, err: str) -> None:
    (image,) = [e for e in _evidence(ctx) if e["kind"] == "image"]
    files = image["data"]["files"]
    assert [i["path"] for i in files["setuid"]["items"]] == ["/d\\xfe/kept\\xff"], files
    assert [i["path"] for i in files["world_writable"]["items"]] == ["/d\\xfe"], files


def _oci(fill: Callable[[Any], None], config: Callable[[str], bytes] | None = None) -> Any:
    def build(ctx: Ctx) -> list[str]:
        gen = _gen()
        root = ctx.work / "image"
        layout = gen.OciLayout(root)
        layer = layout.layer(fill)
        layout.finish(layout.image([layer], config(layer.diff_id) if config else None))
        return ["scan", f"image:oci:{root}", "--format", "json"]

    return build


def _names_escaped(ctx: Ctx, out: str, err: str) -> None:
    results = json.loads(out)["results"]
    (setuid,) = [r for r in results if r["rule"] == "image-setuid-removed"]
    assert "/etc/\\xff\\xfe" in setuid["message"], setuid
    assert "/usr/\\xc3(bin/tool\\x80" in setuid["message"], setuid
    (image,) = [e for e in _evidence(ctx) if e["kind"] == "image"]
    text = json.dumps(image, ensure_ascii=False)
    assert "/etc/\\\\xff\\\\xfe" in text and "\\\\udc" not in text
    paths = [i["path"] for i in image["data"]["files"]["world_writable"]["items"]]
    assert paths == ["/usr/\\xc3(bin"], paths


def _docker_archive(layer: bytes, config: bytes | None = None, **kw: Any) -> Any:
    """A docker-archive of one layer (the tar ``layer``); ``config`` replaces the config."""

    def build(ctx: Ctx) -> list[str]:
        gen = _gen()
        members = gen._docker_members("case", [layer])
        if config is not None:
            old = next(n for n in members if n.endswith(".json") and len(n) == 69)
            manifest = json.loads(members["manifest.json"])
            del members[old]
            name = gen._digest(config).removeprefix("sha256:") + ".json"
            members[name] = config
            manifest[0]["Config"] = name
            members["manifest.json"] = gen._json(manifest)
        if "manifest" in kw:
            members["manifest.json"] = kw["manifest"]
        path = ctx.work / "image.tar"
        path.write_bytes(gen._docker_archive(members))
        return ["scan", f"image:docker-archive:{path}", "--format", "json"]

    return build


def _layer_tar(fill: Callable[[Any], None]) -> bytes:
    return bytes(_gen()._tar_bytes(fill))


def _config_with(extra: bytes) -> Callable[[str], bytes]:
    """An image config (for one layer of ``diff_id``) with ``extra`` spliced in as a field."""

    def make(diff_id: str) -> bytes:
        gen = _gen()
        base = bytes(gen._json(gen._config([diff_id])))
        return base[:-1] + b',"x":' + extra + b"}"

    return make


DEEP = 100_000
DEEP_ARRAY = b"[" * DEEP + b"]" * DEEP
DEEP_OBJECT = b'{"a":' * DEEP + b"1" + b"}" * DEEP
HUGE_INT = b"7" * DEEP


def _oci_manifest(edit: Callable[[dict[str, Any], Any], bytes]) -> Any:
    """An OCI image whose manifest is rewritten by ``edit(manifest, gen)`` (bytes)."""

    def build(ctx: Ctx) -> list[str]:
        gen = _gen()
        root = ctx.work / "image"
        layout = gen.OciLayout(root)
        layer = layout.layer(gen._base_files)
        config = layout.blob(gen.CONFIG, gen._json(gen._config([layer.diff_id])))
        manifest = {
            "schemaVersion": 2,
            "mediaType": gen.MANIFEST,
            "config": config,
            "layers": [layer.desc],
        }
        layout.finish(layout.blob(gen.MANIFEST, edit(manifest, gen)))
        return ["scan", f"image:oci:{root}"]

    return build


def _splice(doc: dict[str, Any], gen: Any, key: str, raw: bytes) -> bytes:
    return bytes(gen._json(doc))[:-1] + b',"' + key.encode() + b'":' + raw + b"}"


def _huge_layer_size(doc: dict[str, Any], gen: Any) -> bytes:
    text = bytes(gen._json(doc))
    size = b'"size":%d' % doc["layers"][0]["size"]
    return text.replace(size, b'"size":' + HUGE_INT, 1)


def _oci_index(raw: Callable[[dict[str, Any]], bytes]) -> Any:
    """A valid OCI image whose index.json is rewritten by ``raw(index)``."""

    def build(ctx: Ctx) -> list[str]:
        gen = _gen()
        root = ctx.work / "image"
        gen.valid_oci(root)
        index = json.loads((root / "index.json").read_bytes())
        (root / "index.json").write_bytes(raw(index))
        return ["scan", f"image:oci:{root}"]

    return build


def _index_splice(extra: bytes) -> Callable[[dict[str, Any]], bytes]:
    return lambda index: json.dumps(index).encode()[:-1] + b', "x": ' + extra + b"}"


def _surrogate_config(diff_id: str) -> bytes:
    gen = _gen()
    doc = gen._config([diff_id])
    doc["config"] = {"Env": ["NAME=a\\udcffb"], "Labels": {"l\\udcfe": "v"}}
    return bytes(gen._json(doc)).replace(b"\\\\udc", b"\\udc")


def _surrogates_escaped(ctx: Ctx, out: str, err: str) -> None:
    (image,) = [e for e in _evidence(ctx) if e["kind"] == "image"]
    assert image["data"]["config"]["Env"] == ["NAME=a\\xffb"], image["data"]["config"]
    assert "l\\xfe" in image["data"]["config"]["Labels"]


# ---- not an archive file ----------------------------------------------------------------


def _archive_at(make: Callable[[Ctx], str], *extra: str) -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        return ["scan", f"image:docker-archive:{make(ctx)}", *extra]

    return build


def _fifo(ctx: Ctx) -> str:
    path = ctx.work / "archive.fifo"
    os.mkfifo(path)
    return str(path)


def _directory(ctx: Ctx) -> str:
    path = ctx.work / "archive.d"
    path.mkdir()
    return str(path)


def _socket(ctx: Ctx) -> str:
    path = ctx.work / "archive.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    ctx.stack.callback(server.close)
    return str(path)


def _sparse(ctx: Ctx) -> str:
    path = ctx.work / "huge.tar"
    with open(path, "wb") as f:
        f.truncate(8 << 30)  # 8 GiB that take no space
    return str(path)


def _symlink_to_zero(ctx: Ctx) -> str:
    path = ctx.work / "zero.tar"
    path.symlink_to("/dev/zero")
    return str(path)


def _oci_blob(replace: Callable[[Path, Path], None]) -> Any:
    """A valid OCI layout in which ``replace(root, first layer blob)`` swaps a file."""

    def build(ctx: Ctx) -> list[str]:
        gen = _gen()
        root = ctx.work / "image"
        gen.valid_oci(root)
        index = json.loads((root / "index.json").read_bytes())
        manifest = json.loads(
            (root / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_bytes()
        )
        blob = root / "blobs/sha256" / manifest["layers"][0]["digest"][7:]
        replace(root, blob)
        return ["scan", f"image:oci:{root}"]

    return build


def _to_fifo(root: Path, blob: Path) -> None:
    blob.unlink()
    os.mkfifo(blob)


def _to_dev_zero(root: Path, blob: Path) -> None:
    blob.unlink()
    blob.symlink_to("/dev/zero")


def _to_char_device(root: Path, blob: Path) -> None:
    blob.unlink()
    os.mknod(blob, 0o600 | 0o020000, os.makedev(1, 5))  # /dev/zero's numbers


def _blobs_outside(root: Path, blob: Path) -> None:
    """blobs/sha256 is a symlink to a copy outside the layout (same content, digests good)."""
    outside = root.parent / "elsewhere"
    (root / "blobs/sha256").rename(outside)
    (root / "blobs/sha256").symlink_to(outside)


def _index_fifo(root: Path, blob: Path) -> None:
    (root / "index.json").unlink()
    os.mkfifo(root / "index.json")


def _two_targets(ctx: Ctx) -> list[str]:
    gen = _gen()
    bad = ctx.work / "deep"
    layout = gen.OciLayout(bad)
    layer = layout.layer(gen._base_files)
    layout.finish(layout.image([layer], _config_with(DEEP_ARRAY)(layer.diff_id)))
    fifo = ctx.work / "fifo.tar"
    os.mkfifo(fifo)
    return [
        "scan",
        f"image:oci:{bad}",
        f"image:docker-archive:{fifo}",
        f"image:oci:{CORPUS / 'valid-oci'}",
        "--format",
        "json",
    ]


def _the_valid_target_went_on(ctx: Ctx, out: str, err: str) -> None:
    errors = [ln for ln in err.splitlines() if ln.startswith("assessor: error:")]
    assert len(errors) == 2, err
    assert "nested deeper than 64 levels" in errors[0] and "is a FIFO" in errors[1], errors
    results = json.loads(out)["results"]
    assert any("valid-oci" in r["resource"] for r in results), results[:3]
    assert any(e["kind"] == "image" and "files" in e["data"] for e in _evidence(ctx))


E = "^assessor: error: image:"
NEW = [
    Case(
        "img-nonutf8-names-oci",
        "images",
        "layer members named with bytes that are not UTF-8 (setuid etc/\\xff\\xfe, ...)",
        _oci(_bad_names),
        0,
        None,
        check=_names_escaped,
    ),
    Case(
        "img-nonutf8-names-docker-archive",
        "images",
        "the same layer in a docker-archive",
        lambda ctx: _docker_archive(_layer_tar(_bad_names))(ctx),
        0,
        None,
        check=_names_escaped,
    ),
    Case(
        "img-nonutf8-symlink-escape",
        "images",
        "a symlink etc/\\xff -> ../../\\xfe climbing out of the root",
        _oci(lambda tar: _member(tar, b"etc/\xff", tarfile.SYMTYPE, linkname=b"../../\xfe")),
        2,
        rf"{E}.*symlink etc/\\xff -> \.\./\.\./\\xfe escapes the image root",
    ),
    Case(
        "img-nonutf8-whiteout",
        "images",
        "a lower layer of non-UTF-8 names, an upper one whiting out d\\xfe/\\xff and making e\\xfd opaque",
        _nonutf8_whiteouts,
        0,
        None,
        check=_whiteouts_applied,
    ),
    Case(
        "img-config-deep-json",
        "images",
        "the image config nests 100,000 arrays",
        _oci(_gen_base, _config_with(DEEP_ARRAY)),
        2,
        rf"{E}oci:\S+: config sha256:[0-9a-f]+: JSON nested deeper than 64 levels",
    ),
    Case(
        "img-config-deep-object",
        "images",
        "the image config nests 100,000 objects",
        _oci(_gen_base, _config_with(DEEP_OBJECT)),
        2,
        rf"{E}.*config.*JSON nested deeper than 64 levels",
    ),
    Case(
        "img-config-huge-int",
        "images",
        "the image config holds an integer of 100,000 digits",
        _oci(_gen_base, _config_with(HUGE_INT)),
        2,
        rf"{E}.*config.*JSON number of 100000 digits",
    ),
    Case(
        "img-config-nan",
        "images",
        "the image config holds NaN and 1e999 (no canonical JSON for either)",
        _oci(_gen_base, _config_with(b"[NaN, 1e999]")),
        2,
        rf"{E}.*config.*JSON constant NaN",
    ),
    Case(
        "img-config-surrogate-escapes",
        "images",
        'ENV and label names with lone surrogate escapes ("\\udcff")',
        lambda ctx: _oci(_gen_base, _surrogate_config)(ctx),
        0,
        None,
        check=_surrogates_escaped,
    ),
    Case(
        "img-manifest-deep-json",
        "images",
        "the manifest nests 100,000 objects in its annotations",
        _oci_manifest(lambda doc, gen: _splice(doc, gen, "annotations", DEEP_OBJECT)),
        2,
        rf"{E}.*JSON nested deeper than 64 levels",
    ),
    Case(
        "img-manifest-huge-int",
        "images",
        "the manifest gives a layer size of 100,000 digits",
        _oci_manifest(_huge_layer_size),
        2,
        rf"{E}.*JSON number of 100000 digits",
    ),
    Case(
        "img-index-deep-json",
        "images",
        "index.json nests 100,000 arrays",
        _oci_index(_index_splice(DEEP_ARRAY)),
        2,
        rf"{E}oci:\S+: index.json: JSON nested deeper than 64 levels",
    ),
    Case(
        "img-index-huge-int",
        "images",
        "index.json holds an integer of 100,000 digits",
        _oci_index(_index_splice(HUGE_INT)),
        2,
        rf"{E}oci:\S+: index.json: JSON number of 100000 digits",
    ),
    Case(
        "img-docker-manifest-deep-json",
        "images",
        "a docker-archive whose manifest.json nests 100,000 arrays",
        lambda ctx: _docker_archive(_layer_tar(_gen_base), manifest=DEEP_ARRAY)(ctx),
        2,
        rf"{E}docker-archive:\S+: manifest.json: JSON nested deeper than 64 levels",
    ),
    Case(
        "img-docker-config-huge-int",
        "images",
        "a docker-archive whose config holds an integer of 100,000 digits",
        lambda ctx: _docker_archive(
            _layer_tar(_gen_base), config=b'{"architecture":"amd64","x":' + HUGE_INT + b"}"
        )(ctx),
        2,
        rf"{E}docker-archive:\S+: .*config.*JSON number of 100000 digits",
    ),
    Case(
        "img-archive-dev-zero",
        "images",
        "/dev/zero given as a docker-archive",
        _archive_at(lambda ctx: "/dev/zero"),
        2,
        rf"{E}docker-archive:/dev/zero: /dev/zero is a character device",
        timeout=20,
    ),
    Case(
        "img-archive-symlink-to-dev-zero",
        "images",
        "a file name that is a symlink to /dev/zero given as a docker-archive",
        _archive_at(_symlink_to_zero),
        2,
        rf"{E}docker-archive:\S+zero.tar: \S+ is a character device",
        timeout=20,
    ),
    Case(
        "img-archive-fifo",
        "images",
        "a FIFO nobody writes to given as a docker-archive",
        _archive_at(_fifo),
        2,
        rf"{E}docker-archive:\S+: \S+ is a FIFO; a docker-archive must be a regular file",
        timeout=20,
    ),
    Case(
        "img-archive-directory",
        "images",
        "a directory given as a docker-archive",
        _archive_at(_directory),
        2,
        rf"{E}docker-archive:\S+: \S+ is a directory \(for an OCI layout use image:oci:\)",
        timeout=20,
    ),
    Case(
        "img-archive-socket",
        "images",
        "a listening unix socket given as a docker-archive",
        _archive_at(_socket),
        2,
        rf"{E}docker-archive:\S+: \S+ is a socket",
        timeout=20,
    ),
    Case(
        "img-archive-oversized",
        "images",
        "an 8 GiB (sparse) archive over --image-limit max_archive_bytes=1M",
        _archive_at(_sparse, "--image-limit", "max_archive_bytes=1M"),
        2,
        rf"{E}docker-archive:\S+: \S+ is 8589934592 bytes, larger than max_archive_bytes",
        timeout=20,
    ),
    Case(
        "img-oci-blob-fifo",
        "images",
        "an OCI layout whose layer blob is a FIFO",
        _oci_blob(_to_fifo),
        2,
        rf"{E}oci:\S+: layer 1 .* is not a regular file",
        timeout=20,
    ),
    Case(
        "img-oci-blob-symlink-dev-zero",
        "images",
        "an OCI layout whose layer blob is a symlink to /dev/zero",
        _oci_blob(_to_dev_zero),
        2,
        rf"{E}oci:\S+: layer 1 .*symlink",
        timeout=20,
    ),
    Case(
        "img-oci-blob-char-device",
        "images",
        "an OCI layout whose layer blob is a character device (1,5)",
        _oci_blob(_to_char_device),
        2,
        rf"{E}oci:\S+: layer 1 .* is not a regular file",
        timeout=20,
    ),
    Case(
        "img-oci-blobs-symlink-outside",
        "images",
        "an OCI layout whose blobs/sha256 folder is a symlink out of the layout",
        _oci_blob(_blobs_outside),
        2,
        rf"{E}oci:.*blobs/sha256/\S+: a symlink or not a directory on the way",
        timeout=20,
    ),
    Case(
        "img-oci-index-fifo",
        "images",
        "an OCI layout whose index.json is a FIFO",
        _oci_blob(_index_fifo),
        2,
        rf"{E}oci:\S+: index.json: \S+ is not a regular file",
        timeout=20,
    ),
    Case(
        "img-two-targets-others-go-on",
        "images",
        "a deep config, then a FIFO archive, then a valid image, in one scan",
        _two_targets,
        2,
        rf"{E}oci:\S+deep\S*: config .*JSON nested deeper than 64 levels",
        check=_the_valid_target_went_on,
    ),
]

CASES = [*_fixture_cases(), *NEW]
