"""Read an OpenSCAP result file (ARF, or a plain XCCDF 1.2 result) into evidence documents.

One ``xccdf-rule`` document per evaluated rule-result (``notselected`` ones are skipped): the
XCCDF rule id is the resource; the data holds OpenSCAP's result, severity, idents and the
rule's title, description and references from the benchmark, plus the profile, benchmark,
TestResult and target it belongs to, so each document stands alone. The run as a whole
(score, counts, scanner, OS) is :attr:`Run.identity`, the importing target's identity.

The file is hostile: no DOCTYPE (so no entity of any kind), no network, no huge text nodes,
a size bound, bounded counts and string lengths. This module observes; the catalog's
``openscap_rule_result`` evaluator judges.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lxml import etree

from assessor.errors import CollectorError
from assessor.evidence import Evidence, Redactor
from assessor.regularfile import NotRegularFileError, TooLargeError, read_regular

if TYPE_CHECKING:
    from lxml import etree

KIND = "xccdf-rule"
MAX_BYTES = 256 << 20  # 256 MiB: a larger file is refused
MAX_RESULTS = 50_000  # evaluated rule-results in one file
MAX_TEST_RESULTS = 64
MAX_ID = 1000  # an id longer than this is refused (resources are at most 1024)
MAX_TITLE = 500
MAX_DESCRIPTION = 2000
MAX_TEXT = 500  # a reference, an ident, a fact
MAX_MESSAGE = 1000
MAX_REFERENCES = 200  # per rule
MAX_IDENTS = 50
MAX_MESSAGES = 20
MAX_ADDRESSES = 64

XCCDF = "http://checklists.nist.gov/xccdf/1.2"
ARF = "http://scap.nist.gov/schema/asset-reporting-format/1.1"
DS = "http://scap.nist.gov/schema/scap/source/1.2"
OVAL_SC = "http://oval.mitre.org/XMLSchema/oval-system-characteristics-5"
X = f"{{{XCCDF}}}"

# XCCDF 1.2 rule-result values (NISTIR 7275r4, 6.6.4.2)
RESULTS = (
    "pass",
    "fail",
    "error",
    "unknown",
    "notapplicable",
    "notchecked",
    "notselected",
    "informational",
    "fixed",
)
FACT = "urn:xccdf:fact:asset:identifier:"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t\r\f\v]+")


class ArfError(CollectorError):
    """The file is not a readable OpenSCAP result (not XML, not ARF, over a limit)."""


def clean(text: str | None, limit: int, *, one_line: bool = True) -> str:
    """Text from the file made safe to keep: control characters (C0 but tab and newline, DEL,
    C1) become U+FFFD, whitespace is collapsed (to one line unless ``one_line`` is False), and
    the length is bounded (a cut ends with an ellipsis)."""
    if not text:
        return ""
    text = _CONTROL.sub("\ufffd", text)
    if one_line:
        text = " ".join(text.split())
    else:
        lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


@dataclass(frozen=True, slots=True)
class RuleResult:
    """One evaluated rule-result, with what the benchmark says of its rule."""

    rule: str  # the XCCDF rule id (idref)
    resource: str  # the rule id, suffixed " (2)" ... when the TestResult repeats it
    result: str
    severity: str
    weight: float | None
    time: str | None
    title: str
    description: str
    idents: list[dict[str, str]]
    references: list[dict[str, str]]
    checks: list[dict[str, str]]
    messages: list[str]
    fix: bool  # the benchmark has a fix (remediation script) for the rule
    defined: bool  # the rule's definition was found in the file's benchmark


@dataclass(slots=True)
class Run:
    """One XCCDF TestResult: one evaluation of one profile on one target."""

    source: str  # the file's name
    sha256: str  # of the file's bytes
    test_result: str
    benchmark: dict[str, str]
    profile: dict[str, str]
    started: str | None
    finished: str | None
    scanner: str
    target: str  # the TestResult's target name
    hostname: str
    fqdn: str
    os: str
    addresses: list[str]
    scores: list[dict[str, Any]]
    scanned_as: str
    results: list[RuleResult] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Evaluated rule-results by OpenSCAP result, in XCCDF's order."""
        n = Counter(r.result for r in self.results)
        return {k: n[k] for k in (*RESULTS, *sorted(set(n) - set(RESULTS))) if n[k]}

    @property
    def profile_short(self) -> str:
        """``standard`` for ``xccdf_org.ssgproject.content_profile_standard``."""
        pid = self.profile.get("id") or ""
        if not pid:
            return "default"
        short = pid.rsplit("_profile_", 1)[-1][:200]
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in short) or "default"

    @property
    def uri(self) -> str:
        """The target this run is stored as: ``openscap:HOST/PROFILE``."""
        host = "".join(c if c.isalnum() or c in "-_.:" else "_" for c in self.hostname)
        return f"openscap:{host or 'unknown-host'}/{self.profile_short}"

    def collected_at(self) -> datetime:
        """When OpenSCAP observed the target: the TestResult's end (or start) time."""
        for stamp in (self.finished, self.started):
            when = _parse_time(stamp)
            if when is not None:
                return when
        return datetime.now(UTC)

    def identity(self) -> dict[str, Any]:
        """The imported target's identity: the host, the run, and the file it came from."""
        score = self.scores[0] if self.scores else None
        return {
            "hostname": self.hostname,
            "fqdn": self.fqdn,
            "os": self.os,
            "addresses": self.addresses,
            "benchmark": _label(self.benchmark),
            "profile": _label(self.profile),
            "test_result": self.test_result,
            "scanner": self.scanner,
            "scanned_as": self.scanned_as,
            "started": self.started,
            "finished": self.finished,
            "score": f"{score['value']:g} of {score['maximum']:g} ({score['system']})"
            if score
            else None,
            "results": self.counts,
            "source_file": self.source,
            "source_sha256": self.sha256,
        }

    def evidence(self, target: str | None = None) -> list[Evidence]:
        """One ``xccdf-rule`` document per evaluated rule-result, for ``target``."""
        target = target or self.uri
        at = self.collected_at()
        run = {
            "profile": self.profile,
            "benchmark": self.benchmark,
            "test_result": {
                "id": self.test_result,
                "started": self.started,
                "finished": self.finished,
                "scanner": self.scanner,
            },
            "target": {"name": self.target, "hostname": self.hostname, "fqdn": self.fqdn},
        }
        out = []
        for r in self.results:
            red = Redactor()
            data = {
                "rule": r.rule,
                "title": r.title,
                "description": r.description,
                "result": r.result,
                "severity": r.severity,
                "weight": r.weight,
                "time": r.time,
                "idents": r.idents,
                "references": r.references,
                "checks": r.checks,
                "messages": [red.text(m, f"messages[{i}]") for i, m in enumerate(r.messages)],
                "fix_available": r.fix,
                "defined": r.defined,
                **run,
            }
            out.append(Evidence(KIND, target, r.resource, data, at, tuple(red.found)))
        return out


