"""Command-line entry point. The only place that exits; errors become one line, no traceback."""

from __future__ import annotations

import atexit
import gc
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from assessor.errors import AssessorError


def quiet_library_warnings() -> None:
    """Keep libraries' notes to their own developers off a user's terminal: pyHanko imports
    cryptography's DSA key types, and cryptography 46 and later warns on that import that DSA
    is deprecated, on every command that signs or verifies; asyncssh (engine:ssh:// targets)
    imports the same types. assessor never makes or accepts a DSA key for signing
    (assessor.sign.keys), and the note is about cryptography's future, not about the run, so
    the line would only alarm a reader of the output."""
    for library in ("pyhanko", "asyncssh"):
        warnings.filterwarnings("ignore", message="DSA is deprecated", module=rf"{library}(\.|$)")


def skip_httpx_command_line() -> None:
    """httpx imports its own command-line client (httpx._main: click, Pygments, rich's syntax
    highlighting and progress bars, about 15 ms) whenever click is installed, though assessor
    never runs it. Marking that module absent makes ``import httpx`` take the fallback httpx
    itself provides for a missing client (its __init__ catches the ImportError)."""
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # None: absent


def skip_final_collections() -> None:
    """When the interpreter ends, Python's shutdown runs full garbage collections over every
    object the command made (after a scan ~85,000, ~40 ms a pass, ~0.1 s of CPU in all) only
    to free memory the process is about to give back. Freezing them first (``gc.freeze``)
    leaves those passes nothing to walk; atexit handlers and the freeing of each module's
    objects still run. Registered with atexit, so a process that calls main() and goes on
    is not affected until it ends."""
    atexit.unregister(gc.freeze)  # once, however often main() runs
    atexit.register(gc.freeze)


@contextmanager
def uncollected_imports() -> Iterator[None]:
    """A command's heavy imports with the cyclic garbage collector off, their objects frozen
    (``gc.freeze``) once done. The modules, classes and functions they make live until the
    process ends, so the collector's passes over them free nothing: during a scan's imports
    ~45 ms of passes, and every later full collection would walk them again. The collector
    is then as it was; main() unfreezes everything when the command ends, so a process that
    calls main() and goes on collects as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def main(argv: list[str] | None = None) -> None:
    """Run the CLI. Usage errors exit 2 (Typer); AssessorError exits with its own code."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:  # what the root's --version prints, without loading Typer
        from assessor import __version__

        print(f"assessor {__version__}")
        return
    with uncollected_imports():
        from assessor.cli.app import make_app

    quiet_library_warnings()
    skip_httpx_command_line()
    skip_final_collections()
    try:
        _run(make_app, args)
    finally:
        gc.unfreeze()  # a process that calls main() and goes on collects as usual


def _run(make_app: Callable[[list[str]], Any], args: list[str]) -> None:
    """The command, its errors as one line and the exit code (see main)."""
    out_of_memory = False
    try:
        make_app(args)(args=args, prog_name="assessor")
    except AssessorError as e:
        print(f"assessor: error: {e.diagnostics()}", file=sys.stderr)
        if os.environ.get("ASSESSOR_DEBUG"):
            raise
        sys.exit(e.exit_code)
    except MemoryError:
        out_of_memory = True  # reported below, once the failed work's frames are released
    except KeyboardInterrupt:
        print("assessor: interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as e:  # the last line of defence: one line, never a traceback
        if os.environ.get("ASSESSOR_DEBUG"):
            raise
        text = (str(e).splitlines() or [""])[0]
        text = text.encode("unicode_escape", "backslashreplace").decode("ascii")[:200]
        print(
            f"assessor: internal error: {type(e).__name__}: {text} (a defect of assessor; "
            "ASSESSOR_DEBUG=1 shows the traceback; please report it)",
            file=sys.stderr,
        )
        sys.exit(2)
    if out_of_memory:
        gc.collect()
        print(
            "assessor: error: out of memory (for a report: lower --max-findings, or fewer "
            "--framework)",
            file=sys.stderr,
        )
        sys.exit(2)
