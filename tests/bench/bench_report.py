"""Rendering a 1,000-finding report, signed, against an unsigned WeasyPrint render of the same HTML.

Stores a synthetic assessment (``tests/reportdata.py``: 143 containers, about 1,000 failing
results; their 143 evidence documents are attached to the report) in a fresh SQLite database
and makes a signing key in a temporary directory. Then:

1. **the command**, as a user runs it, in a fresh process: ``assessor report -o big.pdf
   --sign`` (and ``-o big.html --sign``); wall time, CPU time (user + system) and peak RSS of
   that process, from ``/usr/bin/time -v`` (else ``getrusage(RUSAGE_CHILDREN)`` of a fresh
   interpreter whose only child it is);
2. **the baseline**: the very HTML the command lays out for that PDF, rendered by plain
   WeasyPrint (``HTML(string=...).write_pdf()``, nothing else) in a fresh process, measured
   the same way; the two alternate which goes first, ``--runs`` times each (medians shown);
3. **where the time goes**, in this process, once: the read model and report data, the HTML
   (Jinja2, and the charts, SVG written from the numbers by assessor.report.chart),
   WeasyPrint's layout and PDF writing with the attachments, and the PAdES signature.

The goal (issue 19): the signed PDF in at most 8 s and 250 MiB.

    .venv/bin/python tests/bench/bench_report.py                  # 143 containers, 2 runs
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.reportdata import make_assessment  # noqa: E402

PYTHON = sys.executable
GNU_TIME = "/usr/bin/time"
GOAL_SECONDS = 8.0
GOAL_MIB = 250
T = TypeVar("T")

# The baseline: plain WeasyPrint on the HTML file given, nothing else.
BASELINE = (
    "import sys\n"
    "from weasyprint import HTML\n"
    "html = open(sys.argv[1], encoding='utf-8').read()\n"
    "HTML(string=html, base_url='about:blank').write_pdf(sys.argv[2])\n"
)


@dataclass
class Measured:
    """Wall s, CPU s and peak RSS (MiB) of each run of one child process."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)

    def row(self, label: str) -> str:
        med = statistics.median
        runs = ", ".join(f"{w:.1f}" for w in self.wall)
        return (
            f"{label:44} {med(self.wall):7.2f} {med(self.cpu):7.2f} {max(self.rss):8.0f}  ({runs})"
        )


