"""The one place assessor runs a program: argv lists only, a timeout, bounded output."""

from __future__ import annotations

import shutil
import subprocess  # noqa: TID251 - this module is the single subprocess wrapper
from dataclasses import dataclass

MAX_OUTPUT = 4 << 20


@dataclass(frozen=True, slots=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str


def which(name: str) -> str | None:
    return shutil.which(name)


def run(argv: list[str], timeout: float = 15.0) -> Completed | None:
    """Run ``argv``; None when the program is missing, times out, or cannot start."""
    try:
        proc = subprocess.run(
            argv, capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Completed(
        proc.returncode,
        proc.stdout[:MAX_OUTPUT].decode("utf-8", "replace"),
        proc.stderr[:MAX_OUTPUT].decode("utf-8", "replace"),
    )