def _label(item: dict[str, str]) -> str | None:
    ident = item.get("id") or ""
    title = item.get("title") or ""
    version = item.get("version") or ""
    if not ident:
        return None
    name = f"{title} {version}".strip()
    return f"{name} ({ident})" if name and name != ident else ident


def _parse_time(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _local(el: etree._Element) -> str:
    tag = el.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _namespace(el: etree._Element) -> str:
    tag = el.tag
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""


def _text(el: etree._Element | None, limit: int = MAX_TEXT, *, one_line: bool = True) -> str:
    if el is None:
        return ""
    return clean("".join(str(t) for t in el.itertext()), limit, one_line=one_line)


def _attr(el: etree._Element, name: str, limit: int = MAX_TEXT) -> str:
    return clean(el.get(name), limit)


def _first(el: etree._Element, tag: str) -> etree._Element | None:
    return el.find(X + tag)


def _read(path: Path, max_bytes: int) -> bytes:
    name = str(path)
    try:
        data, _ = read_regular(path, max_bytes)
    except NotRegularFileError as e:
        raise ArfError(f"{name}: not a regular file") from e
    except TooLargeError as e:
        size = f"{e.size} bytes, " if e.size is not None else ""
        raise ArfError(f"{name}: {size}over the limit of {max_bytes} bytes for an ARF file") from e
    except OSError as e:
        raise ArfError(f"{name}: cannot read: {e.strerror}") from e
    return data


def _parse(name: str, data: bytes) -> etree._Element:
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        load_dtd=False,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as e:
        line = f"line {e.lineno}: " if e.lineno else ""
        raise ArfError(f"{name}: not XML: {line}{clean(e.msg, 200)}") from None
    except ValueError as e:  # lxml refuses some inputs before parsing
        raise ArfError(f"{name}: not XML: {clean(str(e), 200)}") from None
    if root is None:
        raise ArfError(f"{name}: not XML: empty document")
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None:  # any DOCTYPE, with or without an internal subset
        raise ArfError(f"{name}: has a DOCTYPE; an ARF has none (entities are not accepted)")
    return root


def read_arf(
    path: Path, *, max_bytes: int = MAX_BYTES, max_results: int = MAX_RESULTS
) -> list[Run]:
    """Every XCCDF 1.2 TestResult of the file at ``path``, in document order."""
    name = str(path)
    data = _read(path, max_bytes)
    root = _parse(name, data)
    if root.tag not in (f"{{{ARF}}}asset-report-collection", X + "Benchmark", X + "TestResult"):
        raise ArfError(
            f"{name}: not an ARF or XCCDF 1.2 result file (root element "
            f"{clean(_local(root), 100)!r} in namespace {clean(_namespace(root), 200)!r})"
        )
    tests = [root] if root.tag == X + "TestResult" else list(root.iter(X + "TestResult"))
    if not tests:
        raise ArfError(f"{name}: no XCCDF 1.2 TestResult in the file (not an evaluation result)")
    if len(tests) > MAX_TEST_RESULTS:
        raise ArfError(f"{name}: {len(tests)} TestResults, over the limit of {MAX_TEST_RESULTS}")
    digest = hashlib.sha256(data).hexdigest()
    del data
    components = {c.get("id"): c for c in root.iter(f"{{{DS}}}component") if c.get("id")}
    benchmarks = list(root.iter(X + "Benchmark"))
    systems = list(root.iter(f"{{{OVAL_SC}}}system_info"))
    runs: list[Run] = []
    total = 0
    for test in tests:
        bench = _benchmark_of(test, components, benchmarks)
        run = _run(name, digest, test, bench, systems, (total, max_results))
        total += len(run.results)
        runs.append(run)
    return runs


def _benchmark_of(
    test: etree._Element,
    components: dict[str | None, etree._Element],
    benchmarks: list[etree._Element],
) -> etree._Element | None:
    """The Benchmark a TestResult evaluated: by its href into the data stream, by id, as its
    parent, or the only one in the file."""
    ref = _first(test, "benchmark")
    href = ref.get("href", "") if ref is not None else ""
    if href.startswith("#") and href[1:] in components:
        found = components[href[1:]].find(X + "Benchmark")
        if found is not None:
            return found
    bid = ref.get("id") if ref is not None else None
    for b in benchmarks:
        if bid and b.get("id") == bid:
            return b
    parent = test.getparent()
    if parent is not None and parent.tag == X + "Benchmark":
        return parent
    return benchmarks[0] if len(benchmarks) == 1 else None


def _run(
    name: str,
    digest: str,
    test: etree._Element,
    bench: etree._Element | None,
    systems: list[etree._Element],
    counted: tuple[int, int],
) -> Run:
    """One TestResult; ``counted`` is (rule-results read before it, the file's limit)."""
    tid = _attr(test, "id", MAX_ID)
    benchmark, profile, rules = _benchmark(test, bench)
    facts: dict[str, str] = {}
    for fact in test.iterfind(f"{X}target-facts/{X}fact"):
        key = fact.get("name", "")
        if key.startswith(FACT):
            facts.setdefault(key[len(FACT) :], _text(fact))
    target = _text(_first(test, "target"), 255)
    hostname = facts.get("host_name") or target
    addresses = list(
        dict.fromkeys(_text(a, 100) for a in test.iterfind(X + "target-address") if _text(a))
    )[:MAX_ADDRESSES]
    run = Run(
        source=Path(name).name,
        sha256=digest,
        test_result=tid,
        benchmark=benchmark,
        profile=profile,
        started=_attr(test, "start-time", 64) or None,
        finished=_attr(test, "end-time", 64) or None,
        scanner=_scanner(test),
        target=target,
        hostname=clean(hostname, 255),
        fqdn=facts.get("fqdn", ""),
        os=_os(systems, hostname),
        addresses=addresses,
        scores=_scores(test),
        scanned_as=_scanned_as(test),
    )
    seen: Counter[str] = Counter()
    for rr in test.iterfind(X + "rule-result"):
        result = _text(_first(rr, "result"), 32)
        if result == "notselected":
            continue
        idref = rr.get("idref") or ""
        if not idref.strip():
            raise ArfError(f"{name}: TestResult {tid!r}: a rule-result has no idref")
        if len(idref) > MAX_ID:
            raise ArfError(f"{name}: TestResult {tid!r}: a rule idref is over {MAX_ID} characters")
        idref = clean(idref, MAX_ID)
        seen[idref] += 1
        resource = idref if seen[idref] == 1 else f"{idref} ({seen[idref]})"
        run.results.append(_rule_result(rr, idref, resource, result, rules.get(idref)))
        if counted[0] + len(run.results) > counted[1]:
            raise ArfError(f"{name}: more than {counted[1]} evaluated rule-results, over the limit")
    return run


def _benchmark(
    test: etree._Element, bench: etree._Element | None
) -> tuple[dict[str, str], dict[str, str], dict[str, etree._Element]]:
    """The benchmark and profile a TestResult names, and the benchmark's rules by id."""
    ref = _first(test, "benchmark")
    benchmark = {
        "id": _attr(bench, "id", MAX_ID) if bench is not None else "",
        "title": _text(_first(bench, "title"), MAX_TITLE) if bench is not None else "",
        "version": _text(_first(bench, "version"), 100) if bench is not None else "",
    }
    if not benchmark["id"] and ref is not None:
        benchmark["id"] = _attr(ref, "id", MAX_ID) or _attr(ref, "href", MAX_ID)
    prof = _first(test, "profile")
    pid = _attr(prof, "idref", MAX_ID) if prof is not None else ""
    profile = {"id": pid, "title": ""}
    rules: dict[str, etree._Element] = {}
    if bench is not None:
        if pid:
            for p in bench.iter(X + "Profile"):
                if p.get("id") == pid:
                    profile["title"] = _text(_first(p, "title"), MAX_TITLE)
                    break
        for r in bench.iter(X + "Rule"):
            rid = r.get("id")
            if rid:
                rules.setdefault(rid, r)
    return benchmark, profile, rules


def _scores(test: etree._Element) -> list[dict[str, Any]]:
    scores = []
    for s in test.iterfind(X + "score"):
        value, maximum = _number(_text(s)), _number(s.get("maximum") or "100")
        if value is not None:
            scores.append(
                {
                    "system": _attr(s, "system", 255) or "urn:xccdf:scoring:default",
                    "value": value,
                    "maximum": maximum if maximum is not None else 100.0,
                }
            )
    return scores


def _scanner(test: etree._Element) -> str:
    """The scanning tool: its CPE's product and version when it names one."""
    test_system = _attr(test, "test-system", 255)
    m = re.fullmatch(r"cpe:/a:[^:]*:([^:]+):([^:]+)", test_system)
    return f"{m.group(1)} {m.group(2)}" if m else test_system


def _scanned_as(test: etree._Element) -> str:
    """Who the scan ran as, and whether authenticated or privileged."""
    who = _first(test, "identity")
    if who is None:
        return ""
    flags = [k for k in ("authenticated", "privileged") if who.get(k) == "true"]
    return _text(who, 255) + (f" ({', '.join(flags)})" if flags else "")


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _os(systems: list[etree._Element], hostname: str) -> str:
    """The OS OVAL saw (``Debian GNU/Linux 12 (bookworm)``), on the host of this run."""
    sc = f"{{{OVAL_SC}}}"
    for info in systems:
        host = _text(info.find(sc + "primary_host_name"), 255)
        if host and hostname and host != hostname:
            continue
        name = _text(info.find(sc + "os_name"), 200)
        version = _text(info.find(sc + "os_version"), 200)
        return f"{name} {version}".strip()
    return ""


def _idents(*elements: etree._Element | None) -> list[dict[str, str]]:
    found: dict[tuple[str, str], None] = {}
    for el in elements:
        if el is None:
            continue
        for ident in el.iterfind(X + "ident"):
            value = _text(ident)
            if value:
                found[(_attr(ident, "system"), value)] = None
    return [{"system": s, "value": v} for s, v in list(found)[:MAX_IDENTS]]


def _rule_result(
    rr: etree._Element,
    idref: str,
    resource: str,
    result: str,
    rule: etree._Element | None,
) -> RuleResult:
    references: list[dict[str, str]] = []
    title = description = ""
    fix = False
    if rule is not None:
        title = _text(_first(rule, "title"), MAX_TITLE)
        description = _text(_first(rule, "description"), MAX_DESCRIPTION, one_line=False)
        for ref in rule.iterfind(X + "reference"):
            if len(references) >= MAX_REFERENCES:
                break
            text = _text(ref)
            href = _attr(ref, "href")
            if text or href:
                references.append({"href": href, "text": text})
        fix = rule.find(X + "fix") is not None
    checks = []
    for check in rr.iterfind(X + "check"):
        content = check.find(X + "check-content-ref")
        checks.append(
            {
                "system": _attr(check, "system"),
                "name": _attr(content, "name") if content is not None else "",
            }
        )
    messages = [_text(m, MAX_MESSAGE) for m in rr.iterfind(X + "message")][:MAX_MESSAGES]
    severity = _attr(rr, "severity", 32) or (
        _attr(rule, "severity", 32) if rule is not None else ""
    )
    weight = _number(rr.get("weight") or "")
    return RuleResult(
        rule=idref,
        resource=resource,
        result=result,
        severity=severity or "unknown",
        weight=weight,
        time=_attr(rr, "time", 64) or None,
        title=title or idref,
        description=description,
        idents=_idents(rr, rule),
        references=references,
        checks=checks[:10],
        messages=[m for m in messages if m],
        fix=fix,
        defined=rule is not None,
    )
