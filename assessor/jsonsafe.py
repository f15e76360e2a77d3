"""Bounded JSON for untrusted documents, and JSON-safe text for names that are bytes.

Every JSON document a target hands over (image manifests, configs and indexes, registry
answers, Engine API answers, an offline root's daemon.json) is parsed by `loads`, which
bounds what the standard parser leaves open:

- **size**: ``max_bytes`` (callers pass the limit they already have);
- **nesting**: at most ``max_depth`` (64) arrays and objects inside each other; the standard
  parser recurses once per level and ends in RecursionError past about a thousand;
- **integers**: at most ``max_digits`` (64) digits; Python refuses to convert more than 4300
  and a thousand-digit number is no byte count anyone means;
- **non-finite numbers**: ``NaN``, ``Infinity`` and overflowing floats (``1e999``) are
  refused, since canonical JSON (evidence hashing) cannot write them back.

A document over a bound raises `JSONBoundError` (a ValueError, so callers that already catch
malformed JSON keep working) whose message says which bound, e.g. ``JSON nested deeper than
64 levels``; callers prefix the target and file.

Names that are bytes. File names on Linux are bytes, and Python keeps the bytes that are not
UTF-8 as lone surrogates (``os.fsdecode``, tarfile's ``surrogateescape``), which no UTF-8
encoder accepts. Internally assessor keeps those exact strings (so two names never merge);
at the edge of evidence, `escape` writes each such byte as the four characters ``\\xHH``
(``b"etc/\\xff\\xfe"`` becomes ``etc/\\xff\\xfe``), the convention of Python's
``backslashreplace`` and of GNU tools. It is a display form: a name that holds the text
``\\xff`` itself reads the same.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

MAX_DEPTH = 64
MAX_DIGITS = 64

_ESCAPED = re.compile(rb"\\.", re.DOTALL)  # a backslash and the byte it escapes
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DELTA = [1 if b in (0x5B, 0x7B) else -1 for b in range(256)]
_ANY_SURROGATE = re.compile(r"[\ud800-\udfff]")
# a surrogate escaped ("\udcff") or written as UTF-8-like bytes: two searches, each led by a
# literal the regex engine skips to in C (one alternation of both scanned every byte, ~1 ms
# per 100 KB)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE_BYTES = re.compile(rb"\xed[\xa0-\xbf]")
_DIGIT_MAP = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))


class JSONBoundError(ValueError):
    """The document crosses one of the bounds (its message names which)."""


def _utf8(data: bytes | str) -> bytes:
    """The document as UTF-8 bytes: the characters the parser will see, whatever the input."""
    if isinstance(data, str):
        return data.encode("utf-8", "surrogatepass")
    encoding = json.detect_encoding(data)
    if encoding.startswith(("utf-16", "utf-32")):
        return data.decode(encoding, "surrogatepass").encode("utf-8", "surrogatepass")
    return data


def skeleton(data: bytes | str) -> bytes:
    """The document outside its strings (escapes dropped, then every other quote-split part).

    Linear, and every step runs in C: no regular expression that could backtrack."""
    raw = _utf8(data)
    if b"\\" in raw:
        raw = _ESCAPED.sub(b"", raw)
    if b'"' not in raw:
        return raw
    return b"".join(raw.split(b'"')[::2])


def depth(data: bytes | str) -> int:
    """How deep arrays and objects nest in the document (0 for a scalar), in linear time."""
    brackets = skeleton(data).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(0, max(accumulate(map(_DELTA.__getitem__, brackets))))


def loads(
    data: bytes | bytearray | str,
    *,
    max_bytes: int | None = None,
    max_depth: int = MAX_DEPTH,
    max_digits: int = MAX_DIGITS,
) -> Any:
    """``json.loads`` within bounds; raises ValueError (JSONBoundError past a bound)."""
    if isinstance(data, bytearray):
        data = bytes(data)
    if max_bytes is not None and len(data) > max_bytes:
        raise JSONBoundError(f"JSON document larger than {max_bytes} bytes")
    raw = _utf8(data)
    outside = skeleton(raw)
    brackets = outside.translate(None, _NOT_BRACKETS)
    if brackets and max(accumulate(map(_DELTA.__getitem__, brackets))) > max_depth:
        raise JSONBoundError(f"JSON nested deeper than {max_depth} levels")
    # every digit as "0", the rest as " ": a run too long is then one substring search in C
    # (a regular expression tried each digit in turn, ~0.7 ms per 100 KB)
    if b"0" * (max_digits + 1) in outside.translate(_DIGIT_MAP):
        long = re.search(rb"[0-9]{%d,}" % (max_digits + 1), outside)
        assert long is not None
        raise JSONBoundError(f"JSON number of {len(long.group(0))} digits (more than {max_digits})")

    def parse_float(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise JSONBoundError(f"JSON number {text[:40]} is out of range")
        return value

    def parse_constant(text: str) -> Any:
        raise JSONBoundError(f"JSON constant {text} is not JSON")

    try:
        doc = json.loads(data, parse_float=parse_float, parse_constant=parse_constant)
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise JSONBoundError(f"JSON nested deeper than {max_depth} levels") from None
    # "\\udcff" escapes (or surrogates written as bytes) make strings no UTF-8 encoder takes
    if _SURROGATE_ESCAPE.search(raw) or _SURROGATE_BYTES.search(raw):
        doc = escape_tree(doc)
    return doc


def has_surrogates(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (a byte that was not UTF-8), in one C scan."""
    return _ANY_SURROGATE.search(text) is not None


def escape(text: str) -> str:
    """``text`` as valid UTF-8 text: each byte kept as a lone surrogate becomes ``\\xHH``.

    Other lone surrogates (which no file name decodes to) become ``\\u`` and their four
    hex digits."""
    if not _ANY_SURROGATE.search(text):
        return text

    def one(m: re.Match[str]) -> str:
        c = ord(m.group(0))
        return f"\\x{c - 0xDC00:02x}" if 0xDC80 <= c <= 0xDCFF else f"\\u{c:04x}"

    return _ANY_SURROGATE.sub(one, text)


def escape_tree(value: Any) -> Any:
    """A JSON tree with every string (keys too) made valid UTF-8 by `escape`.

    Returns the same objects when nothing needs escaping (the common case costs one walk)."""
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, dict):
        out: dict[Any, Any] | None = None
        for k, v in value.items():
            k2 = escape(k) if isinstance(k, str) else k
            v2 = escape_tree(v)
            if out is None and (k2 is not k or v2 is not v):
                out = {}
                for k0, v0 in value.items():
                    if k0 is k:
                        break
                    out[k0] = v0
            if out is not None:
                out[k2] = v2
        return value if out is None else out
    if isinstance(value, list | tuple):
        items = [escape_tree(v) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return items
    return value


__all__ = ["MAX_DEPTH", "MAX_DIGITS", "JSONBoundError", "depth", "escape", "escape_tree", "loads"]
