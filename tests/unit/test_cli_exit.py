"""The command line's exit: the objects a command made are frozen (gc.freeze) when the
interpreter ends, so shutdown's garbage collections skip them; not before it ends."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import atexit, gc, json, sys
from assessor.cli import main
seen = {}
atexit.register(lambda: print(json.dumps({**seen, "at_exit": gc.get_freeze_count()})))
for _ in range(2):
    try:
        main(sys.argv[1:])
    except SystemExit as e:
        seen["code"] = e.code
seen["after_main"] = gc.get_freeze_count()
"""


def freeze_counts(*args: str) -> dict[str, int]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_objects_are_frozen_at_exit_only() -> None:
    """After a command (here a usage error, exit 2) nothing is frozen yet, so a process that
    calls main() and goes on collects as usual; once the interpreter ends, all of it is."""
    counts = freeze_counts("results", "--status", "nope")
    assert counts["code"] == 2
    assert counts["after_main"] == 0
    assert counts["at_exit"] > 10_000
