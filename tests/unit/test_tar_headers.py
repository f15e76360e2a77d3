"""The tar header reader of image layers (layer._bounded_tarinfo), under arbitrary input.

Its ``frombuf`` decodes the common ustar header itself and hands anything unusual to
tarfile's decoder. Three properties:

- any 512-byte block, and any mutation of a valid header, either decodes or raises
  tarfile.HeaderError (the contract tarfile's reader relies on to stop cleanly), or
  ImageError for a pax or GNU long-name header over the limit (before its data is read);
- wherever the fast path decodes, it agrees field by field with tarfile's own decoder;
- a layer made of such a header (and whatever follows) is read to a LayerScan or refused
  with ImageError, never anything else; names that are not UTF-8 are kept, and escaped in
  the evidence.
"""

from __future__ import annotations

import io
import tarfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assessor import jsonsafe
from assessor.collectors.image import fs
from assessor.collectors.image.layer import _bounded_tarinfo, scan_layer
from assessor.collectors.image.stream import Budget, digest_of
from assessor.collectors.limits import Limits, parse_limits
from assessor.errors import ImageError
from assessor.evidence import canonical_json

LIMIT = 1 << 20
Reader = _bounded_tarinfo(LIMIT, "layer")
HEADERS = (b"x", b"g", b"X", b"L", b"K")  # pax and GNU long-name headers
FIELDS = ("name", "mode", "uid", "gid", "size", "mtime", "chksum", "type", "linkname")
FIELDS += ("uname", "gname", "devmajor", "devminor")
ENC, ERRORS = "utf-8", "surrogateescape"


def _decode(block: bytes) -> tarfile.TarInfo | None:
    try:
        return Reader.frombuf(block, ENC, ERRORS)
    except tarfile.HeaderError:
        return None


def _same_as_tarfile(block: bytes) -> None:
    try:
        theirs: tarfile.TarInfo | None = tarfile.TarInfo.frombuf(block, ENC, ERRORS)
    except tarfile.HeaderError:
        theirs = None
    try:
        ours = _decode(block)
    except ImageError:  # refused before tarfile would read a header's data into memory
        assert theirs is not None and theirs.type in HEADERS and theirs.size > LIMIT
        return
    if theirs is not None and theirs.type in HEADERS:
        assert theirs.size <= LIMIT
    if theirs is None:
        assert ours is None
        return
    assert ours is not None
    for name in FIELDS:
        assert getattr(ours, name) == getattr(theirs, name), (name, block[:160])


def _read_layer(raw: bytes) -> None:
    limits = parse_limits(["max_ratio=50,ratio_floor=64K,max_entries=1000"])
    try:
        layer = scan_layer(
            io.BytesIO(raw).read,
            index=0,
            digest=digest_of(raw),
            size=len(raw),
            budget=Budget(limits),
            what="layer",
        )
        final = fs.merge([layer])
    except ImageError:
        return
    evidence = fs.file_evidence([layer], final, Limits())
    canonical_json(jsonsafe.escape_tree(evidence))


_names = st.one_of(
    st.text(min_size=1, max_size=120),
    st.binary(min_size=1, max_size=120).map(lambda b: b.decode(ENC, ERRORS)),
)
_kinds = st.sampled_from(
    [
        *(tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE),
        *(tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE, tarfile.CONTTYPE, b"Z"),
    ]
)


@st.composite
def _headers(draw: st.DrawFn) -> bytes:
    info = tarfile.TarInfo(draw(_names).replace("\0", ""))
    info.type = draw(_kinds)
    info.mode = draw(st.integers(0, 0o7777))
    info.uid = draw(st.integers(0, 1 << 21))
    info.gid = draw(st.integers(0, 1 << 21))
    info.size = draw(st.integers(0, 1 << 12)) if info.type in (b"0", b"\0", b"7") else 0
    info.mtime = draw(st.integers(0, 1 << 33))
    info.linkname = draw(_names).replace("\0", "") if info.type in (b"1", b"2") else ""
    fmt = draw(st.sampled_from([tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT]))
    try:
        return info.tobuf(fmt, ENC, ERRORS)
    except ValueError:  # ustar cannot hold a long name: write it in GNU form instead
        return info.tobuf(tarfile.GNU_FORMAT, ENC, ERRORS)


def _rechecksum(block: bytearray) -> None:
    """Make the header's checksum right again, so that a mutation reaches the field parsing."""
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % (sum(block) & 0o777777)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=512, max_size=512))
def test_any_block_decodes_or_is_a_header_error(block: bytes) -> None:
    _same_as_tarfile(block)


@settings(max_examples=500, deadline=None)
@given(
    header=_headers(),
    edits=st.lists(st.tuples(st.integers(0, 511), st.integers(0, 255)), max_size=6),
    recheck=st.booleans(),
)
def test_mutated_headers_decode_as_tarfile_decodes_them(
    header: bytes, edits: list[tuple[int, int]], recheck: bool
) -> None:
    block = bytearray(header[:512])
    for pos, value in edits:
        block[pos] = value
    if recheck:
        _rechecksum(block)
    _same_as_tarfile(bytes(block))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=_headers(),
    edits=st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 255)), max_size=6),
    recheck=st.booleans(),
)
def test_a_layer_of_any_header_is_read_or_refused(
    header: bytes, edits: list[tuple[int, int]], recheck: bool
) -> None:
    raw = bytearray(header + bytes(-len(header) % 512) + bytes(4096) + bytes(1024))
    for pos, value in edits:
        raw[pos % len(raw)] = value
    if recheck:
        first = raw[:512]
        _rechecksum(first)
        raw[:512] = first
    _read_layer(bytes(raw))


def test_names_that_are_not_utf8_are_kept_and_escaped() -> None:
    name = b"etc/\xff\xfe".decode(ENC, ERRORS)
    info = tarfile.TarInfo(name)
    info.mode = 0o4755
    block = info.tobuf(tarfile.USTAR_FORMAT, ENC, ERRORS)
    assert Reader.frombuf(block, ENC, ERRORS).name == name
    raw = block + bytes(1024)
    layer = scan_layer(
        io.BytesIO(raw).read, index=0, digest=digest_of(raw), size=len(raw),
        budget=Budget(Limits()), what="layer",
    )  # fmt: skip
    assert name in layer.entries  # the exact bytes, never merged with another name
    evidence = jsonsafe.escape_tree(fs.file_evidence([layer], fs.merge([layer]), Limits()))
    assert [i["path"] for i in evidence["files"]["setuid"]["items"]] == ["/etc/\\xff\\xfe"]
    canonical_json(evidence)


def test_oversized_extended_header_is_refused_before_its_data_is_read() -> None:
    """A pax or GNU long-name header claiming more than max_header_bytes is refused from its
    512-byte block alone: the layer holds no data after it, so reading any of it would be a
    truncation error instead. (Octal and base-256 sizes: both decoders.)"""
    limits = parse_limits(["max_header_bytes=64K"])
    for kind in HEADERS:
        for size, fmt in ((4 << 30, tarfile.USTAR_FORMAT), (1 << 40, tarfile.GNU_FORMAT)):
            info = tarfile.TarInfo("././@PaxHeader")
            info.type, info.size = kind, size
            read = io.BytesIO(info.tobuf(fmt, ENC, ERRORS) + bytes(1024)).read
            with pytest.raises(ImageError, match=r"max_header_bytes \(65536\)"):
                scan_layer(read, index=0, digest=None, size=None, budget=Budget(limits), what="L")
