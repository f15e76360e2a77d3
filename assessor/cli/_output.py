"""The console table of results, read from the one read model (``assessor.readmodel``).

The JSON and CSV of results are the export's (``assessor.export.tabular``), so ``assessor
results``, ``assessor scan --format json`` and ``assessor export`` print the same thing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions
    from rich.segment import Segment
    from rich.table import Column, Table

    from assessor.readmodel import AssessmentView, ResultView

import sys

from assessor.readmodel import assessment_json as assessment_json
from assessor.vocab import RESULT_STATUSES, Status, severity_place, status_place

STATUS_STYLE: dict[str, str] = {
    Status.FAIL: "bold red",
    Status.WAIVED: "cyan",
    Status.ERROR: "magenta",
    Status.MANUAL: "yellow",
    Status.PASS: "green",
    Status.NOT_APPLICABLE: "dim",
}


def _sort_key(r: ResultView) -> tuple[int, int, str, str]:
    return status_place(r.status), severity_place(r.severity), r.rule, r.resource


def console() -> Console:
    """A rich console; when piped, wide enough that rule ids and resources stay whole."""
    import shutil

    from rich.console import Console

    width = None if sys.stdout.isatty() else max(160, shutil.get_terminal_size().columns)
    return Console(soft_wrap=False, width=width)


def print_table(
    view: AssessmentView,
    rows: Sequence[ResultView],
    *,
    title: str | None = None,
    counted: Sequence[ResultView] | None = None,
) -> None:
    """The rows as a table, then a summary line counting ``counted`` (default: the rows)."""
    out = console()
    counts = Counter(r.status for r in (rows if counted is None else counted))
    if rows:
        out.print(results_table(out, [_cells(r) for r in sorted(rows, key=_sort_key)], title))
    summary = ", ".join(f"{counts[s]} {s}" for s in RESULT_STATUSES if counts[s])
    out.print(  # plain text (a period is YYYY-Qn or YYYY-MM): no markup or emoji codes
        f"assessment {view.id} ({view.period}, {view.status}): {summary or 'no results'}",
        highlight=False,
        markup=False,
        emoji=False,
    )


def _cells(r: ResultView) -> tuple[str, str, str, str, str]:
    """One result's row: status, severity, rule, resource, and its message (with the waiver)."""
    message = r.message
    if r.waiver is not None:
        w = r.waiver
        message = (
            f"{message} [waiver {w['id']}: {w['reason']}; approved by {w['approver']}, "
            f"expires {str(w['expires'])[:10]}]"
        )
    return r.status, r.severity, r.rule, r.resource, message


