"""The report's findings: each rule with non-passing results once, its findings grouped by
what was found, bounded evidence excerpts, where each value was read, and the evidence
documents the appendix shows."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assessor.evaluate.paths import MISSING, parse_path, resolve
from assessor.report.data.labels import (
    APPENDIX_DOCS,
    BODY_EXCERPTS,
    BODY_NAMES,
    BODY_ROWS,
    DOC_CHARS,
    EXCERPT_CHARS,
    FINDING_ORDER,
    READ_CHARS,
    SHORT_NAMES,
    req_anchor,
)
from assessor.report.text import to_html
from assessor.vocab import FINDING_STATUSES, Status, severity_place

if TYPE_CHECKING:
    from markupsafe import Markup

    from assessor.readmodel import AssessmentView, ResultView
    from assessor.report.data.waivers import AttestationView


@dataclass
class Finding:
    """One resource's non-passing result under a rule."""

    target: str
    resource: str
    status: str
    message: str
    evidence_hash: str | None
    excerpt: str
    waiver: dict[str, Any] | None = None  # the applied waiver when status is "waived"
    read: list[str] = field(default_factory=list)  # what the rule read (evaluate.sources)
    excerpt_cut: bool = False  # the excerpt leaves part of the values read out
    result_id: int = 0
    read_cut: bool = False  # a value in ``read`` was cut


@dataclass
class FindingGroup:
    """Findings of one rule that say the same thing about different resources."""

    status: str
    message: str
    waiver: dict[str, Any] | None
    resources: list[tuple[str, str]]  # (target, resource)
    total: int = 0  # resources in the group (``resources`` may list fewer)

    @property
    def hidden(self) -> int:
        return self.total - len(self.resources)


@dataclass
class RequirementRef:
    """A requirement a rule meets, as a finding names it (a link into the coverage matrix)."""

    framework: str
    short: str
    id: str

    @property
    def anchor(self) -> str:
        return req_anchor(self.framework, self.id)


@dataclass
class RuleView:
    """A rule with its non-passing results: one finding block, listed once in the report."""

    id: str
    title: str
    severity: str
    automated: bool
    counts: dict[str, int]
    findings: list[Finding] = field(default_factory=list)
    hidden: int = 0  # findings beyond the per-rule limit (not in this report at all)
    remediation: str = ""
    procedure: str = ""
    remediation_html: Markup | str = ""
    procedure_html: Markup | str = ""
    requirements: list[RequirementRef] = field(default_factory=list)
    manual_resources: list[tuple[str, str, str]] = field(default_factory=list)
    attested: list[tuple[RequirementRef, AttestationView]] = field(default_factory=list)
    number: str = ""  # "F1": its place among the findings
    manual_number: str = ""  # "M1": its place among the manual procedures

    @property
    def anchor(self) -> str:
        return f"finding-{self.id}"

    @property
    def manual_anchor(self) -> str:
        return f"manual-{self.id}"

    @property
    def status(self) -> str:
        """The finding's headline: fail, else error, else waived, else manual, else pass."""
        for s in (*FINDING_STATUSES, Status.MANUAL):
            if self.counts.get(s):
                return s
        return Status.PASS

    @property
    def bad(self) -> int:
        """Results of this rule that failed, errored or are waived failures."""
        return sum(self.counts.get(s, 0) for s in FINDING_STATUSES)

    @property
    def body_findings(self) -> list[Finding]:
        return self.findings[:BODY_ROWS]

    @property
    def body_groups(self) -> list[FindingGroup]:
        """What the body lists: the first BODY_ROWS groups, BODY_NAMES resources each."""
        return [
            FindingGroup(g.status, g.message, g.waiver, g.resources[:BODY_NAMES], g.total)
            for g in self.groups()[:BODY_ROWS]
        ]

    @property
    def more(self) -> int:
        """Non-passing resources not listed in the body (in the appendix, or counted)."""
        return self.bad - sum(len(g.resources) for g in self.body_groups)

    @property
    def excerpts(self) -> list[Finding]:
        """The first few findings that have evidence, one per evidence document."""
        seen: set[str] = set()
        out: list[Finding] = []
        for f in self.findings:
            if f.excerpt and f.evidence_hash and f.evidence_hash not in seen:
                seen.add(f.evidence_hash)
                out.append(f)
            if len(out) == BODY_EXCERPTS:
                break
        return out

    @property
    def statuses(self) -> str:
        """Its finding statuses, space-separated (the HTML filter's data-status)."""
        return " ".join(s for s in FINDING_STATUSES if self.counts.get(s))

    @property
    def frameworks(self) -> str:
        return " ".join(dict.fromkeys(r.framework for r in self.requirements))

    @property
    def targets(self) -> list[str]:
        return list(dict.fromkeys(f.target for f in self.findings))

    @property
    def waiver_ids(self) -> list[int]:
        return sorted({int(f.waiver["id"]) for f in self.findings if f.waiver})

    def groups(self) -> list[FindingGroup]:
        """Its findings grouped by what was found (status, message, waiver): one row each, with
        every resource it holds for (a thousand containers failing alike make one row)."""
        out: dict[tuple[str, str, int], FindingGroup] = {}
        for f in self.findings:
            message = f.message
            if f.resource not in ("", "*") and message.startswith(f.resource + " "):
                message = "\u2026 " + message[len(f.resource) + 1 :]  # "… has no memory limit"
            key = (f.status, message, int(f.waiver["id"]) if f.waiver else 0)
            if key not in out:
                out[key] = FindingGroup(f.status, message, f.waiver, [])
            out[key].resources.append((f.target, f.resource))
            out[key].total += 1
        return list(out.values())

    def refs_by_framework(self) -> list[tuple[str, list[RequirementRef]]]:
        out: dict[str, list[RequirementRef]] = {}
        for ref in self.requirements:
            out.setdefault(ref.short, []).append(ref)
        return list(out.items())


