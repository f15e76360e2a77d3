"""What a scan shows on standard error while it runs (never on standard output, which is the
results): ``--progress`` (``ASSESSOR_PROGRESS``, ``progress`` in ``assessor.toml``).

- ``auto`` (the default): on a terminal (standard error a TTY, ``CI`` unset), a status line;
  with several targets it counts the targets read, being read (their names), done and failed,
  and a line is printed above it as each target ends (collected or failed, how long it took,
  the reason). Otherwise nothing: a piped or scripted scan stays quiet.
- ``plain``: one line per target as it ends, ``assessor: [3/20] collected TARGET (1.2 s)`` or
  ``assessor: [4/20] unreachable TARGET (15.0 s): REASON``, for CI logs: the job shows
  progress (so no "no output" timeout ends it) and which host failed or hangs.
- ``none``: nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from typer import echo

from assessor.cli._common import ProgressMode as ProgressMode  # collect's option too
from assessor.cli._common import interactive
from assessor.errors import AssessorError

if TYPE_CHECKING:
    from assessor.collection import TargetEvent

READING = "reading"
COLLECTED = "collected"
SHOWN_AT_ONCE = 3  # names of targets being read shown in the status line


def mode_of(value: object) -> ProgressMode:
    """--progress (or assessor.toml's progress), checked."""
    if value is None:
        return ProgressMode.AUTO
    try:
        return ProgressMode(str(value))
    except ValueError:
        raise AssessorError(
            f"progress: {value!r} is not one of auto, plain, none", hint=None
        ) from None


class ScanProgress:
    """Each target's start and end (``event``, from any thread) and the scan's own steps
    (``say``), shown as ``mode`` says; ``start`` after the collecting process is forked
    (no display thread may exist at the fork), ``stop`` at the end."""

    def __init__(self, targets: Sequence[str], mode: ProgressMode) -> None:
        self.targets = list(targets)
        self.live = mode is ProgressMode.AUTO and interactive()
        self.plain = mode is ProgressMode.PLAIN
        self._lock = threading.Lock()
        self._reading: dict[int, float] = {}
        self._done = 0
        self._failed = 0
        self._step = ""
        self._status: Any = None
        self._console: Any = None

    @property
    def say(self) -> Callable[[str], None] | None:
        """The callback for the scan's own steps (None: nothing to show)."""
        return self._say if self.live else None

    def start(self) -> ScanProgress:
        if self.live:
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False)
            with self._lock:
                self._status = self._console.status(self._text(self._line()))
                self._status.start()
        return self

    def __enter__(self) -> ScanProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        with self._lock:
            status, self._status = self._status, None
        if status is not None:
            status.stop()

    def event(self, e: TargetEvent) -> None:
        with self._lock:
            if e.state == READING:
                self._reading[e.index] = time.monotonic()
                self._update()
                return
            self._reading.pop(e.index, None)
            self._done += 1
            if e.state != COLLECTED:
                self._failed += 1
            line = self._ended(e)
            if self.plain:
                echo(f"assessor: {line}", err=True)
            elif self._status is not None and len(self.targets) > 1:
                self._console.print(self._text(line, "red" if e.error else "", wrap=True))
            self._update()

    def _say(self, message: str) -> None:
        with self._lock:
            self._step = message
            self._update()

    def _update(self) -> None:
        if self._status is not None:
            self._status.update(self._text(self._line()))

    def _line(self) -> str:
        """The status line: the scan's step alone for one target; for several, the counts
        and the names of the targets being read (the longest-running first)."""
        if len(self.targets) <= 1:
            return self._step or "scanning"
        reading = sorted(self._reading, key=self._reading.__getitem__)
        names = ", ".join(self.targets[i] for i in reading[:SHOWN_AT_ONCE])
        more = f" and {len(reading) - SHOWN_AT_ONCE} more" if len(reading) > SHOWN_AT_ONCE else ""
        parts = [f"{self._done}/{len(self.targets)} targets done"]
        if self._failed:
            parts.append(f"{self._failed} failed")
        if reading:
            parts.append(f"reading {names}{more}")
        elif self._step:
            parts.append(self._step)
        return " · ".join(parts)

    def _text(self, line: str, style: str = "", *, wrap: bool = False) -> Any:
        """``line`` as rich text: no markup read in it (target names and errors are the
        targets' text); the status line cut to the terminal's width."""
        from rich.text import Text

        text = Text(line, style=style)
        if not wrap:  # the spinner and a space take 2 columns
            text.truncate(max(self._console.width - 3, 10), overflow="ellipsis")
        return text

    def _ended(self, e: TargetEvent) -> str:
        target = self.targets[e.index]
        head = f"[{self._done}/{len(self.targets)}] {e.state} {target} ({e.seconds:.1f} s)"
        if not e.error:
            return head
        reason = e.error.removeprefix(f"{target}: ")
        return f"{head}: {reason}"