def _empty_table(title: str | None) -> Table:
    """The five columns; every header and cell is plain text (rich looks for no markup or
    emoji codes in a Text)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, show_lines=False, expand=False)
    table.add_column(Text("status"), no_wrap=True)
    table.add_column(Text("severity"), no_wrap=True)
    table.add_column(Text("rule"), no_wrap=True)
    table.add_column(Text("resource"), overflow="fold")
    table.add_column(Text("message"), overflow="fold")
    return table


def results_table(
    out: Console, rows: Sequence[tuple[str, str, str, str, str]], title: str | None = None
) -> Table:
    """The table of one row per result as rich draws it, built as one row of five cells.

    rich measures and renders every cell on its own, ~0.1 ms each. Here the column widths
    are rich's, computed from a table of only the cells that decide them; each distinct text
    of a column is wrapped once with rich's ``Text.wrap`` at its width (most fit and need
    none), each result's lines are padded to its row's height, and each column's lines make
    one cell, which rich draws without measuring it (the widths are set). With no lines drawn
    between rows, that is the same text. When rich would squeeze a column below its
    padding, the table is built one row per result instead.
    """
    from rich.cells import cell_len
    from rich.control import strip_control_codes
    from rich.segment import Segment
    from rich.text import Text

    table = _empty_table(title)
    if not rows:
        return table
    columns = [[strip_control_codes(text) for text in column] for column in zip(*rows, strict=True)]
    widths = _content_widths(out, columns, title)
    if widths is None or any(
        cell_len(str(column.header)) > width
        for width, column in zip(widths, table.columns, strict=True)
    ):
        for status, *rest in rows:
            table.add_row(Text(status, style=STATUS_STYLE.get(status, "")), *map(Text, rest))
        return table
    wrapped = [
        _wrap(out, texts, width, column)
        for texts, width, column in zip(columns, widths, table.columns, strict=True)
    ]
    heights = [max(map(len, lines)) for lines in zip(*wrapped, strict=True)]
    styles = [STATUS_STYLE.get(status, "") for status in columns[0]]
    _, right, _, left = table.padding
    table.padding = 0  # drawn in the cells, as rich's Padding draws it: one segment each side
    for width, column in zip(widths, table.columns, strict=True):
        header = str(column.header)
        column.header = _Drawn(
            [
                *_pads(left),
                Segment(header + " " * (width - cell_len(header))),
                *_pads(right),
                Segment.line(),
            ]
        )
        column.width = left + width + right
    table.add_row(
        *(
            _drawn(out, lines, heights, styles if index == 0 else None, left, right)
            for index, lines in enumerate(wrapped)
        )
    )
    return table


def _pads(width: int) -> list[Segment]:
    from rich.segment import Segment

    return [Segment(" " * width)] if width else []


def _content_widths(
    out: Console, columns: Sequence[Sequence[str]], title: str | None
) -> list[int] | None:
    """The columns' widths inside their padding as rich lays out these cells, or None when
    rich would squeeze a column to nothing.

    rich sizes a column from the longest line of its cells and lets it shrink to their
    longest word (``Text.__rich_measure__``), so a table of the cell with the longest line
    and the cell with the longest word of each column gets the widths of the whole table.
    """
    from rich.cells import cell_len
    from rich.text import Text

    deciding: list[list[Text]] = [[], []]
    for texts in columns:
        line, word = (-1, ""), (-1, "")
        for text in dict.fromkeys(texts):
            longest_line = max(map(cell_len, text.splitlines()), default=0)
            longest_word = max(map(cell_len, text.split()), default=longest_line)
            line = max(line, (longest_line, text))
            word = max(word, (longest_word, text))
        deciding[0].append(Text(line[1]))
        deciding[1].append(Text(word[1]))
    proxy = _empty_table(title)
    for row in deciding:
        proxy.add_row(*row)
    room = out.options.max_width - proxy._extra_width
    widths = proxy._calculate_column_widths(out, out.options.update_width(room))
    inner = [width - proxy._get_padding_width(i) for i, width in enumerate(widths)]
    return None if sum(widths) > room or min(inner) < 1 else inner


def _wrap(out: Console, texts: Sequence[str], width: int, column: Column) -> list[list[str]]:
    """Each text's lines as rich draws the cell in this column (padded to its width)."""
    from rich.cells import cell_len
    from rich.text import Text

    lines: dict[str, list[str]] = {}
    for text in texts:
        if text in lines:
            continue
        if "\n" not in text and "\t" not in text and (used := cell_len(text)) <= width:
            lines[text] = [text + " " * (width - used)]
            continue
        wrapped = Text(text).wrap(
            out,
            width,
            justify=column.justify,
            overflow=column.overflow,
            no_wrap=column.no_wrap,
            tab_size=out.tab_size or 8,
        )
        lines[text] = [line.plain for line in wrapped]
    return [lines[text] for text in texts]


class _Drawn:
    """Lines already wrapped and padded to their column's width, drawn as they are (rich's
    console protocol: a table cell of them is neither measured nor wrapped again)."""

    def __init__(self, segments: list[Segment]) -> None:
        self.segments = segments

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> list[Segment]:
        return self.segments


def _drawn(
    out: Console,
    cells: Sequence[list[str]],
    heights: Sequence[int],
    styles: Sequence[str] | None,
    left: int,
    right: int,
) -> _Drawn:
    """A column's cells as one: each cell's lines between its padding, then blank lines up
    to its row's height; a styled cell's lines are styled whole, as rich styles a cell."""
    from rich.segment import Segment

    newline = Segment.line()
    before, after = _pads(left), _pads(right)
    segments: list[Segment] = []
    for row, (lines, height) in enumerate(zip(cells, heights, strict=True)):
        style = out.get_style(styles[row]) if styles and styles[row] else None
        for line in lines:
            segments += before
            segments.append(Segment(line, style))
            segments += after
            segments.append(newline)
        segments += [newline] * (height - len(lines))
    return _Drawn(segments)
