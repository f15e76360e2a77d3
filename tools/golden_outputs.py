"""Every output of one stored assessment, to check that a refactor changes none of them.

    python tools/golden_outputs.py stage DB            # scan host, sample image, engine into DB
                                                      # (plus a waiver and an attestation)
    python tools/golden_outputs.py write DB OUTDIR     # every export and the report of its latest
    python tools/golden_outputs.py compare DIR1 DIR2   # byte for byte; exit 1 on a difference

``write`` runs the real CLI (``python -m assessor``, so PYTHONPATH picks the code under test)
with SOURCE_DATE_EPOCH fixed, so the report's date is the same in both runs. The PDF is
compared by its text (``pdftotext -layout``) and page count, since a PDF carries its own
creation time; the HTML report and every export are compared as bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOCKET = "/var/run/docker.sock"
EPOCH = "1790000000"  # 2026-09-21, any fixed moment
EXPORTS = [
    ("json", "export.json", []),
    ("csv", "export.csv", []),
    ("sarif", "export.sarif", []),
    ("sarif", "export-all.sarif", ["--all"]),
    ("junit", "junit.xml", []),
    ("xccdf", "xccdf.xml", []),
    ("arf", "arf.xml", []),
    ("oscal", "oscal.json", []),
]


def cli(db: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH, "ASSESSOR_DB": db, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "assessor", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )


def must(r: subprocess.CompletedProcess[str], ok: tuple[int, ...] = (0,)) -> str:
    if r.returncode not in ok:
        raise SystemExit(f"{r.args[3:]} exited {r.returncode}: {r.stderr.strip()[-400:]}")
    return r.stdout


def _containers(label: str) -> None:
    """Two labelled containers on the local engine, so container rules have resources."""
    sys.path.insert(0, str(ROOT))
    from tests.conftest import busybox_rootfs_tar

    image = f"assessor-golden/busybox:{label}"
    subprocess.run(
        ["docker", "import", "--change", f"LABEL assessor.test={label}", "-", image],
        input=busybox_rootfs_tar(),
        check=True,
        capture_output=True,
    )
    for name, flags in (("plain", []), ("loose", ["--pid=host", "-p", "18099:80"])):
        subprocess.run(
            ["docker", "run", "-d", "--label", f"assessor.test={label}", "--name",
             f"golden-{name}-{label}", *flags, image, "sleep", "3600"],
            check=True, capture_output=True,
        )  # fmt: skip


def _remove(label: str) -> None:
    ids = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=assessor.test={label}"],
        capture_output=True, text=True, check=False,
    ).stdout.split()  # fmt: skip
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, check=False)
    subprocess.run(
        ["docker", "rmi", f"assessor-golden/busybox:{label}"], capture_output=True, check=False
    )


def stage(db: str) -> None:
    label = hashlib.sha256(db.encode()).hexdigest()[:12]
    engine = os.path.exists(SOCKET)
    try:
        if engine:
            _containers(label)
        _stage(db)
    finally:
        if engine:
            _remove(label)


def _stage(db: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "sample-image"
        subprocess.run(
            [sys.executable, str(ROOT / "tools" / "sample_image.py"), str(image)], check=True
        )
        targets = ["host:/", f"image:oci:{image}"]
        if os.path.exists(SOCKET):
            targets.append(f"engine:unix://{SOCKET}")
        doc = json.loads(
            must(cli(db, "scan", *targets, "--system", "golden", "--format", "json"), (0, 1))
        )
    fails = sorted(r["rule"] for r in doc["results"] if r["status"] == "fail")
    expires = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=300)).isoformat()
    must(
        cli(db, "waive", fails[0], "--reason", "accepted <risk> & \"quoted\"", "--approver",
            "CISO", "--expires", expires, "--system", "golden")
    )  # fmt: skip
    must(
        cli(db, "attest", "nistir-8176:3.3", "--status", "pass", "--by", "auditor", "--note",
            "checked by hand", "--system", "golden", "--period", doc["assessment"]["period"])
    )  # fmt: skip
    print(f"staged assessment {doc['assessment']['id']} in {db}")


def write(db: str, out: Path) -> None:
    """Every output of the staged assessment, written from a copy of the database: a command
    migrates the database it opens, and one tree's migration must not change (or, from an older
    tree, refuse) the shared staged database."""
    path = Path(db.removeprefix("sqlite:///"))
    if "://" in db and not db.startswith("sqlite:///"):
        _write(db, out)
        return
    with tempfile.TemporaryDirectory(prefix="golden-") as tmp:
        copy = Path(tmp) / "g.db"
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)
        _write(str(copy), out)


def _write(db: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for fmt, name, extra in EXPORTS:
        must(cli(db, "export", "--format", fmt, "-o", str(out / name), *extra))
    must(cli(db, "results", "--format", "json"), (0, 1))
    (out / "results.json").write_text(cli(db, "results", "--format", "json").stdout)
    (out / "results.csv").write_text(cli(db, "results", "--format", "csv").stdout)
    must(cli(db, "report", "-o", str(out / "report.html"), "--organisation", "Golden"))
    must(cli(db, "report", "-o", str(out / "report.pdf"), "--organisation", "Golden"))
    text = subprocess.run(
        ["pdftotext", "-layout", str(out / "report.pdf"), "-"], capture_output=True, check=True
    ).stdout
    (out / "report.pdf.txt").write_bytes(text)
    (out / "report.pdf").unlink()
    for p in sorted(out.rglob("*")):
        if p.is_file():
            print(f"{hashlib.sha256(p.read_bytes()).hexdigest()[:16]}  {p.relative_to(out)}")


def compare(a: Path, b: Path) -> int:
    names = {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
    names |= {p.relative_to(b) for p in b.rglob("*") if p.is_file()}
    bad = 0
    for name in sorted(names):
        pa, pb = a / name, b / name
        if not pa.is_file() or not pb.is_file():
            print(f"only in one: {name}")
            bad += 1
        elif pa.read_bytes() != pb.read_bytes():
            print(f"differs: {name}")
            bad += 1
    print(f"{len(names) - bad} of {len(names)} files identical")
    return 1 if bad else 0


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["stage"] and len(args) == 2:
        stage(args[1])
    elif args[:1] == ["write"] and len(args) == 3:
        write(args[1], Path(args[2]))
    elif args[:1] == ["compare"] and len(args) == 3:
        raise SystemExit(compare(Path(args[1]), Path(args[2])))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
