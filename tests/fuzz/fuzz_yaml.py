"""Fuzz the YAML a user hands over: a rule file (``assessor.catalog.loader.read_yaml`` then
``parse_rule``) and a waivers file (``assessor.audit.waivers.read_waivers_file``). A
ControlDefinitionError (an AssessorError) naming the file is a refusal; anything else, a
hang or a memory blow-up (billion laughs) is a finding."""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path

try:
    from tests.fuzz._harness import expected, main
except ImportError:  # run as a script
    from _harness import expected, main  # type: ignore[no-redef]

_DIR = Path(
    tempfile.mkdtemp(prefix="fuzz-yaml-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
)
RULE = _DIR / "fuzz-rule.yaml"
WAIVERS = _DIR / "waivers.yaml"
TODAY = date(2026, 12, 6)


def check(data: bytes) -> None:
    from assessor.audit.waivers import read_waivers_file
    from assessor.catalog.loader import parse_rule, read_yaml

    RULE.write_bytes(data)
    WAIVERS.write_bytes(data)
    expected(lambda: parse_rule(read_yaml(RULE)))
    expected(lambda: read_waivers_file(WAIVERS, None, TODAY))


if __name__ == "__main__":
    main(check, ["assessor.catalog.loader", "assessor.audit.waivers"])
