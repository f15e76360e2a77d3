"""The fleet report at 10, 100 and 1,000 hosts: render time and size, HTML and PDF.

Stores each fleet with tests/fleetdata.py (one assessment per host, as ingested bundles: a
host, its engine and 10 containers each, judged by the real catalog from captured evidence;
one host in twenty not reached) in a fresh SQLite database, then runs the command as a user
does, in a fresh process: ``assessor report --system fleet --period 2026-Q4 -o F.html`` (and
``-o F.pdf``). Prints, per fleet: wall time of each command, the HTML's size and that of its
folder of host files, the PDF's size and pages; and CPU time (user + system) of each command, since
wall time on a shared machine says little.

    .venv/bin/python tests/bench/bench_fleet_report.py                   # 10, 100, 1000 hosts
    .venv/bin/python tests/bench/bench_fleet_report.py --hosts 10 100    # a quick trial
    .venv/bin/python tests/bench/bench_fleet_report.py --keep DIR        # keep (and reuse) DBs
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.fleetdata import default_hosts, make_fleet  # noqa: E402


def _run(db: str, out: Path) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of the command, in a fresh process."""
    env = {**os.environ, "ASSESSOR_DB": db}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "assessor", "report", "--system", "fleet", "--period",
         "2026-Q4", "-o", str(out)],
        check=True, capture_output=True, env=env, timeout=3600,
    )  # fmt: skip
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _pages(pdf: Path) -> str:
    if shutil.which("pdfinfo") is None:
        return "?"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=False)
    return next((ln.split()[-1] for ln in info.stdout.splitlines() if ln.startswith("Pages")), "?")


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def bench(n: int, work: Path) -> None:
    db_file = work / f"fleet{n}.db"
    db = f"sqlite:///{db_file}"
    if not db_file.exists():
        t = time.perf_counter()
        make_fleet(db, default_hosts(n, containers=10, unreachable=max(1, n // 20)))
        print(f"{n} hosts stored in {time.perf_counter() - t:.1f} s", flush=True)
    html, pdf = work / f"fleet{n}.html", work / f"fleet{n}.pdf"
    (th, ch), (tp, cp) = _run(db, html), _run(db, pdf)
    folder = work / f"fleet{n}.files"
    print(
        f"{n:5d} hosts | HTML {th:6.1f} s ({ch:5.1f} s CPU), {_size(html) / 2**20:5.2f} MiB + "
        f"{_size(folder) / 2**20:6.2f} MiB in {sum(1 for _ in folder.rglob('*.html'))} host "
        f"files | PDF {tp:6.1f} s ({cp:5.1f} s CPU), {_size(pdf) / 2**20:5.2f} MiB, "
        f"{_pages(pdf)} pages",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, nargs="+", default=[10, 100, 1000])
    ap.add_argument("--keep", type=Path, help="a folder for the databases and reports (kept)")
    args = ap.parse_args()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        for n in args.hosts:
            bench(n, args.keep)
        return
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        for n in args.hosts:
            bench(n, Path(tmp))


if __name__ == "__main__":
    main()
