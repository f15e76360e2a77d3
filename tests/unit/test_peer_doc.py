"""docs/peer-comparison.md explains every difference recorded in tests/peer/verdicts.json."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXPLAINED = {"agree", "no verdict"}


def _why_rows() -> tuple[set[str], set[tuple[str, str]]]:
    text = (ROOT / "docs/peer-comparison.md").read_text()
    why = text.split("## Why they differ", 1)[1]
    reqs, per_container = why.split("### Per container", 1)
    ids: set[str] = set()
    for line in reqs.splitlines():
        m = re.match(r"^\| ([0-9][0-9., ]*) \|", line)
        if m:
            ids.update(i.strip() for i in m.group(1).split(","))
    pairs = {
        (m.group(1), m.group(2))
        for m in re.finditer(r"^\| ([a-z-]+) \| ([0-9.]+) \|", per_container, re.M)
    }
    return ids, pairs


def test_every_difference_is_explained() -> None:
    verdicts = json.loads((ROOT / "tests/peer/verdicts.json").read_text())
    ids, pairs = _why_rows()
    missing = [
        rid
        for rid, r in verdicts["requirements"].items()
        if r["agreement"] not in EXPLAINED and rid not in ids
    ]
    missing += [
        f"{name} {rid}"
        for name, c in verdicts["containers"].items()
        for rid, r in c["verdicts"].items()
        if r["agreement"] == "disagree" and (name, rid) not in pairs
    ]
    assert not missing, f"differences without an explanation in docs/peer-comparison.md: {missing}"
