"""Report rendering at scale, and what signing costs against the unsigned render of the same run.

Stores a synthetic assessment (``tests/reportdata.py``: 143 containers, about 1,000 failing
results) in a fresh SQLite database and makes a signing key in a temporary directory. Then,
in the same run:

- times ``build`` (the report read from the store) and ``render_html``, each run on fresh data;
- times ``render_pdf`` of that HTML (the baseline: the unsigned report) and the signed report,
  ``render_pdf`` of the same HTML then ``sign_pdf`` (PAdES); medians of ``--runs`` runs, the
  two alternating which goes first, after a small warm-up document; wall and CPU time of
  this process (CPU time is steadier when other work shares the machine);
- times the signed HTML report: ``render_html`` then a detached CMS signature;
- prints pages, sizes, pages per second of the unsigned render, the signing overhead
  signed/unsigned - 1 (goal <= 10%) and the peak RSS of this process and of one
  ``assessor report -o big.pdf --sign`` run in a fresh process.

One PDF render of the 1,000-finding report (about 215 pages) takes about 22 s of CPU on the
2-core development machine. Three runs of each PDF step took the bench past 3 minutes (3 min
38 s on a shared, busy machine), so the default is two runs each, one in each order: about
2 minutes in all (``--runs 3`` for a true median).

    .venv/bin/python tests/bench/bench_report.py                 # 143 containers, 2 runs
    .venv/bin/python tests/bench/bench_report.py --containers 20 --runs 1   # a quick trial
"""

from __future__ import annotations

import argparse
import io
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.reportdata import make_assessment  # noqa: E402

PYTHON = sys.executable
GNU_TIME = "/usr/bin/time"
OVERHEAD_GOAL = 0.10
T = TypeVar("T")


