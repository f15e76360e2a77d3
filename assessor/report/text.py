"""Rule texts (remediation, audit, a manual procedure) as structured HTML.

The texts in controls/rules/**.yaml are plain text written to a few conventions:

- numbered steps (``1. List ...``) whose continuation lines are indented to the step's text;
- bullets (``- AppArmor: ...``), at the top level or inside a step;
- commands and file snippets indented deeper than the text around them;
- labelled paragraphs (``Pass: ...``, ``Fail: ...``, ``Record: ...``), each its own paragraph;
- wrapped prose: consecutive lines at the same indent form one paragraph.

``to_html`` keeps that structure (ordered and bulleted lists, code blocks, paragraphs) and
escapes every character of the text; nothing in a rule text is taken as markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markupsafe import Markup

_STEP = re.compile(r"(\d{1,3})[.)]\s+")
_BULLET = re.compile(r"[-*\u2022]\s+")
# "Pass: ...", "Fail: ...", "Record: ...": a label starts a paragraph of its own
_LABEL = re.compile(r"[A-Z][A-Za-z /-]{0,23}:\s")


@dataclass
class Para:
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(line.strip() for line in self.lines)


@dataclass
class Code:
    lines: list[str] = field(default_factory=list)


@dataclass
class Item:
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Steps:
    start: int
    items: list[Item] = field(default_factory=list)
    ordered: bool = True


Block = Para | Code | Steps


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _marker(line: str) -> tuple[bool, int, int] | None:
    """(ordered, number, width of indent + marker) when the line starts a step or bullet."""
    body = line.lstrip(" ")
    m = _STEP.match(body)
    if m:
        return True, int(m[1]), _indent(line) + m.end()
    m = _BULLET.match(body)
    if m:
        return False, 0, _indent(line) + m.end()
    return None


def parse(text: str) -> list[Block]:
    """The blocks of a rule text (tabs count as 4 spaces)."""
    lines = [line.rstrip() for line in text.expandtabs(4).splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    base = min((_indent(line) for line in lines if line), default=0)
    return _blocks(lines, base)


def _blocks(lines: list[str], base: int) -> list[Block]:
    out: list[Block] = []
    i, n = 0, len(lines)
    blank_before = False
    while i < n:
        line = lines[i]
        if not line:
            blank_before = True
            i += 1
            continue
        ind = _indent(line)
        if ind > base:
            # deeper than the text around it: a command or a file snippet, kept verbatim
            j = i
            block: list[str] = []
            while j < n and (
                (lines[j] and _indent(lines[j]) > base)
                or (not lines[j] and _next_deeper(lines, j, base))
            ):
                block.append(lines[j])
                j += 1
            cut = min(_indent(x) for x in block if x)
            out.append(Code([x[cut:] for x in block]))
            i, blank_before = j, False
            continue
        mark = _marker(line)
        if mark is not None:
            ordered, number, col = mark
            body = [" " * col + line[col:]]
            j = i + 1
            while j < n:
                nxt = lines[j]
                if nxt and _indent(nxt) <= base:
                    break
                if not nxt and not _next_deeper(lines, j, base):
                    break
                if nxt and _indent(nxt) < col:
                    nxt = " " * col + nxt.lstrip(" ")  # a shallow continuation: the step's text
                body.append(nxt)
                j += 1
            item = Item(_blocks(body, col))
            last = out[-1] if out else None
            if isinstance(last, Steps) and last.ordered == ordered:
                last.items.append(item)
            else:
                out.append(Steps(number if ordered else 1, [item], ordered))
            i, blank_before = j, False
            continue
        last = out[-1] if out else None
        if isinstance(last, Para) and not blank_before and not _LABEL.match(line.lstrip()):
            last.lines.append(line)
        else:
            out.append(Para([line]))
        i, blank_before = i + 1, False
    return out


def _next_deeper(lines: list[str], j: int, base: int) -> bool:
    """Whether the blank line at ``j`` sits inside a block deeper than ``base``."""
    for line in lines[j + 1 :]:
        if line:
            return _indent(line) > base
    return False


def _html(blocks: list[Block], parts: list[str], label: str = "") -> None:
    from markupsafe import escape

    for i, b in enumerate(blocks):
        if isinstance(b, Para):
            lead = f'<strong class="label">{escape(label)}:</strong> ' if label and i == 0 else ""
            parts.append(f"<p>{lead}{escape(b.text)}</p>")
        elif isinstance(b, Code):
            if label and i == 0:
                parts.append(f'<p><strong class="label">{escape(label)}:</strong></p>')
            parts.append(f'<pre class="cmd"><code>{escape(chr(10).join(b.lines))}</code></pre>')
        else:
            if label and i == 0:
                parts.append(f'<p><strong class="label">{escape(label)}:</strong></p>')
            if b.ordered:
                start = f' start="{b.start}"' if b.start != 1 else ""
                parts.append(f'<ol class="steps"{start}>')
            else:
                parts.append('<ul class="steps">')
            for item in b.items:
                parts.append("<li>")
                _html(item.blocks, parts)
                parts.append("</li>")
            parts.append("</ol>" if b.ordered else "</ul>")


def to_html(text: str, label: str = "") -> Markup:
    """A rule text as escaped HTML: paragraphs, numbered steps, bullets and code blocks;
    ``label`` (e.g. "Remediation") leads the first paragraph, run in."""
    from markupsafe import Markup

    parts: list[str] = []
    _html(parse(text or ""), parts, label)
    return Markup("".join(parts))  # noqa: S704 - every piece of text above went through escape()


def first_sentence(text: str, limit: int = 160) -> str:
    """The first sentence (or line) of a text, at most ``limit`` characters, for a summary."""
    flat = " ".join((text or "").split())
    m = re.search(r"(?<=[.!?])\s", flat)
    head = flat[: m.start()] if m else flat
    return head if len(head) <= limit else head[: limit - 1].rstrip() + "\u2026"