@dataclass
class EvidenceDoc:
    """An evidence document a finding cites, shown in the appendix (bounded)."""

    hash: str
    kind: str
    size: int
    text: str  # pretty-printed JSON, at most DOC_CHARS characters
    cut: bool
    rules: list[str]

    @property
    def anchor(self) -> str:
        return f"evidence-{self.hash}"


def _focus(value: Any, message: str) -> tuple[Any, bool]:
    """A large mapping cut down to the entries the message names (a file path, a key); the
    second value says whether anything was left out."""
    if not isinstance(value, dict) or len(json.dumps(value, default=str)) <= EXCERPT_CHARS:
        return value, False
    named = {k: v for k, v in value.items() if isinstance(k, str) and k and k in message}
    if named:
        return named, True
    return {"(keys)": sorted(str(k) for k in value)[:20]}, True


def evidence_excerpt(
    doc: dict[str, Any] | None, paths: Sequence[str], message: str = ""
) -> tuple[str, bool]:
    """The values a rule reads from one evidence document, as bounded JSON, and whether the
    excerpt was cut (a long text, or a mapping reduced to what the message names)."""
    if doc is None:
        return "", False
    data = doc.get("data", doc)
    picked: dict[str, Any] = {}
    cut = False
    for path in paths:
        try:
            value = resolve(data, parse_path(path))
        except ValueError:
            continue
        if value is MISSING:
            picked[path] = "(absent)"
        else:
            picked[path], reduced = _focus(value, message)
            cut = cut or reduced
    text = json.dumps(picked, sort_keys=True, ensure_ascii=False, default=str)
    if len(text) > EXCERPT_CHARS:
        text = text[: EXCERPT_CHARS - 1] + "\u2026"
        cut = True
    return text, cut


def rule_view(
    v: AssessmentView,
    rule_id: str,
    results: list[ResultView],
    max_findings: int,
    fw_ids: Sequence[str],
    attested: dict[tuple[str, str], AttestationView],
) -> RuleView:
    rule = v.catalog.rules.get(rule_id)
    counts: Counter[str] = Counter(r.status for r in results)
    bad = [r for r in results if r.status in FINDING_STATUSES]
    bad.sort(key=lambda r: (FINDING_ORDER.get(r.status, 9), r.target, r.resource))
    shown = bad[:max_findings] if max_findings > 0 else bad
    findings = _findings(v, shown, rule.evidence if rule is not None else [])
    refs = _requirement_refs(results, fw_ids)
    first = results[0]
    remediation = rule.remediation.strip() if rule is not None else ""
    procedure = rule.manual.procedure.strip() if rule is not None and rule.manual else ""
    view = RuleView(
        id=rule_id,
        title=rule.title if rule is not None else first.title,
        severity=first.severity,
        automated=rule.automated if rule is not None else first.raw_status != Status.MANUAL,
        counts=dict(counts),
        findings=findings,
        hidden=len(bad) - len(shown),
        remediation=remediation,
        procedure=procedure,
        remediation_html=to_html(remediation, "Remediation") if remediation else "",
        procedure_html=to_html(procedure) if procedure else "",
        requirements=refs,
        manual_resources=[
            (r.target, r.resource, r.message) for r in results if r.status == Status.MANUAL
        ],
    )
    view.attested = [
        (ref, attested[(ref.framework, ref.id)])
        for ref in view.requirements
        if (ref.framework, ref.id) in attested
    ]
    return view