class Step:
    """Wall and CPU seconds (this process) of each run of one step."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def __call__(self, fn: Callable[[], T]) -> T:
        w, c = time.perf_counter(), time.process_time()
        value = fn()
        self.wall.append(time.perf_counter() - w)
        self.cpu.append(time.process_time() - c)
        return value

    def plus(self, other: Step) -> Step:
        both = Step()
        both.wall = [a + b for a, b in zip(self.wall, other.wall, strict=True)]
        both.cpu = [a + b for a, b in zip(self.cpu, other.cpu, strict=True)]
        return both


def pdf_pages(pdf: bytes) -> int:
    from pyhanko.pdf_utils.reader import PdfFileReader

    return int(PdfFileReader(io.BytesIO(pdf), strict=False).root["/Pages"]["/Count"])


def cli_report(db_url: str, out: Path, key_dir: Path) -> tuple[float, int, str]:
    """Wall time, peak RSS (KiB) and how it was measured, of `assessor report -o out --sign`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSESSOR_")}
    env["ASSESSOR_KEY_DIR"] = str(key_dir)
    argv = [PYTHON, "-m", "assessor", "report", "-o", str(out), "--sign", "--db", db_url]
    if os.access(GNU_TIME, os.X_OK):
        argv, how = [GNU_TIME, "-v", *argv], "/usr/bin/time -v"
    else:  # a fresh interpreter whose only child is the report: RUSAGE_CHILDREN is its peak
        code = (
            "import resource, subprocess, sys; "
            "p = subprocess.run(sys.argv[1:]); "
            "sys.stderr.write(f'Maximum resident set size (kbytes): "
            "{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n'); "
            "sys.exit(p.returncode)"
        )
        argv, how = [PYTHON, "-c", code, *argv], "getrusage(RUSAGE_CHILDREN)"
    t = time.perf_counter()
    proc = subprocess.run(
        argv, capture_output=True, text=True, cwd=out.parent, env=env, timeout=900, check=False
    )
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"assessor report failed ({proc.returncode}): {proc.stderr[-1500:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    if m is None:
        raise SystemExit(f"no peak RSS in the output of {how}: {proc.stderr[-500:]}")
    return elapsed, int(m[1]), how


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--containers", type=int, default=143, help="synthetic containers (143)")
    ap.add_argument("--runs", type=int, default=2, help="runs per step; medians are shown (2)")
    args = ap.parse_args()
    runs = max(1, args.runs)

    from assessor.catalog import load_catalog
    from assessor.report.data import SignatureInfo, build
    from assessor.report.render import SIGNATURE_BOX, render_html, render_pdf
    from assessor.sign.cms import sign_detached
    from assessor.sign.keys import fingerprint, init_keys, load_identity, subject_line
    from assessor.sign.pdf import sign_pdf
    from assessor.store import open_store

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="assessor-bench-report-"))
    try:
        url = f"sqlite:///{tmp / 'assessor.db'}"
        t = time.perf_counter()
        aid, failing = make_assessment(url, args.containers)
        made = time.perf_counter() - t
        key_path, cert_path = init_keys(
            tmp / "keys", common_name="Bench Signer", organisation="Bench", passphrase=None
        )
        identity = load_identity(key=key_path, cert=cert_path)
        cert = identity.certificate
        info = SignatureInfo(
            kind="pades",
            signer=subject_line(cert),
            certificate_sha256=fingerprint(cert),
            not_after=cert.not_valid_after_utc.strftime("%Y-%m-%d"),
        )
        catalog = load_catalog()
        # warm-up: imports, fonts and pyHanko, so that no timed step pays for them
        sign_detached(b"warm-up", identity)
        sign_pdf(render_pdf("<p>warm-up</p>"), identity, field_box=SIGNATURE_BOX)

        building, rendering, cms = Step(), Step(), Step()
        store = open_store(url)
        try:
            render_html(build(store, catalog, str(aid), signature=info))  # warm-up: templates
            for _ in range(runs):  # fresh data each run: render_html caches the charts in it
                data = building(lambda: build(store, catalog, str(aid), signature=info))
                html = rendering(lambda: render_html(data))  # noqa: B023 - called right here
                body = html.encode("utf-8")
                cms(lambda: sign_detached(body, identity))  # noqa: B023 - called right here
        finally:
            store.close()

        unsigned, signed, signing = Step(), Step(), Step()
        pdf = signed_pdf = b""

        def unsigned_run() -> None:
            nonlocal pdf
            pdf = unsigned(lambda: render_pdf(html))

        def signed_run() -> None:
            nonlocal signed_pdf

            def render_then_sign() -> bytes:
                rendered = render_pdf(html)
                return signing(lambda: sign_pdf(rendered, identity, field_box=SIGNATURE_BOX))

            signed_pdf = signed(render_then_sign)

        for i in range(runs):  # alternate which goes first
            for step in (unsigned_run, signed_run) if i % 2 == 0 else (signed_run, unsigned_run):
                step()
        self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        pages = pdf_pages(pdf)
        if pdf_pages(signed_pdf) != pages:
            raise SystemExit("the signed PDF has a different page count")

        cli_out = tmp / "big.pdf"
        cli_s, cli_rss, how = cli_report(url, cli_out, tmp / "keys")
        cli_pages = pdf_pages(cli_out.read_bytes())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    total = time.perf_counter() - started
    load_after = os.getloadavg()[0]

    med = statistics.median
    html_cms = rendering.plus(cms)
    print(
        f"assessment: {args.containers} containers, {failing} failing and "
        f"{data.counts.get('error', 0)} error results = {data.finding_count} findings "
        f"(stored in {made:.1f} s)"
    )
    print(
        f"report: {pages} pages; PDF {len(pdf) / 2**10:.0f} KiB unsigned, "
        f"{len(signed_pdf) / 2**10:.0f} KiB signed; HTML {len(body) / 2**10:.0f} KiB"
    )
    print(
        f"runs per step: {runs}; medians, then every run's wall time; load average "
        f"{load_before:.1f} at the start, {load_after:.1f} at the end ({os.cpu_count()} CPUs)"
    )
    print()
    rows = [
        ("build (read from the store)", building),
        ("render_html", rendering),
        ("render_html + CMS sign (signed HTML)", html_cms),
        ("  of which sign_detached", cms),
        ("render_pdf (unsigned: the baseline)", unsigned),
        ("render_pdf + sign_pdf (signed PDF)", signed),
        ("  of which sign_pdf", signing),
    ]
    print(f"{'step':38} {'wall s':>8} {'CPU s':>8}  wall s of each run")
    for label, st in rows:
        runs_s = ", ".join(f"{x:.2f}" for x in st.wall)
        print(f"{label:38} {med(st.wall):8.2f} {med(st.cpu):8.2f}  ({runs_s})")
    print()
    overhead = med(signed.wall) / med(unsigned.wall) - 1
    overhead_cpu = med(signed.cpu) / med(unsigned.cpu) - 1
    sign_share = med(signing.wall) / med(unsigned.wall)

    def verdict(x: float) -> str:
        return "met" if x <= OVERHEAD_GOAL else "NOT MET"

    print(f"unsigned PDF render: {pages / med(unsigned.wall):.1f} pages/s ({pages} pages)")
    print(
        f"PDF signing overhead (signed/unsigned - 1): {overhead:+.1%} wall, "
        f"{overhead_cpu:+.1%} CPU  (goal <= {OVERHEAD_GOAL:.0%}: {verdict(overhead)} by wall "
        f"time, {verdict(overhead_cpu)} by CPU time)"
    )
    print(
        f"  sign_pdf alone takes {sign_share:.1%} of the unsigned render's wall time; "
        f"the rest of the difference is render-to-render variation"
    )
    print(
        f"HTML signing overhead (render_html + CMS / render_html - 1, wall): "
        f"{med(html_cms.wall) / med(rendering.wall) - 1:+.1%}"
    )
    print(f"peak RSS of this process (all of the above): {self_rss / 1024:.0f} MiB")
    print(
        f"peak RSS of `assessor report -o big.pdf --sign` (fresh process): "
        f"{cli_rss / 1024:.0f} MiB  ({how}; {cli_s:.1f} s wall, {cli_pages} pages)"
    )
    print(f"bench wall time: {total:.0f} s")
    busy = max(load_before, load_after)
    if busy > (os.cpu_count() or 1) - 0.5:
        print(
            f"NOTE: the machine was busy (load average up to {busy:.1f} on {os.cpu_count()} "
            f"CPUs): wall times include waiting for a CPU; the CPU-time figures are the "
            f"steadier ones"
        )


if __name__ == "__main__":
    main()
