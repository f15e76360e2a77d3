"""The closed vocabularies: every status, severity and kind assessor writes, each ordered once.

Each is a ``StrEnum`` whose values are the words stored in the database and written to every
output, so a member compares and serialises as its word (``Status.FAIL == "fail"``). Code
elsewhere names the member, never the word: ``tests/unit/test_vocabulary.py`` fails on a
status or severity string outside this module. Another format's own words that happen to be
the same ("pass" in SARIF or XCCDF) are that format's named constants in its module.

An order a report, table or rollup needs is defined here, once, from the declaration order.
"""

from __future__ import annotations

from enum import StrEnum


# A rule's severity, least severe first: the declaration order is the rank. (No docstring:
# pydantic would write it into the rule file schema, controls/schema/rule.schema.json.)
class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for ``info`` up to 4 for ``critical``."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK: dict[str, int] = {s: i for i, s in enumerate(Severity)}

# The order reports, tables and counts show severities in: most severe first.
SEVERITIES_WORST_FIRST: tuple[Severity, ...] = tuple(reversed(Severity))
_SEVERITY_PLACE: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES_WORST_FIRST)}


def at_or_above(severity: str, floor: Severity) -> bool:
    """True when ``severity`` is a severity at least as severe as ``floor``; a word outside
    the vocabulary never is."""
    rank = _SEVERITY_RANK.get(severity)
    return rank is not None and rank >= floor.rank


def severity_place(severity: str) -> int:
    """A sort key, most severe first; a word outside the vocabulary (an imported result's
    own) sorts after every severity."""
    return _SEVERITY_PLACE.get(severity, len(_SEVERITY_PLACE))


class Status(StrEnum):
    """A status, worst first: the declaration order is the precedence of a rollup.

    A stored result is one of ``pass``, ``fail``, ``not_applicable``, ``manual`` or
    ``error``. ``waived`` is a shown status only: a stored fail that an applied waiver covers
    reads ``waived`` (the stored result stays ``fail``). ``not_assessed`` is a requirement's
    only: no result references it (no rule, or no target in scope that its rules read).
    """

    FAIL = "fail"
    ERROR = "error"
    WAIVED = "waived"
    MANUAL = "manual"
    PASS = "pass"  # noqa: S105 - a status, not a password
    NOT_APPLICABLE = "not_applicable"
    NOT_ASSESSED = "not_assessed"


# A requirement's statuses, worst first (every member).
REQUIREMENT_STATUSES: tuple[Status, ...] = tuple(Status)
# A result's statuses as shown, worst first.
RESULT_STATUSES: tuple[Status, ...] = tuple(s for s in Status if s is not Status.NOT_ASSESSED)
_STATUS_PLACE: dict[str, int] = {s: i for i, s in enumerate(Status)}


def status_place(status: str) -> int:
    """A sort key, worst first; a word outside the vocabulary sorts after every status."""
    return _STATUS_PLACE.get(status, len(_STATUS_PLACE))


# What an evaluation stores: a result's statuses less the shown-only ``waived``.
STORED_STATUSES: tuple[Status, ...] = tuple(s for s in RESULT_STATUSES if s is not Status.WAIVED)
# A result that failed or could not be judged, waived or not: what --fail-on gates on, what
# the results table shows by default, what a diff calls a new failure.
FAILING_STATUSES: tuple[Status, ...] = (Status.FAIL, Status.ERROR)
# The statuses that make a finding (something to fix or a recorded exception), worst first.
FINDING_STATUSES: tuple[Status, ...] = (Status.FAIL, Status.ERROR, Status.WAIVED)
# The order counts are shown in (tables, charts, trend columns): passes first.
COUNT_ORDER: tuple[Status, ...] = (
    Status.PASS,
    Status.FAIL,
    Status.ERROR,
    Status.WAIVED,
    Status.MANUAL,
    Status.NOT_APPLICABLE,
)
# The results that were judged (applied to the resource): every count but not_applicable.
JUDGED_STATUSES: tuple[Status, ...] = COUNT_ORDER[:-1]
# What a person attests a manual requirement to be.
ATTESTATION_STATUSES: tuple[Status, ...] = (Status.PASS, Status.FAIL)


# A requirement's coverage by the catalog's rules (a framework file's ``status``; derived
# from its rules when absent). No docstring: pydantic would write it into the framework
# file schema, controls/schema/framework.schema.json.
class Coverage(StrEnum):
    AUTOMATED = "automated"
    PARTIAL = "partial"
    MANUAL = "manual"
    NOT_APPLICABLE = "not_applicable"
    NOT_COVERED = "not_covered"


class TargetKind(StrEnum):
    """What a target string names (DESIGN section 4): the scheme before its first colon."""

    HOST = "host"
    ENGINE = "engine"
    IMAGE = "image"
    REGISTRY = "registry"


class RuleTarget(StrEnum):
    """The evidence kind a rule reads; one result per resource of that kind.

    ``xccdf-rule``: one rule-result of an imported OpenSCAP evaluation (``assessor import
    oscap-arf``), its resource the XCCDF rule id; no collector of a scan produces it.
    """

    HOST = "host"
    ENGINE = "engine"
    CONTAINER = "container"
    IMAGE = "image"
    REGISTRY = "registry"
    XCCDF_RULE = "xccdf-rule"


class TargetStatus(StrEnum):
    """What became of one target of a scan: collected, or why its evidence is missing."""

    COLLECTED = "collected"
    UNREACHABLE = "unreachable"
    ERROR = "error"


class AssessmentStatus(StrEnum):
    """A stored assessment: complete when every target was collected and judged."""

    COMPLETE = "complete"
    INCOMPLETE = "incomplete"


class BundleNote(StrEnum):
    """How the note of an assessment stored by ``assessor ingest`` begins: from a signed
    evidence bundle, or from an unsigned one (``--allow-unsigned``); the report says which."""

    SIGNED = "from evidence bundle"
    UNSIGNED = "from an UNSIGNED evidence bundle"
