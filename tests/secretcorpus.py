"""Planted secrets: one unique random value per shape and place, and a search that finds them.

Every value is drawn fresh from ``secrets`` for each run and each place it is planted, so a hit
anywhere in the database, a report or an export can only come from a leak of that one
planting. Each planting keeps *needles*: the whole value and each of its random parts (the
password alone, not only the whole URL; each line of a PEM body; each part of a JWT), at
least 10 random characters each.

:class:`Finder` looks for every needle in a text under several decodings (raw, HTML/XML
entities, JSON string escapes, percent-encoding, and with line breaks, tags, soft hyphens and
zero-width spaces removed) and names where each was found. The image writers make
docker-archive and OCI layout images without a daemon.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import re
import secrets
import string
import tarfile
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ALNUM = string.ascii_letters + string.digits
UPPER = string.ascii_uppercase + string.digits
B64URL = ALNUM + "-_"
APR1 = "./" + ALNUM
MIN_NEEDLE = 10


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# --------------------------------------------------------------------------------------------
# Shapes: each returns (value, needles)


PUNCTUATION = "+=,.^!-_"  # safe unquoted in a shell word, in a URL's user info, after Password=
_MARKS = itertools.cycle(PUNCTUATION)  # in turn, so each run plants the same mark at each place


def password() -> tuple[str, list[str]]:
    """Two random halves around a punctuation mark (``=``, ``,``, ``!``...): a redactor that
    stops at the mark leaves the second half in clear, and the halves are needles too."""
    a, b = rand(12), rand(12)
    v = f"{a}{next(_MARKS)}{b}"
    return v, [v, a, b]


def password_with_slash_at() -> tuple[str, list[str]]:
    """A password holding ``/`` and ``@``: a naive URL pattern stops at either."""
    a, b, c = rand(12), rand(12), rand(12)
    return f"{a}/{b}@{c}", [f"{a}/{b}@{c}", a, b, c]


def aws_access_key() -> tuple[str, list[str]]:
    v = "AKIA" + rand(16, UPPER)
    return v, [v, v[4:]]


def aws_secret_key() -> tuple[str, list[str]]:
    v = rand(40, ALNUM + "+/")
    return v, [v]


def github_token() -> tuple[str, list[str]]:
    v = "ghp_" + rand(36)
    return v, [v, v[4:]]


def stripe_key() -> tuple[str, list[str]]:
    v = "sk_live_" + rand(24)
    return v, [v, v[8:]]


def slack_token() -> tuple[str, list[str]]:
    tail = rand(24)
    v = f"xoxb-{rand(11, string.digits)}-{rand(12, string.digits)}-{tail}"
    return v, [v, tail]


def google_api_key() -> tuple[str, list[str]]:
    v = "AIza" + rand(35, B64URL)
    return v, [v, v[4:]]


def jwt() -> tuple[str, list[str]]:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": rand(16)}).encode())
    payload = _b64url(json.dumps({"sub": rand(16), "scope": "admin"}).encode())
    sig = _b64url(secrets.token_bytes(32))
    v = f"{header}.{payload}.{sig}"
    return v, [v, header, payload, sig]


def high_entropy() -> tuple[str, list[str]]:
    v = secrets.token_urlsafe(32)
    return v, [v]


def apr1_users() -> tuple[str, list[str]]:
    """A traefik basic-auth users value: ``user:$apr1$salt$hash`` (two users)."""
    needles: list[str] = []
    users = []
    for user in ("admin", "ops"):
        salt, digest = rand(8, APR1), rand(22, APR1)
        users.append(f"{user}:$apr1${salt}${digest}")
        needles += [f"{salt}${digest}", digest]
    return ",".join(users), needles


def private_key_pem() -> tuple[str, list[str]]:
    """A fresh RSA private key, PKCS#8 PEM (``cryptography``)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, pem_needles(pem)


def pem_needles(pem: str) -> list[str]:
    """The random lines of a PEM body (the first line is nearly the same in every RSA key)."""
    body = [ln for ln in pem.splitlines() if ln and not ln.startswith("-----")]
    return [ln for ln in body[1:] if len(ln) >= MIN_NEEDLE]


