"""A command's heavy imports run without the cyclic garbage collector and end frozen
(assessor.cli.uncollected_imports); main() unfreezes when the command ends."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

from assessor.cli import uncollected_imports
from tests.conftest import ROOT


def _collections() -> int:
    return sum(generation["collections"] for generation in gc.get_stats())


def test_no_collection_inside_then_frozen_and_collector_as_before() -> None:
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            gc.unfreeze()
            before = _collections()
            with uncollected_imports():
                made = [[n] for n in range(50_000)]  # 70 collections' worth of objects
                assert not gc.isenabled()
            assert _collections() == before
            assert gc.get_freeze_count() >= len(made)
            assert gc.isenabled() is enabled
    finally:
        gc.unfreeze()
        gc.enable()


PROBE = """
import gc, json, sys
import assessor.collection as collection
from assessor.cli import main
seen = {}
ready = collection.ChildCollection.ready
def watched(self):  # the scan's work has begun here (the child collects): imports frozen?
    pipeline = sys.modules["assessor.pipeline"]
    live = gc.get_objects()  # generations 0-2: the frozen objects are not among them
    seen.update(
        enabled=gc.isenabled(),
        pipeline_frozen=not any(o is pipeline.run_scan for o in live),
        sqlalchemy_frozen=not any(o is sys.modules["sqlalchemy"].select for o in live),
    )
    return ready(self)
collection.ChildCollection.ready = watched
try:
    main(sys.argv[1:])
except SystemExit:
    pass
seen["after_main"] = gc.get_freeze_count()
print(json.dumps(seen))
"""


def test_a_scan_works_with_its_imports_frozen_and_main_unfreezes(tmp_path: Path) -> None:
    """Imported inside the scan command, the pipeline and SQLAlchemy are frozen by the time
    the scan's work begins; when main() returns nothing is frozen."""
    root = tmp_path / "root"
    root.mkdir()
    env = {"ASSESSOR_DB": str(tmp_path / "a.db"), "ASSESSOR_CACHE_DIR": ""}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, "scan", f"host:{root}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={**os.environ, **env},
    )
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen == {
        "enabled": True,
        "pipeline_frozen": True,
        "sqlalchemy_frozen": True,
        "after_main": 0,
    }
