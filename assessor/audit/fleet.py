"""A fleet: every assessment of one system in one period, read host by host.

Many assessments may cover one system and period (one per ingested bundle, one per scan of a
few hosts), and one assessment may cover many hosts (a scan of many ``ssh://`` targets). The
fleet report and the trend read each host's **latest reading** in the period: the targets of
that host in the latest assessment (by start, then id) that has any, so a host read twice in a
quarter counts once, as it was last seen. Assessments that finished count, complete or
not (a target not reached is part of the reading: the host shows as not reached); a killed scan
(never finished) does not.

The host of a target is the host in its URI for ``ssh://``, ``engine:ssh://`` and
``engine:tcp://`` targets (lower case, without the user; with the port for an SSH port other
than 22, since two sshd on one address are two machines, as an inventory's HOST:PORT lines
are; never the engine's TCP port); for any other target it is the assessment's
``scanner_host`` (for a bundle, the machine that collected it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, select

from assessor.store.models import Assessment, Target

UNKNOWN_HOST = "(host not recorded)"
# an assessment that finished: complete, or incomplete because a target was not reached
# (a fleet's scan of a thousand hosts rarely reaches them all); a killed scan never finished
FINISHED = Assessment.finished.is_not(None)
SSH_PORT = 22
_REMOTE = ("ssh://", "engine:ssh://", "engine:tcp://")


def host_of(uri: str, scanner_host: str | None) -> str:
    """The host a target was read from (see the module's docstring)."""
    if uri.startswith(_REMOTE):
        rest = uri.removeprefix("engine:")
        try:
            parts = urlsplit(rest)
            host, port = parts.hostname, parts.port
        except ValueError:  # a malformed URI (unbalanced brackets, a bad port): its scanner's
            host = port = None
        if host:
            if not rest.startswith("ssh://") or port in (None, SSH_PORT):
                return host
            # two sshd on one address are two machines (as inventories read HOST:PORT lines)
            return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return scanner_host or UNKNOWN_HOST


@dataclass(frozen=True, slots=True)
class Reading:
    """One host's latest reading: its targets in one assessment."""

    host: str
    assessment_id: int
    target_ids: tuple[int, ...]


def readings(
    session: Any,
    system: str,
    periods: Iterable[str],
    *,
    upto: int | None = None,
    anchor: int | None = None,
) -> dict[str, list[Reading]]:
    """Per period, each host's latest reading among the finished assessments of ``system``
    (``FINISHED``; at most id ``upto``), ordered by host. ``anchor`` (an assessment, finished
    or not) stands for the hosts it read in its own period, whatever else was read there."""
    wanted = list(dict.fromkeys(periods))
    q = (
        select(
            Target.id,
            Target.uri,
            Assessment.id,
            Assessment.period,
            Assessment.started,
            Assessment.scanner_host,
        )
        .join(Assessment, Target.assessment_id == Assessment.id)
        .where(Assessment.system == system, Assessment.period.in_(wanted))
        .where(or_(FINISHED, Assessment.id == anchor) if anchor is not None else FINISHED)
        .order_by(Assessment.id, Target.id)
    )
    if upto is not None:
        q = q.where(Assessment.id <= upto)
    # period -> host -> (rank, assessment id, target ids)
    best: dict[str, dict[str, tuple[tuple[int, datetime, int], int, list[int]]]] = {}
    for tid, uri, aid, period, started, scanner in session.execute(q):
        host = host_of(uri, scanner)
        rank = (1 if aid == anchor else 0, started, aid)
        hosts = best.setdefault(period, {})
        cur = hosts.get(host)
        if cur is None or cur[0] < rank:
            hosts[host] = (rank, aid, [tid])
        elif cur[1] == aid:
            cur[2].append(tid)
    return {
        period: [Reading(h, aid, tuple(tids)) for h, (_, aid, tids) in sorted(hosts.items())]
        for period, hosts in best.items()
    }


def by_assessment(found: Iterable[Reading]) -> dict[int, list[Reading]]:
    """The readings grouped by their assessment, by id."""
    out: dict[int, list[Reading]] = {}
    for r in found:
        out.setdefault(r.assessment_id, []).append(r)
    return dict(sorted(out.items()))


__all__ = ["FINISHED", "UNKNOWN_HOST", "Reading", "by_assessment", "host_of", "readings"]