def gcp_service_account() -> tuple[str, list[str]]:
    pem, needles = private_key_pem()
    key_id = secrets.token_hex(20)
    doc = {
        "type": "service_account",
        "project_id": "planted-project",
        "private_key_id": key_id,
        "private_key": pem,
        "client_email": "svc@planted-project.iam.gserviceaccount.com",
        "client_id": "1" + rand(20, string.digits),
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return json.dumps(doc), [key_id, *needles]


def uuid_token() -> tuple[str, list[str]]:
    """A token shaped as a UUID (Splunk HEC, many SaaS APIs)."""
    import uuid

    v = str(uuid.uuid4())
    return v, [v]


SHAPES = {
    f.__name__: f
    for f in (
        uuid_token,
        password,
        password_with_slash_at,
        aws_access_key,
        aws_secret_key,
        github_token,
        stripe_key,
        slack_token,
        google_api_key,
        jwt,
        high_entropy,
        apr1_users,
        private_key_pem,
        gcp_service_account,
    )
}


# --------------------------------------------------------------------------------------------
# Plantings and where to look for their redacted form


@dataclass(frozen=True)
class Spot:
    """Where, in one evidence document, the planted value sat: ``kind``, a substring of the
    resource, a path in ``data`` (str keys, int indices, or ``"KEY="`` to pick the Env entry
    of KEY), and a hint the ``redactions`` list must name (in a location or key)."""

    kind: str
    resource: str
    path: tuple[str | int, ...]
    hint: str
    file: bool = False  # a file in a layer: the image's secrets.items must name path[-1]


@dataclass
class Planting:
    shape: str
    where: str  # a human name of the place it was planted
    value: str
    needles: list[str]
    spots: list[Spot] = field(default_factory=list)
    in_target: bool = True  # False: given on the command line, not planted in a target
    encoded_at_source: set[str] = field(default_factory=set)  # needles not in clear there


@dataclass
class Corpus:
    plantings: list[Planting] = field(default_factory=list)

    def new(self, shape: str, where: str) -> Planting:
        value, needles = SHAPES[shape]()
        needles = sorted({n for n in needles if len(n) >= MIN_NEEDLE}, key=len, reverse=True)
        assert needles, shape
        p = Planting(shape, where, value, needles)
        self.plantings.append(p)
        return p

    def needles(self) -> Iterator[tuple[Planting, str]]:
        for p in self.plantings:
            for n in p.needles:
                yield p, n


# --------------------------------------------------------------------------------------------
# Searching


_JSON_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|[\"\\/bfnrt])")
_SIMPLE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _json_unescape(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        s = m.group(1)
        if s[0] == "u":
            return chr(int(s[1:], 16))
        return _SIMPLE.get(s, s)

    return _JSON_ESCAPE.sub(one, text)


def variants(text: str) -> list[tuple[str, str]]:
    """The text as written and as each kind of reader would decode it."""
    out = [("raw", text)]
    for name, fn in (
        ("html-unescaped", html.unescape),
        ("json-unescaped", _json_unescape),
        ("percent-decoded", urllib.parse.unquote),
    ):
        try:
            decoded = fn(text)
        except (ValueError, OverflowError):
            continue
        if decoded != text:
            out.append((name, decoded))
    both = html.unescape(_json_unescape(text))
    if all(both != t for _, t in out):
        out.append(("json+html-unescaped", both))
    # a long value wrapped over lines (PDF text), or broken by <wbr>, soft hyphens, zero-width
    # spaces: join it back (needles hold no space, so joining cannot make one by chance)
    compact = _BREAKS.sub("", _TAG.sub("", both))
    if all(compact != t for _, t in out):
        out.append(("joined", compact))
    blobs = base64_blobs(text)
    if blobs:
        out.append(("base64-decoded", blobs))
    return out


_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{40,}={0,2}")


def base64_blobs(text: str) -> str:
    """Every long base64 run decoded (and inflated when it is zlib or gzip data), one a line:
    an output that embedded evidence as base64 would otherwise hide it from a plain search."""
    import gzip
    import zlib

    out = []
    for m in _BASE64.finditer(text):
        run = m.group(0)
        try:
            data = base64.b64decode(run + "=" * (-len(run) % 4), altchars=b"-_")
        except ValueError:
            continue
        for inflate in (zlib.decompress, gzip.decompress):
            try:
                data = inflate(data)
                break
            except (OSError, EOFError, zlib.error):
                continue
        out.append(data.decode("utf-8", "replace"))
    return "\n".join(out)


_TAG = re.compile(r"<[^<>]{0,200}>")
_BREAKS = re.compile("[\\s\u00ad\u200b\u200c\u200d\u2060\ufeff]+")


class Finder:
    """Every needle of a corpus, looked for in texts: for each planting, the places it was
    found in and, inside a place, how (a JSON path, or the decoding that revealed it)."""

    def __init__(self, corpus: Corpus) -> None:
        self.pairs = list(corpus.needles())
        self.found: dict[tuple[str, str], dict[str, set[str]]] = {}

    def _hit(self, p: Planting, where: str, detail: str) -> None:
        self.found.setdefault((p.shape, p.where), {}).setdefault(where, set()).add(detail)

    def text(self, text: str, where: str, decode: bool = True) -> bool:
        """Look in a text (and, unless ``decode`` is False, its decodings); True when anything
        was found."""
        hit = False
        for how, t in variants(text) if decode else [("raw", text)]:
            for p, needle in self.pairs:
                if needle in t:
                    hit = True
                    places = self.found.get((p.shape, p.where), {})
                    if where not in places:  # a JSON path already says more
                        self._hit(p, where, "" if how == "raw" else how)
        return hit

    def data(self, raw: bytes, where: str, decode: bool = True) -> None:
        self.text(raw.decode("utf-8", "replace"), where, decode)

    def json_doc(self, doc: Any, where: str) -> None:
        """A parsed JSON document: hits name the JSON path of each string that holds them."""
        for path, s in _strings(doc, ""):
            for p, needle in self.pairs:
                if needle in s:
                    self._hit(p, where, path)

    def report(self, of: Corpus | None = None) -> list[str]:
        """One entry per leaked planting (of one corpus, or all): where it was planted, every
        place it was found."""
        keep = None if of is None else {(p.shape, p.where) for p in of.plantings}
        out = []
        for (shape, planted), places in sorted(self.found.items()):
            if keep is not None and (shape, planted) not in keep:
                continue
            lines = []
            for where, details in sorted(places.items()):
                shown = ", ".join(sorted(d for d in details if d))
                lines.append(f"{where}" + (f" at {shown}" if shown else ""))
            out.append(f"{shape} planted in {planted}\n      -> " + "\n      -> ".join(lines))
        return out


def _strings(doc: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield path + "." + str(k), str(k)
            yield from _strings(v, f"{path}.{k}")
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _strings(v, f"{path}[{i}]")
    elif isinstance(doc, str):
        yield path or ".", doc


def inflate_pdf_streams(pdf: bytes) -> Iterable[bytes]:
    """Every stream of a PDF, inflated when it is Flate-compressed (as pyHanko and WeasyPrint
    write them), else as stored."""
    import zlib

    for m in re.finditer(rb"stream\r?\n", pdf):
        start = m.end()
        end = pdf.find(b"endstream", start)
        if end < 0:
            continue
        chunk = pdf[start:end]
        try:
            yield zlib.decompressobj().decompress(chunk)
        except zlib.error:
            yield chunk


_PDF_UTF16 = re.compile(rb"<FEFF((?:[0-9A-Fa-f]{4})+)>")


def pdf_utf16_strings(pdf: bytes) -> str:
    """The PDF's UTF-16 hex strings (``<FEFF...>``: outline titles, metadata, annotations
    holding any non-ASCII character), decoded, one a line."""
    return "\n".join(
        bytes.fromhex(m.group(1).decode()).decode("utf-16-be", "replace")
        for m in _PDF_UTF16.finditer(pdf)
    )


# --------------------------------------------------------------------------------------------
# Image tarballs (docker-archive and OCI layout), written without a daemon


def tar_bytes(files: list[tuple[str, int, bytes | None]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, mode, data in files:
            info = tarfile.TarInfo(path)
            info.mtime = 1_767_225_600
            info.mode = mode
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def write_docker_archive(path: Path, config: dict[str, Any], layers: list[bytes], tag: str) -> None:
    """A `docker save`-style archive: manifest.json, the config, one ``<id>/layer.tar`` each."""
    config = {
        **config,
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{_sha(t)}" for t in layers]},
    }
    cfg = json.dumps(config).encode()
    cfg_name = _sha(cfg) + ".json"
    members: list[tuple[str, int, bytes | None]] = [(cfg_name, 0o644, cfg)]
    names = []
    for t in layers:
        lid = _sha(t)
        members += [
            (lid, 0o755, None),
            (f"{lid}/layer.tar", 0o644, t),
            (f"{lid}/VERSION", 0o644, b"1.0"),
        ]
        names.append(f"{lid}/layer.tar")
    manifest = [{"Config": cfg_name, "RepoTags": [tag], "Layers": names}]
    members.append(("manifest.json", 0o644, json.dumps(manifest).encode()))
    path.write_bytes(tar_bytes(members))


def write_oci_layout(root: Path, config: dict[str, Any], layers: list[bytes], ref: str) -> None:
    """An OCI image layout directory, its layers gzip-compressed."""
    import gzip

    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> dict[str, Any]:
        d = _sha(data)
        (blobs / d).write_bytes(data)
        return {"digest": f"sha256:{d}", "size": len(data)}

    config = {
        **config,
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{_sha(t)}" for t in layers]},
    }
    layer_descs = [
        {
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            **put(gzip.compress(t, mtime=0)),
        }
        for t in layers
    ]
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            **put(json.dumps(config).encode()),
        },
        "layers": layer_descs,
    }
    m = put(json.dumps(manifest).encode())
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                **m,
                "annotations": {"org.opencontainers.image.ref.name": ref},
            }
        ],
    }
    (root / "index.json").write_text(json.dumps(index))
