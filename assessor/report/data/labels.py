"""The report's words and limits: default frameworks, severity order, status labels, the
bounds on what one report shows, and the anchors its sections link by."""

from __future__ import annotations

import re

from assessor import extensions
from assessor.vocab import FINDING_STATUSES, Status

DEFAULT_FRAMEWORKS = ("nistir-8176", "cis-docker-1.8.0", "sp800-190")
EXCERPT_CHARS = 600  # one finding's evidence excerpt, at most
MAX_FINDINGS_PER_RULE = 500  # failing resources listed under one rule; the rest are counted
BODY_ROWS = 3  # resources a finding lists in the body; the rest are in the appendix
BODY_NAMES = 4  # resources one row of a finding names in the body
BODY_EXCERPTS = 1  # evidence excerpts a finding shows in the body
READ_CHARS = 240  # where a finding's evidence was read, at most
NA_REASONS = 3  # distinct reasons a not-applicable requirement shows
DOC_CHARS = 4000  # an evidence document shown in the appendix, at most (pretty-printed)
APPENDIX_DOCS = 200  # evidence documents the appendix shows in full, at most
CHANGE_ROWS = 8  # rows of the new/fixed tables on the summary page

STATUS_LABELS: dict[str, str] = {
    Status.PASS: "passed",
    Status.FAIL: "failed",
    Status.WAIVED: Status.WAIVED.value,
    Status.MANUAL: Status.MANUAL.value,
    Status.NOT_APPLICABLE: "not applicable",
    Status.ERROR: Status.ERROR.value,
    Status.NOT_ASSESSED: "not assessed",
}
# short labels for table headers (never broken mid-word in a narrow column)
STATUS_SHORT: dict[str, str] = {
    Status.PASS: Status.PASS.value,
    Status.FAIL: Status.FAIL.value,
    Status.WAIVED: Status.WAIVED.value,
    Status.MANUAL: Status.MANUAL.value,
    Status.NOT_APPLICABLE: "n/a",
    Status.ERROR: Status.ERROR.value,
    Status.NOT_ASSESSED: "none",
}
# the order findings are listed in, within one severity
FINDING_ORDER: dict[str, int] = {s: i for i, s in enumerate(FINDING_STATUSES)}
# the coverage matrix's result columns: a waived fail beside the fails
MATRIX_COLUMNS = (
    Status.PASS,
    Status.FAIL,
    Status.WAIVED,
    Status.ERROR,
    Status.MANUAL,
    Status.NOT_APPLICABLE,
)
# the columns it always shows; the others when a result of the framework has them
MATRIX_KEPT = (Status.PASS, Status.FAIL, Status.MANUAL)
# what each target kind's collector reads (a plugin's kind is shown by its name)
KIND_COLLECTORS = {kind: entry.reads for kind, entry in extensions.COLLECTORS.items()}
SHORT_NAMES = {
    "nistir-8176": "NIST IR 8176",
    "cis-docker-1.8.0": "CIS Docker 1.8.0",
    "cis-docker-1.6.0": "CIS Docker 1.6.0",
    "sp800-190": "SP 800-190",
    "nist-800-53r5": "SP 800-53r5",
}


_ENSURE = re.compile(r"^Ensure\s+(?:that\s+)?", re.IGNORECASE)
_TAIL = re.compile(r"\s*\((?:Automated|Manual)\)\s*$")


def short_title(title: str) -> str:
    """'Ensure that the container host has been Hardened (Manual)' -> 'The container host has
    been Hardened'."""
    text = _TAIL.sub("", _ENSURE.sub("", title.strip()))
    return text[:1].upper() + text[1:] if text else title


def req_anchor(framework: str, requirement: str) -> str:
    """The id of a requirement's row in the coverage matrix."""
    return f"req-{framework}-{requirement}"
