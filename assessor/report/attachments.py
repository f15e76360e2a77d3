"""The files a report carries: attestation evidence files and the evidence documents its
findings cite, whole and byte for byte as stored.

A PDF embeds them as attachments (its PAdES signature covers them with the rest of the file).
An HTML report ships them in a folder beside it (``report.html`` -> ``report.files/``) and
lists each one with its SHA-256 and size in a manifest inside the HTML, so that the detached
signature over the HTML vouches for every shipped file; ``assessor verify`` checks them.

Names inside the PDF and the folder:

- ``attestations/<id>-<sha256[:12]>-<name>``: a file attached to attestation ``<id>`` (the
  name as given to ``assessor attest --evidence``, reduced to ``[A-Za-z0-9._-]``);
- ``evidence/<sha256>.json``: an evidence document as stored (canonical JSON, secrets
  redacted at collection); its SHA-256 is the one the results and the report name.

Bounded: at most ``MAX_SHIPPED_BYTES`` in all, attestation files first, then the evidence of
the findings, most severe first. What does not fit is left out, counted in ``omitted`` (the
report then says the document is in the assessment database).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from assessor.errors import AssessorError
from assessor.vocab import FINDING_STATUSES, severity_place

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from assessor.readmodel import AssessmentView
    from assessor.store import Store

MAX_SHIPPED_BYTES = 32 << 20  # all files of one report together
MANIFEST_ID = "assessor-shipped-files"
FOLDER_SUFFIX = ".files"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class ShippedFile:
    key: str  # "attestation:<id>:<sha256>" or "evidence:<sha256>" (ReportData.attachments)
    path: str  # relative, "/"-separated: in the folder, and the attachment's name in a PDF
    sha256: str
    description: str
    body: bytes

    @property
    def size(self) -> int:
        return len(self.body)


@dataclass
class Shipment:
    """What a report carries, and what the cap left out (key, bytes)."""

    files: list[ShippedFile] = field(default_factory=list)
    omitted: list[tuple[str, int]] = field(default_factory=list)
    cap: int = MAX_SHIPPED_BYTES

    @property
    def total(self) -> int:
        return sum(f.size for f in self.files)

    def hrefs(self, base: str) -> dict[str, str]:
        """key -> link: ``base/path`` (base "" : the path alone, as a PDF names it)."""
        prefix = f"{quote(base)}/" if base else ""
        return {f.key: prefix + quote(f.path) for f in self.files}


def safe_name(name: str, limit: int = 80) -> str:
    """A file name reduced to ``[A-Za-z0-9._-]`` (no leading dot), at most ``limit`` chars."""
    cleaned = _UNSAFE.sub("_", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).lstrip(".")
    if len(cleaned) > limit:  # keep the extension
        stem, dot, ext = cleaned.rpartition(".")
        ext = ext[:16] if dot else ""
        cleaned = (stem if dot else cleaned)[: limit - len(ext) - 1] + ("." + ext if ext else "")
    return cleaned or "file"


def folder_for(output_name: str) -> str:
    """The folder shipped beside an HTML report: ``report.html`` -> ``report.files``."""
    stem = output_name.rsplit(".", 1)[0] if "." in output_name else output_name
    return (stem or "report") + FOLDER_SUFFIX


def _cited(view: AssessmentView) -> list[str]:
    """Evidence the findings (failed, errored or waived results) cite, most severe first."""
    order: dict[str, tuple[int, int]] = {}
    for n, r in enumerate(view.results):
        if r.status not in FINDING_STATUSES or not r.evidence:
            continue
        rank = (severity_place(r.severity), n)
        if r.evidence not in order or rank < order[r.evidence]:
            order[r.evidence] = rank
    return sorted(order, key=order.__getitem__)


def collect(store: Store, view: AssessmentView, *, cap: int = MAX_SHIPPED_BYTES) -> Shipment:
    """Read the files to ship from the store, within ``cap`` bytes in all."""
    from sqlalchemy import select

    from assessor.store.models import Evidence

    out = Shipment(cap=cap)
    left = cap
    with store.session() as s:
        left = _attestation_files(s, view, out, left)
        chosen: dict[str, int] = {}  # sha256 -> its recorded size
        for sha in _cited(view):
            info = view.evidence.get(sha)
            size = info.size if info is not None else left + 1  # unknown: not shipped
            if size > left:
                out.omitted.append((f"evidence:{sha}", size))
                continue
            left -= size
            chosen[sha] = size
        bodies: dict[str, bytes] = {}
        order = list(chosen)
        for start in range(0, len(order), 500):  # bounded IN lists
            batch = order[start : start + 500]
            rows = s.execute(select(Evidence.hash, Evidence.body).where(Evidence.hash.in_(batch)))
            for h, b in rows:  # never more than the recorded size (+1 to see a longer body)
                bodies[h] = zlib.decompressobj().decompress(b, chosen[h] + 1)
    for sha in chosen:
        body = bodies.get(sha)
        if body is None:
            raise AssessorError(f"evidence {sha} is cited but not stored")
        _check(body, sha, f"evidence document {sha[:16]}")
        info = view.evidence.get(sha)
        kind = info.kind if info is not None else "evidence"
        out.files.append(
            ShippedFile(
                f"evidence:{sha}",
                f"evidence/{sha}.json",
                sha,
                f"{kind} evidence document, as stored (secrets redacted at collection)",
                body,
            )
        )
    return out


def _attestation_files(s: Session, view: AssessmentView, out: Shipment, left: int) -> int:
    """The attestations' files added to ``out`` (each once) while they fit in ``left`` bytes;
    returns the bytes left."""
    from assessor.audit.attestations import read_attachment

    seen: set[str] = set()
    for a in view.attestations:
        aid = int(a["id"])
        for e in a.get("evidence") or []:
            sha, name = str(e.get("sha256", "")), str(e.get("name", ""))
            key = f"attestation:{aid}:{sha}"
            if key in seen:  # the same file given twice to one attestation: ship it once
                continue
            seen.add(key)
            size = int(e.get("size", 0))
            if size > left:
                out.omitted.append((key, size))
                continue
            body = read_attachment(s, sha)
            if body is None:
                raise AssessorError(f"attestation {aid}: evidence file {sha} is not stored")
            _check(body, sha, f"attestation {aid}'s file {name!r}")
            left -= len(body)
            out.files.append(
                ShippedFile(
                    key,
                    f"attestations/{aid}-{sha[:12]}-{safe_name(name)}",
                    sha,
                    f"evidence of attestation {aid} ({a.get('framework')} "
                    f"{a.get('requirement')}): {name}",
                    body,
                )
            )
    return left


def _check(body: bytes, sha: str, what: str) -> None:
    if hashlib.sha256(body).hexdigest() != sha:
        raise AssessorError(f"{what}: the stored bytes do not match its SHA-256 (damaged store?)")


def _size(n: int) -> str:
    return (
        f"{n / 2**20:.1f} MiB"
        if n >= 2**20
        else f"{n / 2**10:.0f} KiB"
        if n >= 2**10
        else f"{n} bytes"
    )


def note_html(shipment: Shipment, where: str) -> str:
    """A paragraph for the end of the report: what is attached (``where``: "in this PDF's
    attachments" or "in the folder X beside this file"), and what the cap left out."""
    parts = [
        f"Attached to this report {escape(where)}: {len(shipment.files)} file"
        f"{'s' if len(shipment.files) != 1 else ''} ({_size(shipment.total)}): the evidence "
        "files of the attestations (<code>attestations/ID-SHA256-NAME</code>) and the evidence "
        "documents the findings cite, as stored (<code>evidence/SHA256.json</code>)."
    ]
    if shipment.omitted:
        n, left = len(shipment.omitted), sum(size for _, size in shipment.omitted)
        files, verb = ("file", "is") if n == 1 else ("files", "are")
        parts.append(
            f" <strong>{n} more {files} ({_size(left)}) {verb} not attached: the cap of "
            f"{_size(shipment.cap)} per report was reached</strong> (<code>assessor report "
            "--max-attached</code>); they stay in the assessment database under their SHA-256."
        )
    return f'<p class="small" id="attachments-note">{"".join(parts)}</p>\n'


# -- the manifest inside an HTML report ------------------------------------------------------


def manifest_html(files: Iterable[ShippedFile], folder: str) -> str:
    """A hidden list of the shipped files (path from the HTML's folder, SHA-256, size)."""
    items = "".join(
        f'<li data-sha256="{f.sha256}" data-size="{f.size}">{escape(folder + "/" + f.path)}</li>\n'
        for f in files
    )
    return (
        f'<ul id="{MANIFEST_ID}" hidden data-folder="{escape(folder)}" '
        f'aria-hidden="true">\n{items}</ul>\n'
    )


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    path: str
    sha256: str
    size: int


class _ManifestParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.folder: str | None = None
        self.entries: list[ManifestEntry] = []
        self.inside = False
        self.item: dict[str, str] | None = None
        self.text: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "ul" and a.get("id") == MANIFEST_ID:
            if self.folder is not None:
                self.problems.append("two manifests of shipped files")
            self.folder = a.get("data-folder", "")
            self.inside = True
        elif tag == "li" and self.inside:
            self.item, self.text = a, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "li" and self.inside and self.item is not None:
            sha, size = self.item.get("data-sha256", ""), self.item.get("data-size", "")
            if not _SHA256.fullmatch(sha) or not size.isdigit():
                self.problems.append(f"malformed manifest entry {''.join(self.text)!r}")
            else:
                self.entries.append(ManifestEntry("".join(self.text), sha, int(size)))
            self.item = None
        elif tag == "ul" and self.inside:
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self.item is not None:
            self.text.append(data)


def read_manifest(html: str) -> tuple[str | None, list[ManifestEntry], list[str]]:
    """(folder or None when the HTML ships nothing, entries, problems) of a report's manifest."""
    parser = _ManifestParser()
    parser.feed(html)
    parser.close()
    return parser.folder, parser.entries, parser.problems


# -- the folder beside an HTML report --------------------------------------------------------

_OURS = ("evidence", "attestations", "hosts")


def _is_ours(folder: Path) -> bool:
    """Whether ``folder`` holds only what a report writes (evidence/, attestations/, files)."""
    for entry in folder.iterdir():
        if entry.name not in _OURS or entry.is_symlink() or not entry.is_dir():
            return False
        for f in entry.iterdir():
            if f.is_symlink() or not f.is_file():
                return False
    return True


def write_folder(html_path: Path, files: Iterable[ShippedFile]) -> Path:
    """Write ``files`` to the folder beside ``html_path`` as a whole, replacing an earlier one
    (a symlink there is replaced, never followed; a folder assessor did not write is refused).
    With no files, an earlier folder is removed: it would no longer match the report."""
    dest = html_path.parent / folder_for(html_path.name)
    files = list(files)
    if dest.is_symlink() or dest.is_file():
        old: Path | None = dest
    elif dest.is_dir():
        if not _is_ours(dest):
            raise AssessorError(
                f"{dest}: exists and holds files that assessor did not write; not replacing it",
                hint="move it away, or write the report under another name",
            )
        old = dest
    else:
        old = None
    new: Path | None = None
    if files:
        new = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=html_path.parent))
        try:
            os.chmod(new, 0o755)  # noqa: S103 - a report's files are as readable as the report
            for f in files:
                target = new / f.path
                target.parent.mkdir(mode=0o755, exist_ok=True)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
                with os.fdopen(fd, "wb") as out:
                    out.write(f.body)
        except OSError as e:
            shutil.rmtree(new, ignore_errors=True)
            raise AssessorError(f"{dest}: cannot write the report's files: {e.strerror}") from e
    if old is not None:
        aside = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old.", dir=html_path.parent))
        os.replace(old, aside / "x")
        if new is not None:
            os.replace(new, dest)
        shutil.rmtree(aside, ignore_errors=True)
    elif new is not None:
        os.replace(new, dest)
    return dest
