"""Exports at scale: each format's time against the stable JSON of the same assessment.

Stores a synthetic assessment (``tests/reportdata.py``: 143 containers, about 1,000 failing
results among about 4,150) in a fresh SQLite database, then in the same run times, median of
``--runs`` runs each:

- ``load`` (the assessment read from the store, as every format reads it);
- ``render`` of each format from that loaded data, and its output size.

The baseline is the JSON export (``json.dumps`` of the documented results document, the
cheapest faithful serialisation of the same data): each format prints its time as a ratio to
it. OSCAL is the heaviest (every result is a validated trestle model); the goal is that no
format takes more than 20x the JSON, so a fleet's export never costs more than its scan.

    .venv/bin/python tests/bench/bench_export.py                  # 143 containers, 3 runs
    .venv/bin/python tests/bench/bench_export.py --containers 20 --runs 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.reportdata import make_assessment  # noqa: E402

GOAL = 20.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--containers", type=int, default=143)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    from assessor.catalog import load_catalog
    from assessor.export import render
    from assessor.export.data import load
    from assessor.extensions import EXPORTERS
    from assessor.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'bench.db'}"
        aid, findings = make_assessment(db, args.containers)
        catalog = load_catalog()
        store = open_store(db)
        try:
            loads = []
            for _ in range(args.runs):
                t = time.perf_counter()
                data = load(store, catalog, str(aid), with_bodies=True)
                loads.append(time.perf_counter() - t)
        finally:
            store.close()
        print(
            f"assessment: {len(data.results)} results, {findings} failing, "
            f"{len(data.evidence)} evidence documents; load {statistics.median(loads):.3f} s"
        )
        times: dict[str, float] = {}
        sizes: dict[str, int] = {}
        for fmt in ["json", *sorted(set(EXPORTERS) - {"json"})]:
            runs = []
            for _ in range(args.runs):
                t = time.perf_counter()
                body = render(fmt, data)
                runs.append(time.perf_counter() - t)
            times[fmt] = statistics.median(runs)
            sizes[fmt] = len(body)
        base = times["json"]
        worst = 0.0
        print(f"{'format':8} {'render s':>9} {'x json':>7} {'bytes':>11}")
        for fmt, secs in times.items():
            ratio = secs / base
            worst = max(worst, ratio)
            print(f"{fmt:8} {secs:9.3f} {ratio:7.1f} {sizes[fmt]:11,}")
        verdict = "met" if worst <= GOAL else "NOT met"
        print(f"slowest format: {worst:.1f}x the JSON export (goal <= {GOAL:.0f}x): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
