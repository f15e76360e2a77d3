"""A 1,000-finding assessment renders in bounded time and memory, and loses no finding.

The report runs as a user runs it (`assessor report` in a subprocess), with its address space
capped and a generous timeout that only guards against a hang: no test here asserts a speed
(tests/bench/bench_report.py measures it).
"""

from __future__ import annotations

import io
import os
import re
import resource
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.reportdata import make_assessment

pytestmark = pytest.mark.slow

CONTAINERS = 143  # 7 failing results each: 1,001 failures in all
# Measured on the 2-core development machine, `assessor report -o big.pdf` of this
# assessment (214 pages): peak RSS 556 MiB, peak address space (VmPeak) 878 MiB. The cap
# leaves more than 2x headroom over the address space actually used.
ADDRESS_SPACE_CAP = 2 << 30
HANG_GUARD_SECONDS = 600  # not a speed requirement: the PDF takes about 30 s here
MORE = re.compile(r"and (\d+) more failing resources")


@dataclass
class Scale:
    db: str
    failing: int  # what make_assessment counted as failing
    bad: dict[tuple[str, str], str]  # (rule, resource) -> "fail" | "error", from the store


@pytest.fixture(scope="module")
def scale(tmp_path_factory: pytest.TempPathFactory) -> Scale:
    from sqlalchemy import select

    from assessor.store import open_store
    from assessor.store.models import Result

    url = f"sqlite:///{tmp_path_factory.mktemp('scale') / 'assessor.db'}"
    aid, failing = make_assessment(url, CONTAINERS)
    store = open_store(url)
    try:
        with store.session() as s:
            rows = s.execute(
                select(Result.rule, Result.resource, Result.status).where(
                    Result.assessment_id == aid, Result.status.in_(("fail", "error"))
                )
            ).all()
    finally:
        store.close()
    bad = {(rule, res): status for rule, res, status in rows}
    assert len(bad) == len(rows), "the store holds one result per rule and resource"
    assert failing >= 1000, f"the synthetic assessment has only {failing} failing results"
    return Scale(url, failing, bad)


def _cap_address_space() -> None:  # runs in the child, before exec
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = ADDRESS_SPACE_CAP if hard == resource.RLIM_INFINITY else min(ADDRESS_SPACE_CAP, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def report(scale: Scale, out: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSESSOR_")}
    proc = subprocess.run(
        [sys.executable, "-m", "assessor", "report", "-o", str(out), "--db", scale.db, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=out.parent,  # no assessor.toml of the checkout applies
        preexec_fn=_cap_address_space,
        timeout=HANG_GUARD_SECONDS,
        check=False,
    )
    assert proc.returncode == 0, (
        f"assessor report -o {out.name} {' '.join(args)} exited {proc.returncode} "
        f"under a {ADDRESS_SPACE_CAP >> 20} MiB address-space cap:\n{proc.stderr[-2000:]}"
    )
    assert out.is_file()


@dataclass
class FindingsTable:
    rule: str = ""
    rows: list[list[str]] = field(default_factory=list)


class FindingsParser(HTMLParser):
    """The body rows (cell texts) of every ``<table class="findings">``, with its rule."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[FindingsTable] = []
        self.depth = 0  # nesting of tables inside the current findings table
        self.where = ""  # "caption", "tbody" or ""
        self.cell: list[str] | None = None
        self.row: list[str] | None = None
        self.caption: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            if self.depth:
                self.depth += 1
            elif "findings" in (dict(attrs).get("class") or "").split():
                self.depth = 1
                self.tables.append(FindingsTable())
                self.caption = []
            return
        if self.depth != 1:
            return
        if tag in ("caption", "tbody"):
            self.where = tag
        elif tag == "tr" and self.where == "tbody":
            self.row = []
        elif tag == "td" and self.row is not None:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.depth:
            self.depth -= 1
            return
        if self.depth != 1:
            return
        if tag == "caption":
            words = " ".join("".join(self.caption).split()).split()
            self.tables[-1].rule = words[-1] if words else ""
            self.where = ""
        elif tag == "tbody":
            self.where = ""
        elif tag == "td" and self.cell is not None and self.row is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.tables[-1].rows.append(self.row)
            self.row = None

    def handle_data(self, data: str) -> None:
        if self.depth != 1:
            return
        if self.where == "caption":
            self.caption.append(data)
        elif self.cell is not None:
            self.cell.append(data)


def findings_tables(path: Path) -> list[FindingsTable]:
    parser = FindingsParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    assert parser.tables, f"{path.name} has no findings table"
    rules = [t.rule for t in parser.tables]
    assert len(rules) == len(set(rules)), "a rule's failing resources are listed once"
    return parser.tables


def test_pdf_of_1000_findings_renders_within_the_memory_cap(scale: Scale, tmp_path: Path) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    out = tmp_path / "big.pdf"
    report(scale, out)
    pages = int(PdfFileReader(io.BytesIO(out.read_bytes())).root["/Pages"]["/Count"])
    assert pages > 50, f"a 1,000-finding report of only {pages} pages"


def test_html_lists_every_failing_resource_exactly_once(scale: Scale, tmp_path: Path) -> None:
    out = tmp_path / "big.html"
    report(scale, out)  # default --max-findings 500 per rule: more than any rule has here
    listed: Counter[tuple[str, str]] = Counter()
    status: dict[tuple[str, str], str] = {}
    for table in findings_tables(out):
        for row in table.rows:
            assert len(row) == 3, f"{table.rule}: {row[:1]} (nothing may be counted, not listed)"
            key = (table.rule, row[1])
            listed[key] += 1
            status[key] = row[2].split()[0]
    twice = [key for key, n in listed.items() if n > 1]
    assert not twice, f"listed more than once: {twice[:5]}"
    failing = {key for key, s in status.items() if s == "fail"}
    assert len(failing) == scale.failing
    assert failing == {key for key, s in scale.bad.items() if s == "fail"}
    # errors are findings too: every one listed, with its status
    assert status == scale.bad


def test_max_findings_counts_the_rest_per_rule(scale: Scale, tmp_path: Path) -> None:
    out = tmp_path / "limited.html"
    report(scale, out, "--max-findings", "10")
    per_rule = Counter(rule for rule, _ in scale.bad)
    tables = findings_tables(out)
    assert {t.rule for t in tables} == set(per_rule)
    for table in tables:
        total = per_rule[table.rule]
        listed = [row for row in table.rows if len(row) == 3]
        more = [MORE.search(row[0]) for row in table.rows if len(row) == 1]
        assert len(listed) == min(10, total), table.rule
        assert len(more) == (total > 10), table.rule
        if more:
            assert more[0] is not None, f"{table.rule}: {table.rows[-1]}"
            assert int(more[0][1]) == total - 10, table.rule
