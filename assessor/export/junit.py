"""JUnit XML of a stored assessment, for CI systems that show test reports.

``<testsuites name="assessor">`` holds one ``<testsuite>`` per target (name: the target URI;
timestamp: the assessment's start in UTC, without a zone, as the Ant and Jenkins schemas
want) and one ``<testcase>`` per rule x resource:

- ``classname`` is the target URI, so (classname, name) is unique across the file and a CI
  groups the cases by target;
- ``name`` is ``RULE-ID [RESOURCE]``: the rule and what it judged (a container, an image, a
  host); a target-wide result (stored resource ``*``) reads ``RULE-ID [whole KIND]``
  (``[whole host]``, ``[whole engine]``). Line breaks and control characters in a resource
  become spaces, so names stay on one line; should two cases of a target still read the same,
  the later ones end in `` #2``, `` #3``.

Status mapping: a fail is a ``<failure type=SEVERITY>`` (message: what the rule found; text:
the rule, evidence hash, references and remediation); an evaluation error an ``<error
type="evaluation-error">``; manual, not_applicable and waived results are ``<skipped>`` whose
message starts ``manual: ``, ``not applicable: `` or ``waived: `` (a waived fail is not a
failure a build should break on, but is not a pass either: ``waived: REASON (APPROVER,
expires DATE)``); a pass has no child. Each case carries ``<properties>`` (as pytest writes
them): ``status`` (as shown), ``rule``, ``resource`` (as stored), ``resource_kind`` and one
``reference:FRAMEWORK`` per framework it references (requirement ids, comma separated), so
counts per status and per framework can be read back from the file alone.

A target that could not be collected gets one ``<error>`` test case of its own (name
``collect [whole KIND]``), so a CI run cannot look green for it. Text from targets is put in
by lxml; characters XML 1.0 cannot hold are removed.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import UTC
from typing import assert_never

from lxml import etree

from assessor.export.data import ExportData, ExportResult, ExportTarget, clean
from assessor.vocab import Status, TargetStatus

# a skipped test case's message starts with what it is
_SKIPPED = {
    Status.NOT_APPLICABLE: "not applicable",
    Status.MANUAL: Status.MANUAL.value,
    Status.WAIVED: Status.WAIVED.value,
}
ERROR_ELEMENT = "error"  # JUnit's <error> (a test that could not run)


def render_junit(data: ExportData) -> bytes:
    """The assessment as JUnit XML (UTF-8, indented)."""
    by_target: dict[str, list[ExportResult]] = defaultdict(list)
    for r in data.results:
        by_target[r.target].append(r)
    totals: Counter[str] = Counter()
    for t in data.targets:
        totals.update(_counts(by_target[t.uri], t))
    root = etree.Element("testsuites")
    _set(root, name="assessor", **_totals(totals), time="0")
    for n, t in enumerate(data.targets):
        root.append(_suite(data, n, t, by_target[t.uri]))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _counts(results: list[ExportResult], t: ExportTarget) -> Counter[str]:
    c: Counter[str] = Counter({"tests": len(results), "failures": 0, "errors": 0, "skipped": 0})
    for r in results:
        match r.status:
            case Status.FAIL:
                c["failures"] += 1
            case Status.ERROR:
                c["errors"] += 1
            case Status.WAIVED | Status.MANUAL | Status.NOT_APPLICABLE:
                c["skipped"] += 1
            case Status.PASS | Status.NOT_ASSESSED:  # not_assessed is never a result's
                pass
            case _:
                assert_never(r.status)
    if t.status != TargetStatus.COLLECTED:
        c["tests"] += 1
        c["errors"] += 1
    return c


def _totals(c: Counter[str]) -> dict[str, str]:
    return {k: str(c[k]) for k in ("tests", "failures", "errors", "skipped")}


def _set(el: etree._Element, **attrs: object) -> None:
    for key, value in attrs.items():
        el.set(key, clean(value))


def _suite(
    data: ExportData, n: int, t: ExportTarget, results: list[ExportResult]
) -> etree._Element:
    suite = etree.Element("testsuite")
    started = data.started.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    _set(suite, name=t.uri, **_totals(_counts(results, t)), time="0")
    _set(suite, timestamp=started.isoformat(), id=n, package=t.kind)
    hostname = t.identity.get("hostname") or t.identity.get("name")
    if hostname:
        _set(suite, hostname=hostname)
    props = etree.SubElement(suite, "properties")
    for name, value in _properties(data, t):
        _set(etree.SubElement(props, "property"), name=name, value=value)
    names: Counter[str] = Counter()

    def case_named(name: str) -> etree._Element:
        names[name] += 1
        shown = name if names[name] == 1 else f"{name} #{names[name]}"
        case = etree.SubElement(suite, "testcase")
        _set(case, classname=t.uri, name=shown, time="0")
        return case

    if t.status != TargetStatus.COLLECTED:
        case = case_named(f"collect [whole {t.kind}]")
        err = etree.SubElement(case, ERROR_ELEMENT)
        _set(err, message=t.error or t.status, type=f"target-{t.status}")
        err.text = clean(f"{t.uri} was not collected ({t.status}): {t.error or 'no detail'}")
    rules = data.catalog.rules
    for r in results:
        case = case_named(case_name(r.rule, r.resource, t.kind))
        rule = rules.get(r.rule)
        props = etree.SubElement(case, "properties")
        shown = [
            ("status", r.status),
            ("rule", r.rule),
            ("resource", r.resource),
            ("resource_kind", rule.target.value if rule is not None else t.kind),
        ]
        shown += [(f"reference:{fw}", ",".join(ids)) for fw, ids in sorted(r.references.items())]
        for name, value in shown:
            _set(etree.SubElement(props, "property"), name=name, value=value)
        _outcome(case, r, rule.remediation.strip() if rule else "")
    return suite


def _outcome(case: etree._Element, r: ExportResult, remediation: str) -> None:
    """The test case's failure, error or skipped element, by the result's status."""
    match r.status:
        case Status.FAIL:
            el = etree.SubElement(case, "failure")
            _set(el, message=r.message, type=r.severity)
            el.text = clean(_detail(r, remediation))
        case Status.ERROR:
            el = etree.SubElement(case, ERROR_ELEMENT)
            _set(el, message=r.message, type="evaluation-error")
            el.text = clean(_detail(r, ""))
        case Status.WAIVED if r.waiver is not None:
            w = r.waiver
            expires = str(w.get("expires") or "")[:10] or "never"
            el = etree.SubElement(case, "skipped")
            _set(el, message=f"waived: {w.get('reason')} ({w.get('approver')}, expires {expires})")
            el.text = clean(_detail(r, ""))
        case Status.WAIVED | Status.MANUAL | Status.NOT_APPLICABLE:
            _set(etree.SubElement(case, "skipped"), message=f"{_SKIPPED[r.status]}: {r.message}")
        case Status.PASS | Status.NOT_ASSESSED:  # a pass passes (not_assessed is never a result's)
            pass
        case _:
            assert_never(r.status)


_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def case_name(rule: str, resource: str, kind: str) -> str:
    """``RULE [RESOURCE]`` on one line; ``RULE [whole KIND]`` for a target-wide result."""
    shown = f"whole {kind}" if resource == "*" else _BREAKS.sub(" ", resource).strip()
    return f"{rule} [{shown or '(unnamed)'}]"


def _detail(r: ExportResult, remediation: str) -> str:
    refs = "; ".join(f"{fw} {', '.join(ids)}" for fw, ids in r.references.items())
    lines = [r.message, "", f"rule: {r.rule} ({r.title})", f"severity: {r.severity}"]
    lines += [f"evidence: sha256 {r.evidence}"] if r.evidence else []
    lines += [f"references: {refs}"] if refs else []
    lines += ["", "remediation:", remediation] if remediation else []
    return "\n".join(lines)


def _properties(data: ExportData, t: ExportTarget) -> list[tuple[str, str]]:
    a = data.assessment
    props = [
        (f"assessment.{key}", str(a[key]))
        for key in ("id", "uuid", "period", "system", "status", "catalog_digest", "finalised")
        if a.get(key) is not None
    ]
    props += [("tool.version", data.tool_version), ("target.kind", t.kind)]
    props += [("target.status", t.status)]
    for key, value in sorted(t.identity.items()):
        shown = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        props.append((f"identity.{key}", shown))
    return props
