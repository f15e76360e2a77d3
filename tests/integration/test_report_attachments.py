"""The files a report carries: attestation evidence files and the evidence documents its
findings cite, as stored, embedded in the signed PDF or shipped beside the signed HTML.

A real assessment (this host and the sample image, scanned by the CLI) with a manual
requirement attested with two evidence files; the report is written by ``assessor report``
and checked with poppler's ``pdfdetach`` and ``pdfsig`` and with ``assessor verify``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import zlib
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.conftest import ROOT, missing, run_cli

ATTESTED = "cis-docker-1.8.0:5.9"
BIG = 2 << 20  # an attestation file larger than the 1 MiB cap of the cap test


@dataclass
class Attached:
    db: str
    env: dict[str, str]
    tmp: Path
    attestation: int
    files: dict[str, bytes]  # sha256 -> bytes of each attestation evidence file
    names: dict[str, str]  # sha256 -> file name as given
    cited: dict[str, bytes]  # sha256 -> canonical JSON of each evidence a finding cites

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        run = run_cli(*args, db=self.db, env=self.env, cwd=self.tmp, timeout=300)
        return subprocess.CompletedProcess(args, run.code, run.out, run.err)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(f"{name} (poppler-utils)")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def attached(tmp_path_factory: pytest.TempPathFactory) -> Attached:
    from sqlalchemy import select

    from assessor.store import open_store
    from assessor.store.models import Evidence, Result

    tmp = tmp_path_factory.mktemp("attached")
    image = tmp / "image"
    subprocess.run(
        [sys.executable, str(ROOT / "tools/sample_image.py"), str(image)], check=True, timeout=60
    )
    db = f"sqlite:///{tmp / 'assessor.db'}"
    env = {"ASSESSOR_KEY_DIR": str(tmp / "keys"), "ASSESSOR_KEY_PASSPHRASE": ""}
    scan = run_cli("scan", "host:/", f"image:oci:{image}", "--period", "2026-Q4", db=db)
    assert scan.code in (0, 1), scan.err
    assert run_cli("keys", "init", "--name", "Attachment Signer", env=env).code == 0
    note = tmp / 'policy "<b>" review.txt'  # a name a browser or a shell would misread
    note.write_bytes(b"Reviewed the container host policy.\n")
    big = tmp / "scan.bin"
    big.write_bytes(os.urandom(BIG))  # incompressible
    att = run_cli(
        "attest", ATTESTED, "--status", "pass", "--by", "Ann Auditor", "--note", "checked",
        "--evidence", str(note), "--evidence", str(big), "--period", "2026-Q4", db=db,
    )  # fmt: skip
    assert att.code == 0, att.err
    files = {hashlib.sha256(p.read_bytes()).hexdigest(): p.read_bytes() for p in (note, big)}
    names = {hashlib.sha256(p.read_bytes()).hexdigest(): p.name for p in (note, big)}
    store = open_store(db)
    try:
        with store.session() as s:
            hashes = set(
                s.scalars(
                    select(Result.evidence_hash).where(
                        Result.status.in_(("fail", "error")), Result.evidence_hash.is_not(None)
                    )
                )
            )
            rows = s.execute(select(Evidence.hash, Evidence.body).where(Evidence.hash.in_(hashes)))
            cited = {h: zlib.decompress(b) for h, b in rows}
    finally:
        store.close()
    assert len(cited) >= 2, "the host and the image both fail rules"
    return Attached(db, env, tmp, int(att.out.strip()), files, names, cited)


def _detach(pdf: Path, into: Path) -> dict[str, bytes]:
    """{name: bytes} of every embedded file, by pdfdetach -list / -saveall."""
    listing = subprocess.run(
        [_tool("pdfdetach"), "-list", str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    names = re.findall(r"^\d+: (.+)$", listing, re.MULTILINE)
    into.mkdir()
    out: dict[str, bytes] = {}
    for n in range(1, len(names) + 1):
        dest = into / str(n)
        subprocess.run(
            [_tool("pdfdetach"), "-save", str(n), "-o", str(dest), str(pdf)],
            check=True,
            capture_output=True,
        )
        out[names[n - 1]] = dest.read_bytes()
    assert len(out) == len(names), "names are unique"
    return out


def _expected_names(a: Attached) -> dict[str, bytes]:
    want = {f"evidence/{sha}.json": body for sha, body in a.cited.items()}
    for sha, body in a.files.items():
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", a.names[sha])
        want[f"attestations/{a.attestation}-{sha[:12]}-{safe}"] = body
    return want


def test_signed_pdf_embeds_attestation_files_and_cited_evidence(
    attached: Attached, tmp_path: Path
) -> None:
    pdf = tmp_path / "report.pdf"
    run = attached.cli("report", "-o", str(pdf), "--sign")
    assert run.returncode == 0, run.stderr
    got = _detach(pdf, tmp_path / "detached")
    want = _expected_names(attached)
    assert set(got) == set(want), set(got) ^ set(want)
    for name, body in want.items():
        assert got[name] == body, f"{name}: not the stored bytes"
        sha = name.split("/")[1].split("-")[1] if name.startswith("att") else name[9:-5]
        assert hashlib.sha256(got[name]).hexdigest().startswith(sha), name
    assert f"{len(want)} file(s) attached" in run.stderr
    text = subprocess.run(
        [_tool("pdftotext"), str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    said = " ".join(text.split())
    assert f"Attached to this report in this PDF's attachments: {len(want)} files" in said

    sig = subprocess.run(
        [_tool("pdfsig"), str(pdf)], capture_output=True, text=True, timeout=60, check=False
    ).stdout
    assert "Signature is Valid" in sig and "Total document signed" in sig, sig
    verify = attached.cli("verify", str(pdf))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.startswith("VALID")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href and not href.startswith(("#", "data:")):
            self.hrefs.append(href)


def test_signed_html_ships_its_files_and_verify_checks_every_one(
    attached: Attached, tmp_path: Path
) -> None:
    html = tmp_path / "report.html"
    run = attached.cli("report", "-o", str(html), "--sign")
    assert run.returncode == 0, run.stderr
    folder = tmp_path / "report.files"
    shipped = {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }
    assert shipped == _expected_names(attached)
    links = _Links()
    links.feed(html.read_text(encoding="utf-8"))
    assert links.hrefs, "the report links to its attachments"
    for href in links.hrefs:  # every link in the report is relative and leads to a file
        assert href.startswith("report.files/"), href
        assert (tmp_path / unquote(href)).is_file(), href
    for sha in attached.files:  # each attestation file is linked from the report
        assert any(f"-{sha[:12]}-" in h for h in links.hrefs), attached.names[sha]

    def verify() -> subprocess.CompletedProcess[str]:
        return attached.cli("verify", str(html))

    ok = verify()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"its {len(shipped)} shipped file(s) match" in ok.stdout

    target = folder / next(k for k in shipped if k.startswith("evidence/"))
    original = target.read_bytes()
    target.write_bytes(original.replace(b"{", b"{ ", 1))  # one byte more
    bad = verify()
    assert bad.returncode == 1 and "changed after signing" in bad.stdout, bad.stdout
    target.unlink()
    bad = verify()
    assert bad.returncode == 1 and "missing" in bad.stdout, bad.stdout
    target.symlink_to(html)  # a link in its place is not the file
    bad = verify()
    assert bad.returncode == 1, bad.stdout
    target.unlink()
    target.write_bytes(original)
    assert verify().returncode == 0
    extra = folder / "evidence" / "planted.json"
    extra.write_bytes(b"{}")
    bad = verify()
    assert bad.returncode == 1 and "not listed in the signed report" in bad.stdout, bad.stdout
    extra.unlink()
    assert verify().returncode == 0


def test_cap_leaves_files_out_and_says_so(attached: Attached, tmp_path: Path) -> None:
    html = tmp_path / "capped.html"
    full = attached.cli("report", "-o", str(html))
    assert full.returncode == 0, full.stderr
    assert (tmp_path / "capped.files").is_dir()
    capped = attached.cli("report", "-o", str(html), "--max-attached", "1")
    assert capped.returncode == 0, capped.stderr
    assert "left out: the 1 MiB cap was reached" in capped.stderr
    shipped = [p.name for p in (tmp_path / "capped.files").rglob("*") if p.is_file()]
    big = next(sha for sha, body in attached.files.items() if len(body) == BIG)
    assert not any(big[:12] in n for n in shipped), "the 2 MiB file is over the 1 MiB cap"
    assert len(shipped) == len(_expected_names(attached)) - 1
    page = html.read_text(encoding="utf-8")
    assert big[:12] not in page.split("assessor-shipped-files")[1]
    said = " ".join(page.split())
    assert (
        "1 more file (2.0 MiB) is not attached: the cap of 1.0 MiB per report was reached" in said
    )
    none = attached.cli("report", "-o", str(html), "--max-attached", "0")
    assert none.returncode == 0, none.stderr
    assert not (tmp_path / "capped.files").exists(), "a folder that no longer matches is removed"


def test_a_folder_assessor_did_not_write_is_never_replaced(
    attached: Attached, tmp_path: Path
) -> None:
    mine = tmp_path / "report.files"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    run = attached.cli("report", "-o", str(tmp_path / "report.html"))
    assert run.returncode == 2, run.stderr
    assert "did not write" in run.stderr
    assert (mine / "notes.txt").read_text() == "mine"
