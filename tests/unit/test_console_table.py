"""The console table of results (``assessor scan``, ``assessor results``): its text for a
fixed set of results, and the fast layout (one cell per column) drawing exactly what rich
draws for a table of one row per result, at any width, piped or on a terminal."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from typing import Any

import pytest
from rich.console import Console
from rich.table import Table
from rich.text import Text

from assessor.cli import _output
from assessor.readmodel import ResultView
from assessor.vocab import RESULT_STATUSES, Severity, Status
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures"


@dataclass
class _View:
    id: int = 7
    period: str = "2026-Q4"
    status: str = "complete"


def _result(
    n: int,
    rule: str,
    status: str,
    severity: str,
    resource: str,
    message: str,
    waiver: dict[str, Any] | None = None,
) -> ResultView:
    raw = Status.FAIL if status == Status.WAIVED else Status(status)
    return ResultView(
        n,
        rule,
        f"title of {rule}",
        severity,
        "host:/",
        resource,
        Status(status),
        raw,
        message,
        None,
        {},
        waiver,
    )


def results() -> list[ResultView]:
    """A small assessment: every status, a waiver, long resources and messages, a newline."""
    waiver = {
        "id": 3,
        "reason": "the build host needs it until the migration (ticket OPS-1234)",
        "approver": "alice@example.org",
        "expires": "2027-03-31T00:00:00+00:00",
    }
    return [
        _result(
            1,
            "host-audit-docker-daemon",
            "pass",
            "medium",
            "*",
            "an audit rule watches /usr/bin/dockerd",
        ),
        _result(
            2,
            "container-capabilities-restricted",
            "fail",
            "high",
            "web-1 (620dbdf28f67)",
            "keeps NET_RAW (in Docker's default set; not in CapDrop) (CapAdd=none CapDrop=none); "
            "CIS 5.4: remove NET_RAW unless required (waive with the reason when it is)",
        ),
        _result(
            3,
            "image-healthcheck",
            "fail",
            "low",
            "docker-daemon:registry.example.org/team/a-very-long-repository-name/service:2026.12.07-build.1234",
            "no HEALTHCHECK instruction",
        ),
        _result(
            4,
            "container-privileged",
            "waived",
            "critical",
            "db-0 (d7ee49564c53)",
            "runs privileged",
            waiver,
        ),
        _result(
            5,
            "engine-tls-verify",
            "error",
            "high",
            "*",
            "could not read the daemon's configuration:\npermission denied: /etc/docker/daemon.json",
        ),
        _result(
            6,
            "host-docker-partition",
            "manual",
            "medium",
            "*",
            "check that /var/lib/docker is a separate partition (a reviewer answers this one)",
        ),
        _result(7, "image-no-secrets", "not_applicable", "info", "*", ""),
        _result(
            8,
            "container-no-new-privileges",
            "fail",
            "medium",
            "web-1 (620dbdf28f67)",
            "SecurityOpt has no no-new-privileges:true; a process can gain privileges through "
            "setuid binaries: AVeryLongWordWithoutAnySpaceThatMustBeFoldedAcrossLinesBecauseItIsLongerThanTheColumnItselfIs",
        ),
    ]


def test_table_text_for_a_fixed_assessment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `assessor results` prints piped (160 wide): rows sorted by status and severity,
    long resources folded, messages wrapped at words, the waiver in the message, a summary."""
    monkeypatch.setenv("COLUMNS", "100")  # console() prints piped output at least 160 wide
    _output.print_table(_View(), results())  # type: ignore[arg-type]
    assert capsys.readouterr().out == (FIXTURES / "console-table.txt").read_text()


def per_row_table(rows: list[tuple[str, str, str, str, str]], title: str | None = None) -> Table:
    """The table as rich lays it out with one row per result (what print_table built before
    it drew one cell per column)."""
    table = Table(title=title, show_lines=False, expand=False)
    table.add_column("status", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("resource", overflow="fold")
    table.add_column("message", overflow="fold")
    for status, severity, rule, resource, message in rows:
        style = _output.STATUS_STYLE.get(status, "")
        table.add_row(
            Text(status, style=style), severity, Text(rule), Text(resource), Text(message)
        )
    return table


def drawn(table: Table, width: int, terminal: bool) -> str:
    out = Console(
        file=io.StringIO(),
        width=width,
        soft_wrap=False,
        force_terminal=terminal,
        color_system="truecolor" if terminal else None,
    )
    out.print(table)
    return out.file.getvalue()  # type: ignore[attr-defined]


PIECES = [
    "a",
    "an",
    "the",
    "container",
    "NET_RAW",
    "(CapAdd=none",
    "CapDrop=none);",
    "/etc/docker",
    "x" * 30,
    "y" * 70,
    "z" * 130,
    "漢字の",
    "漢字" * 30,
    "🐳",
    "é",
    "  ",
    "\t",
    "\n",
    "\x07",
    "\r",
    "[bold]",
    ":whale:",
    "",
    "-",
    "sha256:" + "0" * 64,
]


def random_text(rng: random.Random, most: int) -> str:
    return " ".join(rng.choice(PIECES) for _ in range(rng.randint(0, most))).strip(" ")


def random_rows(rng: random.Random) -> list[tuple[str, str, str, str, str]]:
    return [
        (
            rng.choice(RESULT_STATUSES),
            rng.choice(list(Severity)).value,
            rng.choice(["host-x", "container-capabilities-restricted", "r" * rng.randint(1, 90)]),
            random_text(rng, 4),
            random_text(rng, 25),
        )
        for _ in range(rng.randint(1, 12))
    ]


@pytest.mark.parametrize("seed", range(60))
def test_one_cell_per_column_draws_what_rich_draws_per_row(seed: int) -> None:
    """Random cells (wide and zero-width characters, tabs, newlines, control codes, markup,
    words longer than any column) at widths from squeezed to wide, piped and in colour."""
    rng = random.Random(seed)
    rows = random_rows(rng)
    for width in (rng.randint(20, 79), rng.randint(80, 130), 160, 250):
        for terminal in (False, True):
            out = Console(width=width, soft_wrap=False, force_terminal=terminal)
            fast = _output.results_table(out, rows)
            assert drawn(fast, width, terminal) == drawn(per_row_table(rows), width, terminal)


def test_wide_enough_tables_are_one_row_and_squeezed_ones_fall_back() -> None:
    """The comparison above tries the fast layout, not only the fallback: at 160 columns the
    benchmark-like rows are one row of five cells; at 40 rich squeezes columns to nothing."""
    rows = [_output._cells(r) for r in results()]
    assert _output.results_table(Console(width=160), rows).row_count == 1
    assert _output.results_table(Console(width=40), rows).row_count == len(rows)


def test_the_layout_is_one_row_for_any_number_of_results() -> None:
    """Drawing cost grows with the lines, not with rich's per-cell work: 2,000 results are
    still five cells, and draw as the per-row table does."""
    rows = [_output._cells(r) for r in results()] * 250
    out = Console(width=160)
    table = _output.results_table(out, rows)
    assert table.row_count == 1
    assert drawn(table, 160, False) == drawn(per_row_table(rows), 160, False)


@pytest.mark.parametrize("width", [40, 160])
def test_a_title_and_no_rows_draw_as_rich_draws_them(width: int) -> None:
    rows = [_output._cells(r) for r in results()]
    out = Console(width=width)
    for title, some in (("findings of [bold]web[/bold] :whale:", rows), (None, [])):
        fast = _output.results_table(out, some, title)
        assert drawn(fast, width, True) == drawn(per_row_table(some, title), width, True)
