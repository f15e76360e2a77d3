"""A requirement's status, rolled up from the results of the rules that meet it (DESIGN §3)."""

from __future__ import annotations

from collections.abc import Iterable

# Requirement statuses, worst first. ``not_assessed``: no result references the requirement
# (no rule, or no target in scope that its rules read); never counted as passed.
REQUIREMENT_STATUSES = (
    "fail",
    "error",
    "waived",
    "manual",
    "pass",
    "not_applicable",
    "not_assessed",
)


def rollup(statuses: Iterable[str]) -> str:
    """fail if any fail; error if any error; waived if failures are all waived; manual if a
    manual part is unanswered; pass if everything that applied passed; not_applicable if
    nothing applied; not_assessed if there is no result at all."""
    seen = set(statuses)
    if not seen:
        return "not_assessed"
    for status in REQUIREMENT_STATUSES[:5]:
        if status in seen:
            return status
    return "not_applicable"


def requirement_status(statuses: Iterable[str], attested: str | None = None) -> str:
    """A requirement's status from its results' shown statuses and, when a person attested
    it, the attestation's pass or fail, which answers the manual part (replaces "manual")."""
    if attested is None:
        return rollup(statuses)
    return rollup([s for s in statuses if s != "manual"] + [attested])