def measure(argv: list[str], env: dict[str, str], cwd: Path, into: Measured) -> str:
    """Run ``argv`` in a fresh process; add its wall, CPU and peak RSS to ``into``."""
    if os.access(GNU_TIME, os.X_OK):
        full = [GNU_TIME, "-v", *argv]
    else:  # a fresh interpreter whose only child is the command: RUSAGE_CHILDREN is its own
        code = (
            "import resource, subprocess, sys; "
            "p = subprocess.run(sys.argv[1:]); "
            "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
            "sys.stderr.write(f'User time (seconds): {u.ru_utime}\\n"
            "System time (seconds): {u.ru_stime}\\n"
            "Maximum resident set size (kbytes): {u.ru_maxrss}\\n'); "
            "sys.exit(p.returncode)"
        )
        full = [PYTHON, "-c", code, *argv]
    t = time.perf_counter()
    proc = subprocess.run(
        full, capture_output=True, text=True, cwd=cwd, env=env, timeout=900, check=False
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{argv[2:5]} failed ({proc.returncode}): {proc.stderr[-1500:]}")

    def number(label: str) -> float:
        m = re.search(rf"{re.escape(label)}: ([\d.]+)", proc.stderr)
        if m is None:
            raise SystemExit(f"no {label!r} in {proc.stderr[-500:]}")
        return float(m[1])

    into.wall.append(wall)
    into.cpu.append(number("User time (seconds)") + number("System time (seconds)"))
    into.rss.append(number("Maximum resident set size (kbytes)") / 1024)
    return proc.stderr


def pdf_pages(pdf: bytes) -> int:
    from pyhanko.pdf_utils.reader import PdfFileReader

    return int(PdfFileReader(io.BytesIO(pdf), strict=False).root["/Pages"]["/Count"])


def _cpu() -> float:
    """CPU seconds of this process and of its reaped children."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def timed(steps: list[tuple[str, float, float]], label: str, fn: Callable[[], T]) -> T:
    w, c = time.perf_counter(), _cpu()
    value = fn()
    steps.append((label, time.perf_counter() - w, _cpu() - c))
    return value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--containers", type=int, default=143, help="synthetic containers (143)")
    ap.add_argument("--runs", type=int, default=2, help="runs of each process; medians (2)")
    args = ap.parse_args()
    runs = max(1, args.runs)

    from assessor import readmodel
    from assessor.catalog import load_catalog
    from assessor.report.attachments import collect
    from assessor.report.data import SignatureInfo, build
    from assessor.report.render import SIGNATURE_BOX, render_html, render_pdf
    from assessor.sign.keys import fingerprint, init_keys, load_identity, subject_line
    from assessor.sign.pdf import sign_pdf
    from assessor.store import open_store

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="assessor-bench-report-"))
    try:
        url = f"sqlite:///{tmp / 'assessor.db'}"
        t = time.perf_counter()
        _, failing = make_assessment(url, args.containers)
        made = time.perf_counter() - t
        key_path, cert_path = init_keys(
            tmp / "keys", common_name="Bench Signer", organisation="Bench", passphrase=None
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASSESSOR_")}
        env["ASSESSOR_KEY_DIR"] = str(tmp / "keys")
        cli = [PYTHON, "-m", "assessor", "report", "--sign", "--db", url, "-o"]

        # the HTML the command lays out for the signed PDF, made the way the command makes it
        identity = load_identity(key=key_path, cert=cert_path)
        cert = identity.certificate
        info = SignatureInfo(
            kind="pades",
            signer=subject_line(cert),
            certificate_sha256=fingerprint(cert),
            not_after=cert.not_valid_after_utc.strftime("%Y-%m-%d"),
        )
        catalog = load_catalog()
        steps: list[tuple[str, float, float]] = []
        store = open_store(url)
        try:
            view = timed(steps, "read model", lambda: readmodel.load(store, catalog, None))
            shipment = timed(steps, "attachments (read)", lambda: collect(store, view))
            data = timed(
                steps,
                "report data (build)",
                lambda: build(
                    store,
                    catalog,
                    None,
                    signature=info,
                    attachments=shipment.hrefs(""),
                    view=view,
                ),
            )
            html = timed(steps, "render_html (Jinja2, charts)", lambda: render_html(data))
            finding_count, error_count = data.finding_count, data.counts.get("error", 0)
        finally:
            store.close()
        html_file = tmp / "same.html"
        html_file.write_text(html, encoding="utf-8")
        pdf = timed(
            steps, "render_pdf (WeasyPrint, attachments)", lambda: render_pdf(html, shipment.files)
        )
        timed(steps, "sign_pdf (PAdES)", lambda: sign_pdf(pdf, identity, field_box=SIGNATURE_BOX))
        self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        signed, baseline, signed_html = Measured(), Measured(), Measured()
        out_pdf, base_pdf = tmp / "big.pdf", tmp / "baseline.pdf"
        for i in range(runs):  # alternate which goes first
            order = (0, 1) if i % 2 == 0 else (1, 0)
            for which in order:
                if which == 0:
                    measure([*cli, str(out_pdf)], env, tmp, signed)
                else:
                    measure(
                        [PYTHON, "-c", BASELINE, str(html_file), str(base_pdf)],
                        env,
                        tmp,
                        baseline,
                    )
        measure([*cli, str(tmp / "big.html")], env, tmp, signed_html)
        signed_bytes, base_bytes = out_pdf.read_bytes(), base_pdf.read_bytes()
        pages, base_pages = pdf_pages(signed_bytes), pdf_pages(base_bytes)
        html_kib = (tmp / "big.html").stat().st_size / 1024
        folder = tmp / "big.files"
        shipped = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    total = time.perf_counter() - started
    load_after = os.getloadavg()[0]

    med = statistics.median
    print(
        f"assessment: {args.containers} containers, {failing} failing and {error_count} error "
        f"results = {finding_count} findings (stored in {made:.1f} s)"
    )
    print(
        f"report: {pages} pages ({base_pages} in the baseline); PDF {len(signed_bytes) / 2**10:.0f}"
        f" KiB signed with {len(shipment.files)} attachments "
        f"({shipment.total / 2**10:.0f} KiB), baseline {len(base_bytes) / 2**10:.0f} KiB; "
        f"HTML {html_kib:.0f} KiB + {shipped / 2**10:.0f} KiB of shipped files"
    )
    print(
        f"runs: {runs} of each process, alternating; load average {load_before:.1f} at the "
        f"start, {load_after:.1f} at the end ({os.cpu_count()} CPUs)"
    )
    print()
    print(f"{'fresh process':44} {'wall s':>7} {'CPU s':>7} {'peak MiB':>8}  wall s of each run")
    print(signed.row("assessor report -o big.pdf --sign"))
    print(baseline.row("baseline: WeasyPrint alone, same HTML, unsigned"))
    print(signed_html.row("assessor report -o big.html --sign"))
    print()
    print(f"{'in this process, once':44} {'wall s':>7} {'CPU s':>7}")
    for label, w, c in steps:
        print(f"  {label:42} {w:7.2f} {c:7.2f}")
    print(f"  (peak RSS of this process: {self_rss:.0f} MiB)")
    print()
    wall, cpu, rss = med(signed.wall), med(signed.cpu), max(signed.rss)

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT MET"

    print(
        f"signed PDF: {wall:.1f} s wall, {cpu:.1f} s CPU, {rss:.0f} MiB peak; goal <= "
        f"{GOAL_SECONDS:.0f} s: {verdict(wall <= GOAL_SECONDS)} by wall time, "
        f"{verdict(cpu <= GOAL_SECONDS)} by CPU time; <= {GOAL_MIB} MiB: {verdict(rss <= GOAL_MIB)}"
    )
    print(
        f"against the baseline: {wall / med(baseline.wall) - 1:+.0%} wall, "
        f"{cpu / med(baseline.cpu) - 1:+.0%} CPU, {rss - max(baseline.rss):+.0f} MiB"
    )
    print(f"bench wall time: {total:.0f} s")
    busy = max(load_before, load_after)
    if busy > (os.cpu_count() or 1) - 0.5:
        print(
            f"NOTE: the machine was busy (load average up to {busy:.1f} on {os.cpu_count()} "
            f"CPUs): wall times include waiting for a CPU; CPU times are the steadier figures"
        )


if __name__ == "__main__":
    main()
