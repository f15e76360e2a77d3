"""The hostile-input corpus: what a case is, and how one is run.

Every input assessor reads is written by someone else. A case plants one defect (a target
string, a YAML bomb, an image archive, a daemon file, a registry answer, an output path, a
database state) and says what the real command line must answer: its exit code and a
pattern its one-line error must match. The runner (``test_corpus.py``) runs each case in a
subprocess of its own under a wall-clock and an address-space bound, in a working directory
of its own with HOME inside it, and checks that no traceback is printed.

Cases live in ``cases_<area>.py`` modules, each with a ``CASES`` list; the runner collects
every such module, so adding a case is one entry in one list.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Ctx:
    """What a case may use while it builds its input."""

    work: Path  # the case's own working directory (also HOME); the CLI runs here
    db: str  # the case's database URL (sqlite file in work)
    stack: contextlib.ExitStack  # for servers and other things to stop after the case
    env: dict[str, str] = field(default_factory=dict)  # extra environment for the CLI


@dataclass(frozen=True)
class Case:
    """One hostile input and the answer the command line must give."""

    name: str  # unique in the corpus, kebab-case
    area: str  # targets | yaml | images | daemon | registry | files | db | ...
    defect: str  # what is planted, in words
    build: Callable[[Ctx], list[str]]  # makes the input under ctx.work, returns the CLI argv
    code: int  # expected exit code (DESIGN section 7)
    error: str | None  # regex one stderr line must match (re.search); None: no error line
    timeout: float = 60.0  # seconds of wall clock for the whole CLI run
    memory: int = 2 << 30  # bytes of address space (RLIMIT_AS) for the CLI process
    check: Callable[[Ctx, str, str], None] | None = None  # extra checks on (ctx, stdout, stderr)
