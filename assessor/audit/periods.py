"""Assessment periods and system names: what an assessment is about, checked once for the
scan, waivers, attestations and history alike."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from assessor.errors import TargetError

PERIOD = re.compile(r"^\d{4}-(Q[1-4]|(0[1-9]|1[0-2]))$")


def current_period(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now.year}-Q{(now.month - 1) // 3 + 1}"


def check_system(system: str | None) -> str | None:
    """A system name: printable, at most 255 characters; None or empty means none."""
    if system is None or not system.strip():
        return None
    system = system.strip()
    if len(system) > 255 or not system.isprintable():
        raise TargetError(f"system {system[:40]!r}: expected at most 255 printable characters")
    return system


def check_period(period: str) -> str:
    if not PERIOD.match(period):
        raise TargetError(f"period {period!r}: expected YYYY-Qn (2026-Q4) or YYYY-MM (2026-11)")
    return period


__all__ = ["PERIOD", "check_period", "check_system", "current_period"]
