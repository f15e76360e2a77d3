"""Evidence documents: what a collector observed, canonical JSON, SHA-256, secret redaction.

An evidence document is ``{kind, target, resource, data, redactions}``. Its hash is the
SHA-256 of that document's canonical JSON (sorted keys, no spaces, UTF-8), so the same
observation is stored once however many assessments share it. ``collected_at`` is kept
beside the document (on the link from an assessment's target to the evidence), not in it.

Secrets are redacted *before* an Evidence exists: each collector redacts what it knows the
meaning of (environment, labels, command lines, config files), and constructing an Evidence
sweeps every string of its data once more by shape (:meth:`Redactor.sweep`). A secret becomes
``<redacted: KIND, N chars>``; the document's ``redactions`` keep where it was, the name or
format it was found by, its kind and, for values of 16+ characters, a fingerprint (see
:data:`FINGERPRINT_MIN_CHARS`), never the value. Detection is in :mod:`assessor.redact`.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import json
from dataclasses import InitVar, dataclass, field
from datetime import UTC, datetime
from typing import Any

from assessor import jsonsafe
from assessor.redact import (
    MARKER,
    Hit,
    argv_hits,
    detect,
    find,
    is_placeholder,
    key_kind,
    looks_random,
    marker,
    merge,
    shell_hits,
)

JSON = Any  # a JSON value: dict, list, str, int, float, bool or None

# Fingerprints are kept only for values this long. A fingerprint is the first 48 bits of the
# value's SHA-256, in a document anyone holding the signed report can read: for a short
# password (most human ones are under 16 characters) an offline dictionary or brute-force
# search over candidate values finds the one whose fingerprint matches in minutes. A value of
# 16+ characters is mostly a generated key or token, out of reach of such a search, and its
# fingerprint lets a reviewer see the same secret recur across resources.
FINGERPRINT_MIN_CHARS = 16


def fingerprint(value: str) -> str:
    """A short, stable fingerprint of a secret: enough to see it recur, not to recover it."""
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def secret_fingerprint(value: str) -> str | None:
    """The fingerprint of a secret of :data:`FINGERPRINT_MIN_CHARS` or more, else None."""
    return fingerprint(value) if len(value) >= FINGERPRINT_MIN_CHARS else None


@dataclass(frozen=True, slots=True)
class Redaction:
    """Where a secret was found and removed: the place, the name or format it was found by,
    its kind (:data:`assessor.redact.KINDS`) and, for long values, a fingerprint.

    Documents stored before kinds existed have ``kind`` None and a fingerprint always; they
    are rebuilt as they were written, so their hash does not change."""

    location: str
    key: str
    fingerprint: str | None
    kind: str | None = None

    def to_json(self) -> dict[str, str | None]:
        if self.kind is None:
            return {"location": self.location, "key": self.key, "fingerprint": self.fingerprint}
        return {
            "location": self.location,
            "key": self.key,
            "kind": self.kind,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Redaction:
        fp = doc.get("fingerprint")
        kind = doc.get("kind")
        return cls(
            str(doc["location"]),
            str(doc["key"]),
            None if fp is None else str(fp),
            None if kind is None else str(kind),
        )


Spans = list[tuple[int, int, str, str]]  # (start, end, kind, key) of secrets in a string


@dataclass(slots=True)
class Redactor:
    """Collects redactions while a collector builds one evidence document.

    Structured values are redacted by their name (``env``, ``mapping``, ``tree``,
    ``key_value``), command lines by their programs' flags (``args``, ``shell``,
    ``healthcheck``), and every string by the shape of what it holds (``text``; ``sweep``
    walks a whole document). A secret becomes ``<redacted: KIND, N chars>``.
    """

    found: list[Redaction] = field(default_factory=list)

    def _record(self, location: str, key: str, kind: str, value: str) -> str:
        # a place or a name can hold a secret too (a label key that is a URL with a password)
        self.found.append(Redaction(_clean(location), _clean(key), secret_fingerprint(value), kind))
        return marker(kind, value)

    def _apply(self, value: str, hits: list[Hit], location: str) -> str:
        if not hits:
            return value
        out: list[str] = []
        pos = 0
        for h in merge(hits):
            secret = value[h.start : h.end]
            if not secret or MARKER in secret:
                continue
            out.append(value[pos : h.start])
            out.append(self._record(location, h.key, h.kind, secret))
            pos = h.end
        out.append(value[pos:])
        return "".join(out)

    def text(self, value: str, location: str, key: str = "") -> str:
        """Redact the secrets inside free text by their shape (``key`` is unused: each
        secret is recorded under the name or format it was found by)."""
        return self._apply(value, find(value), location)

    def shell(self, value: str, location: str) -> str:
        """Redact a shell command line: its programs' secret flags, then every shape."""
        return self._apply(value, [*find(value), *shell_hits(value)], location)

    def key_value(self, key: str, value: str, location: str, always: bool = False) -> str:
        """Redact a value whose name says it is a secret, whole; else the secrets inside it.

        A weak name (a bare ``*_KEY``, ``*_AUTH``) redacts a value that looks random, or any
        value when ``always`` (environment entries and labels, where a name is a promise)."""
        kk = key_kind(key)
        if kk is not None and value and not is_placeholder(value):
            kind, strong = kk
            if strong or always or looks_random(value):
                shaped = find(value)  # a known format names the kind better than the name
                if len(shaped) == 1 and shaped[0].start == 0 and shaped[0].end == len(value):
                    kind = shaped[0].kind
                return self._record(location, key, kind, value)
        return self.text(value, location)

    def env(self, entries: list[str], location: str) -> list[str]:
        """Redact ``KEY=VALUE`` environment entries, keeping each key."""
        out: list[str] = []
        for entry in entries:
            key, sep, value = entry.partition("=")
            if not sep:
                out.append(self.text(entry, location))
            else:
                where = f"{location}.{key}"
                out.append(f"{key}={self.key_value(key, value, where, always=True)}")
        return out

    def tree(self, value: Any, location: str, key: str = "") -> Any:
        """Redact every secret-looking string in a nested JSON value (config files)."""
        if isinstance(value, dict):
            return {k: self.tree(v, f"{location}.{k}", str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.tree(v, f"{location}[{i}]", key) for i, v in enumerate(value)]
        if isinstance(value, str):
            return self.key_value(key, value, location)
        return value

    def args(self, argv: list[str], location: str, program: str | None = None) -> list[str]:
        """Redact a command's words (exec form): secret flags and their values, a known
        program's password flags (``mysql -pX``, ``curl -u user:pw``), ``NAME=VALUE`` words,
        ``sh -c`` strings, and every shape in each word. ``program`` names the program when
        ``argv`` holds only its arguments (``Cmd`` beside an ``Entrypoint``)."""
        found, nested = argv_hits(argv, program)
        spans: dict[int, list[Hit]] = {}
        for i, a, b, kind, key in found:
            spans.setdefault(i, []).append(Hit(a, b, kind, key))
        for i in nested:
            spans.setdefault(i, []).extend(shell_hits(argv[i]))
        return [
            self._apply(word, [*find(word), *spans.get(i, [])], location)
            for i, word in enumerate(argv)
        ]

    def healthcheck(self, test: list[str], location: str) -> list[str]:
        """Redact a health check's ``Test``: ``CMD-SHELL cmd`` (a shell string), ``CMD a b``
        (exec form) or ``NONE``."""
        if not test:
            return test
        if test[0] == "CMD-SHELL":
            return [test[0], *(self.shell(t, location) for t in test[1:])]
        if test[0] == "CMD":
            return [test[0], *self.args(test[1:], location)]
        return self.args(test, location)

    def mapping(self, values: dict[str, Any], location: str) -> dict[str, Any]:
        """Redact string values of a flat mapping (labels, options) by key and by shape."""
        return {
            k: self.key_value(k, v, f"{location}.{k}", always=True) if isinstance(v, str) else v
            for k, v in values.items()
        }

    def sweep(self, value: Any, location: str = "") -> Any:
        """Every string of a JSON value (dict keys too) with its secrets redacted by shape;
        the same objects back where nothing changed.

        The strings are joined by newlines and scanned once (a document of many short
        strings costs what one long text does); a secret is redacted in the string it starts
        in, up to that string's end. Only the containers on the way to a secret are rebuilt.
        """
        strings: list[str] = []
        sizes: dict[int, int] = {}  # id of a dict or list: how many strings it holds
        _collect(value, strings, sizes)
        if not strings:
            return value
        joined = "\n".join(strings)
        if jsonsafe.has_surrogates(joined):
            # bytes that are not UTF-8 (file names, hostile JSON) kept as lone surrogates:
            # written as \xHH here, whatever the collector did, so the document can be hashed
            # and stored (see assessor.jsonsafe)
            value = jsonsafe.escape_tree(value)
            strings = []
            sizes = {}
            _collect(value, strings, sizes)
            joined = "\n".join(strings)
        hits = detect(joined)
        if not hits:
            return value
        starts: list[int] = []
        pos = 0
        for s in strings:
            starts.append(pos)
            pos += len(s) + 1
        per: dict[int, list[Hit]] = {}
        for h in hits:
            # a secret is in the string it starts in; a span read on past that string's end
            # (a key block with no END line, an unclosed quote) stops there, unmerged with
            # what the next strings hold
            i = bisect.bisect_right(starts, h.start) - 1
            s0 = starts[i]
            end = min(h.end, s0 + len(strings[i]))
            if end > h.start:
                per.setdefault(i, []).append(Hit(h.start - s0, end - s0, h.kind, h.key))
        return _Rebuild(self, per, sizes).value(value, location)


class _Rebuild:
    """The sweep's second walk: strings numbered in the order :func:`_collect` met them."""

    def __init__(self, red: Redactor, per: dict[int, list[Hit]], sizes: dict[int, int]) -> None:
        self.red, self.per, self.sizes = red, per, sizes
        self.marked = sorted(per)
        self.n = 0

    def _untouched(self, value: Any) -> bool:
        """No string of this container has a secret: skip it whole."""
        size = self.sizes.get(id(value), 0)
        k = bisect.bisect_left(self.marked, self.n)
        if k < len(self.marked) and self.marked[k] < self.n + size:
            return False
        self.n += size
        return True

    def value(self, value: Any, location: str) -> Any:
        if isinstance(value, str):
            i = self.n
            self.n += 1
            return self.red._apply(value, self.per[i], location) if i in self.per else value
        if isinstance(value, dict):
            if self._untouched(value):
                return value
            out: dict[Any, Any] = {}
            for k, v in value.items():
                k2 = self.value(k, location) if isinstance(k, str) else k
                out[k2] = self.value(v, f"{location}.{k2}" if location else str(k2))
            return out
        if isinstance(value, list):
            if self._untouched(value):
                return value
            return [self.value(v, f"{location}[{i}]") for i, v in enumerate(value)]
        return value


@functools.lru_cache(maxsize=4096)
def _clean(name: str) -> str:
    """A location or key name with any secret in it replaced by its marker."""
    hits = find(name)
    if not hits:
        return name
    out: list[str] = []
    pos = 0
    for h in hits:
        out += [name[pos : h.start], marker(h.kind, name[h.start : h.end])]
        pos = h.end
    return "".join([*out, name[pos:]])


def _collect(value: Any, out: list[str], sizes: dict[int, int]) -> None:
    """Every string of a JSON value, dict keys before their values, in document order; and
    how many each dict and list holds."""
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        first = len(out)
        for k, v in value.items():
            if isinstance(k, str):
                out.append(k)
            _collect(v, out, sizes)
        sizes[id(value)] = len(out) - first
    elif isinstance(value, list):
        first = len(out)
        for v in value:
            _collect(v, out, sizes)
        sizes[id(value)] = len(out) - first


def canonical_json(value: JSON) -> bytes:
    """Canonical JSON: sorted keys, no insignificant space, UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Evidence:
    """One observation of one resource, already redacted."""

    kind: str
    target: str
    resource: str
    data: dict[str, Any]
    collected_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    redactions: tuple[Redaction, ...] = ()
    sweep: InitVar[bool] = True
    # the canonical JSON, made once: a scan or an ingest hashes each document to evaluate it,
    # to store it and to link it (a document is never changed once it exists: frozen, and its
    # data built before)
    _canonical: bytes | None = field(default=None, init=False, repr=False, compare=False)
    _sha256: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self, sweep: bool) -> None:
        """The last redaction every collector's document goes through: each string of
        ``data`` (keys too) and the resource's name lose what has a secret's shape, whatever
        the collector did before. Off only for documents rebuilt from the store (already
        swept, and their hash must not change)."""
        if not sweep:
            return
        red = Redactor()
        data = red.sweep(self.data)
        # the resource's name too (a container named like a token is listed in every report)
        resource = red.text(jsonsafe.escape(self.resource), "resource")
        target = jsonsafe.escape(self.target)
        if data is not self.data or resource != self.resource or target != self.target:
            object.__setattr__(self, "data", data)
            object.__setattr__(self, "resource", resource)
            object.__setattr__(self, "target", target)
            object.__setattr__(self, "redactions", (*self.redactions, *red.found))

    def document(self) -> dict[str, Any]:
        """The hashed document (``collected_at`` is kept beside it, see module doc)."""
        return {
            "kind": self.kind,
            "target": self.target,
            "resource": self.resource,
            "data": self.data,
            "redactions": [r.to_json() for r in self.redactions],
        }

    def canonical(self) -> bytes:
        body = self._canonical
        if body is None:
            body = canonical_json(self.document())
            object.__setattr__(self, "_canonical", body)
        return body

    @property
    def sha256(self) -> str:
        digest = self._sha256
        if digest is None:
            digest = hashlib.sha256(self.canonical()).hexdigest()
            object.__setattr__(self, "_sha256", digest)
        return digest

    @classmethod
    def from_document(cls, doc: dict[str, Any], collected_at: datetime | None = None) -> Evidence:
        """Rebuild evidence from a stored or fixture document."""
        return cls(
            kind=str(doc["kind"]),
            target=str(doc.get("target", "")),
            resource=str(doc["resource"]),
            data=dict(doc["data"]),
            collected_at=collected_at or datetime.now(UTC),
            redactions=tuple(Redaction.from_json(r) for r in doc.get("redactions", [])),
            sweep=False,
        )
