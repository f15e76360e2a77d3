"""A requirement's status, rolled up from the results of the rules that meet it (DESIGN §3)."""

from __future__ import annotations

from collections.abc import Iterable

from assessor.vocab import REQUIREMENT_STATUSES, Status

# The statuses a result can give a requirement, worst first: every requirement status but
# the two that say no result decided it (nothing applied; nothing referenced it).
_DECIDING = tuple(
    s for s in REQUIREMENT_STATUSES if s not in (Status.NOT_APPLICABLE, Status.NOT_ASSESSED)
)


def rollup(statuses: Iterable[str]) -> Status:
    """fail if any fail; error if any error; waived if failures are all waived; manual if a
    manual part is unanswered; pass if everything that applied passed; not_applicable if
    nothing applied; not_assessed if there is no result at all."""
    seen = set(statuses)
    if not seen:
        return Status.NOT_ASSESSED
    for status in _DECIDING:
        if status in seen:
            return status
    return Status.NOT_APPLICABLE


def requirement_status(statuses: Iterable[str], attested: str | None = None) -> Status:
    """A requirement's status from its results' shown statuses and, when a person attested
    it, the attestation's pass or fail, which answers the manual part (replaces "manual")."""
    if attested is None:
        return rollup(statuses)
    return rollup([s for s in statuses if s != Status.MANUAL] + [attested])