def _findings(v: AssessmentView, shown: list[ResultView], paths: Sequence[str]) -> list[Finding]:
    findings = []
    for i, r in enumerate(shown):
        # evidence is read only for the findings whose excerpt the body shows
        doc = v.evidence_document(r.evidence) if i < BODY_ROWS * 2 else None
        excerpt, cut = evidence_excerpt(doc, paths, r.message)
        read, read_cut = _compact_read(v.sources(r) if doc is not None else [])
        findings.append(
            Finding(
                r.target,
                r.resource,
                r.status,
                r.message,
                r.evidence,
                excerpt,
                r.waiver,
                read,
                cut,
                r.id,
                read_cut,
            )
        )
    return findings


def _requirement_refs(results: list[ResultView], fw_ids: Sequence[str]) -> list[RequirementRef]:
    """The requirements of the report's frameworks the rule's results meet, framework order,
    then natural requirement order."""
    refs: dict[tuple[str, str], RequirementRef] = {}
    for r in results:
        for fw in fw_ids:
            for req in r.references.get(fw) or []:
                refs.setdefault((fw, req), RequirementRef(fw, SHORT_NAMES.get(fw, fw), req))
    return sorted(refs.values(), key=lambda x: (list(fw_ids).index(x.framework), natural(x.id)))


_READ = re.compile(r"^read: (?P<where>.*), field (?P<field>\S+) = .*$", re.DOTALL)


def _compact_read(lines: list[str]) -> tuple[list[str], bool]:
    """``evaluate.sources`` lines grouped by where they were read: "WHERE: field, field". The
    values are left out (the excerpt beside it shows them), so nothing is cut here; the second
    value says whether a place's description was cut at READ_CHARS characters."""
    groups: dict[str, list[str]] = {}
    cut = False
    for line in lines:
        m = _READ.match(line)
        where, item = (m["where"], m["field"]) if m else (line.removeprefix("read: "), "")
        if len(where) > READ_CHARS:
            where, cut = where[: READ_CHARS - 1] + "\u2026", True
        groups.setdefault(where, [])
        if item:
            groups[where].append(item)
    return [f"{w}: {', '.join(items)}" if items else w for w, items in groups.items()], cut


def natural(text: str) -> tuple[Any, ...]:
    """'2.10' after '2.9'; text parts compare as text."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


def evidence_docs(v: AssessmentView, findings: list[RuleView]) -> list[EvidenceDoc]:
    """The documents the findings' excerpts cite, pretty-printed and bounded."""
    cited: dict[str, list[str]] = {}
    for rv in findings:
        for f in rv.excerpts:
            if f.evidence_hash:
                cited.setdefault(f.evidence_hash, []).append(rv.id)
    docs = []
    for sha, rule_ids in list(cited.items())[:APPENDIX_DOCS]:
        doc = v.evidence_document(sha)
        if doc is None:
            continue
        text = json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False, default=str)
        cut = len(text) > DOC_CHARS
        info = v.evidence.get(sha)
        docs.append(
            EvidenceDoc(
                sha,
                info.kind if info is not None else str(doc.get("kind", "")),
                info.size if info is not None else len(text),
                text[:DOC_CHARS],
                cut,
                list(dict.fromkeys(rule_ids)),
            )
        )
    return docs


def numbered_findings(rules: dict[str, RuleView]) -> tuple[list[RuleView], list[RuleView]]:
    """The findings (rules with a non-passing result) by severity, then status, then how many
    results, numbered F1, F2, ...; and the rules with a manual part by id, numbered M1, M2, ..."""
    findings = sorted(
        (rv for rv in rules.values() if rv.bad),
        key=lambda rv: (
            severity_place(rv.severity),
            FINDING_ORDER.get(rv.status, 9),
            -rv.bad,
            rv.id,
        ),
    )
    manual = sorted(
        (
            rv
            for rv in rules.values()
            if rv.counts.get(Status.MANUAL) and (rv.procedure or rv.title)
        ),
        key=lambda rv: rv.id,
    )
    for i, rv in enumerate(findings, 1):
        rv.number = f"F{i}"
    for i, rv in enumerate(manual, 1):
        rv.manual_number = f"M{i}"
    return findings, manual
