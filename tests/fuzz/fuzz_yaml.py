"""Fuzz the YAML a user hands over: a rule file (``assessor.catalog.loader.read_yaml`` then
``parse_rule``) and a waivers file (``assessor.audit.waivers.read_waivers_file``). A
ControlDefinitionError (an AssessorError) naming the file is a refusal; anything else, a
hang or a memory blow-up (billion laughs) is a finding."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from datetime import date
from functools import cache
from pathlib import Path

try:
    from tests.fuzz._harness import expected, main
except ImportError:  # run as a script
    from _harness import expected, main  # type: ignore[no-redef]


@cache
def _files() -> tuple[Path, Path]:
    """A rule file and a waivers file in a fresh folder (in memory where /dev/shm exists)."""
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    folder = Path(tempfile.mkdtemp(prefix="fuzz-yaml-", dir=shm))
    atexit.register(shutil.rmtree, folder, True)
    return folder / "fuzz-rule.yaml", folder / "waivers.yaml"


TODAY = date(2026, 12, 6)


def check(data: bytes) -> None:
    from assessor.audit.waivers import read_waivers_file
    from assessor.catalog.loader import parse_rule, read_yaml

    rule, waivers = _files()
    rule.write_bytes(data)
    waivers.write_bytes(data)
    expected(lambda: parse_rule(read_yaml(rule)))
    expected(lambda: read_waivers_file(waivers, None, TODAY))


if __name__ == "__main__":
    main(check, ["assessor.catalog.loader", "assessor.audit.waivers"])
