"""XCCDF 1.2 of the catalog and of a stored assessment (the ARF wrapper is in ``arf.py``).

``render_benchmark(catalog)``: one ``Benchmark`` (id ``xccdf_dev.assessor_benchmark_assessor``):

- one ``Group`` per rule target kind (host, engine, container, image, registry), one ``Rule``
  per rule: title, description, the impact of remediating as a ``warning``, one ``reference``
  per framework requirement the rule meets (href: the framework's source, text
  ``FRAMEWORK:REQUIREMENT``) and per documentation link, rationale, remediation as ``fixtext``;
  severity critical and high -> high, medium, low, info as themselves; ``multiple="true"``:
  a rule is judged once per resource;
- checks: an automated rule has no OVAL; its check names the rule in assessor's own check
  system (``urn:assessor:check:1``). A manual rule's check (``urn:assessor:check:manual:1``)
  holds the procedure a person follows. In a SCAP source data stream (ARF), which admits OVAL
  and OCIL checks only, automated rules have no check and manual rules an OCIL questionnaire;
- one ``Profile`` per framework selecting the rules its requirements use, the others
  unselected;
- a CPE ``platform-specification`` with one platform per kind of target (host, engine, image,
  registry): a CPE name where one describes the kind (the Linux kernel; Docker Engine or
  Podman), else a check that the target is of that kind (assessor's own; in a data stream an
  OCIL question). No Benchmark-level ``platform``: the Benchmark applies to every kind (and
  OpenSCAP 1.3.7 rejects a document its XCCDF schematron has no warning about).

``render_xccdf(data)``: that Benchmark with **one TestResult per target** of the assessment, in
target order (id ``xccdf_dev.assessor_testresult_<assessment>-<n>``, n counting from 1):

- ``identity``: who finalised the assessment, ``authenticated="false"`` (the name is given
  with ``assessor finalise --by``; assessor authenticates no one) and ``privileged="false"``
  (the finaliser signs the record off; they hold no privilege on the target through it). An
  assessment not finalised says so there (``nobody: the assessment is not finalised``) rather
  than leaving OpenSCAP to show "unknown user", and in the TestResult's ``metadata``;
- ``target`` (the target URI), ``target-address`` (a tcp engine's or a registry's host),
  ``target-facts`` (status, error, the identity flattened, ``urn:xccdf:fact:identifier``: the
  machine id, engine id, image digests or registry certificate, which OpenSCAP shows as
  "Target ID"; a host's name as ``urn:xccdf:fact:asset:identifier:host_name``);
- ``platform``: ``#xccdf_dev.assessor_platform_<kind>``, then the CPE 2.3 names of what the
  target is, from its identity: a host's distribution (when its os-release name is one NVD
  names: Debian, Ubuntu, RHEL, Fedora, Alpine, CentOS Stream) and kernel; an engine's product
  and version, and its machine's distribution and kernel. Images and registries: the kind only;
- start and end time: the assessment's (results are not timed per target);
- one ``rule-result`` per stored result of that target (rule x resource: several per rule
  share the idref and differ in ``instance``: the target, with the resource nested in it),
  with one ``ident`` per framework requirement the result references (system
  ``urn:assessor:framework:<framework>``, text the requirement id), and ``metadata`` holding
  ``<as:result id="<result row id>" status="<shown status>"/>`` (``as`` =
  ``urn:assessor:xccdf:1``), which ties it to the same result in every other export;
- the flat score over its rule-results (pass counted out of pass, fail and error).

Statuses, and how to read them back (per framework: count the rule-results with an ``ident``
of that framework's system):

====================  ==========================  =======================================
assessor status       XCCDF ``result``            ARF ``result``
====================  ==========================  =======================================
pass                  pass                        pass
fail                  fail                        fail
error                 error                       error
not_applicable        notapplicable               notapplicable
manual                notchecked                  notchecked
waived                fail + waiver message       pass + ``override`` (old-result fail,
                      + metadata status waived    authority the approver, remark the waiver)
====================  ==========================  =======================================

manual is ``notchecked``, not ``informational``: the rule was not judged by a machine and a
person's answer is required (``informational`` would claim it needs none). XCCDF has no
"waived"; its one way to record one is an ``override``, with result = new-result. The XCCDF
schematron OpenSCAP (and NIST) validate with asserts that for every rule-result of a
TestResult holding any override, so a TestResult where only some results are overridden cannot
validate: in XCCDF a waived failure stays ``fail`` (it did fail; the waiver accepts the risk, it
does not fix it), with a second message naming the waiver (approver, reason, expiry) and its
status in the metadata. ARF, whose TestResults no schematron checks, records the override
to pass, which OpenSCAP's report shows as "pass, waived". A waived result is therefore never
read as a plain pass: in ARF the override's old-result fail tells it apart.

Reading it with OpenSCAP: ``oscap xccdf generate report FILE`` renders one TestResult (XCCDF:
the last, ARF: the first). Its ``--result-id`` never reaches the stylesheet (OpenSCAP 1.3.7, as
upstream, passes the parameter ``result-id``; ``xccdf-report.xsl`` reads ``testresult_id``), so
render another target's with that stylesheet and any XSLT 1.0 processor, e.g. ``xsltproc
--stringparam testresult_id ID /usr/share/openscap/xsl/xccdf-report.xsl FILE``.
``oscap info`` on the ARF lists every asset with its TestResult and platforms.

Deterministic: times are the assessment's, everything is in catalog or result order. Text is
put in by lxml; characters XML 1.0 cannot hold are removed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from lxml import etree

from assessor import __version__
from assessor.errors import AssessorError
from assessor.export.data import ExportData, ExportResult, ExportTarget, clean, iso
from assessor.vocab import Severity, Status, TargetKind, TargetStatus

if TYPE_CHECKING:
    from assessor.catalog import Catalog
    from assessor.catalog.schema import Rule

XCCDF = "http://checklists.nist.gov/xccdf/1.2"
DC = "http://purl.org/dc/elements/1.1/"
NAMESPACE = "dev.assessor"  # the reverse-DNS part of every XCCDF and SCAP id
BENCHMARK_ID = f"xccdf_{NAMESPACE}_benchmark_assessor"
CHECK_SYSTEM = "urn:assessor:check:1"
MANUAL_SYSTEM = "urn:assessor:check:manual:1"
OCIL_SYSTEM = "http://scap.nist.gov/schema/ocil/2"
EVIDENCE_IMPORT = "urn:assessor:evidence:sha256"
FACT = "urn:assessor:fact:"
HOST_NAME_FACT = "urn:xccdf:fact:asset:identifier:host_name"
IDENTIFIER_FACT = "urn:xccdf:fact:identifier"
ASSESSOR = "urn:assessor:xccdf:1"  # rule-result metadata: the result's id and shown status
CPE_LANG = "http://cpe.mitre.org/language/2.0"
AI_SYSTEM = "http://scap.nist.gov/schema/asset-identification/1.1"

_DEFAULT_NS: dict[Any, str] = {None: XCCDF}  # lxml-stubs type the default prefix as str

# our severity -> XCCDF's (XCCDF has no critical)
SEVERITY: dict[str, str] = {
    Severity.CRITICAL: "high",
    Severity.HIGH: "high",
    Severity.MEDIUM: "medium",
    Severity.LOW: "low",
    Severity.INFO: "info",
}
# our status -> XCCDF's rule-result value
RESULT: dict[str, str] = {
    Status.PASS: "pass",
    Status.FAIL: "fail",
    Status.ERROR: "error",
    Status.NOT_APPLICABLE: "notapplicable",
    Status.MANUAL: "notchecked",
    Status.WAIVED: "fail",  # see the module docstring
}
# our status -> the severity of the rule-result's message (XCCDF's: error, warning, info)
MESSAGE_SEVERITY: dict[str, str] = {
    Status.ERROR: "error",
    Status.FAIL: "warning",
    Status.WAIVED: "warning",
}
NOTE_SEVERITY = "info"  # XCCDF's message severity of any other message
KINDS = {
    "host": ("Container host", "Rules that read the host running the container engine."),
    "engine": ("Container engine", "Rules that read the container engine's configuration."),
    "container": ("Containers", "Rules judged once per container an engine runs or holds."),
    "image": ("Container images", "Rules judged once per container image."),
    "registry": ("Image registries", "Rules that read a container image registry."),
    "xccdf-rule": (
        "Imported OpenSCAP results",
        "Rules judged once per rule-result of an imported OpenSCAP evaluation of a host.",
    ),
}
# XCCDF rule-result values the flat score counts, and those it counts as passed
_SCORED = ("pass", "fail", "error", "unknown", "fixed")
_PASSED = ("pass", "fixed")


def q(tag: str, ns: str = XCCDF) -> str:
    return f"{{{ns}}}{tag}"


def sub(
    parent: etree._Element,
    tag: str,
    text: object = None,
    attrs: dict[str, object] | None = None,
    **kw: object,
) -> etree._Element:
    """A child element; ``tag`` is an XCCDF name unless it is already ``{ns}name``. Keyword
    attribute names have ``_`` written as ``-``; ``attrs`` names are taken as they are."""
    el = etree.SubElement(parent, tag if tag.startswith("{") else q(tag))
    for key, value in kw.items():
        el.set(key.replace("_", "-"), clean(value))
    for key, value in (attrs or {}).items():
        el.set(key, clean(value))
    if text is not None:
        el.text = clean(text)
    return el


def serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def rule_id(rule: str) -> str:
    return f"xccdf_{NAMESPACE}_rule_{rule}"


def group_id(kind: str) -> str:
    return f"xccdf_{NAMESPACE}_group_{kind}"


def profile_id(framework: str) -> str:
    return f"xccdf_{NAMESPACE}_profile_{framework}"


def catalog_href(catalog: Catalog) -> str:
    return f"urn:assessor:catalog:{catalog.digest}"


def ocil_name(rule: str, what: str = "questionnaire") -> str:
    """The OCIL id of a manual rule's questionnaire, test action or question."""
    return f"ocil:{NAMESPACE}.{rule}:{what}:1"


def platform_id(kind: str) -> str:
    """The id of the Benchmark's CPE platform of a target kind."""
    return f"xccdf_{NAMESPACE}_platform_{kind}"


def framework_system(framework: str) -> str:
    """The ``ident`` system of a framework's requirement ids."""
    return f"urn:assessor:framework:{framework}"


# what a CPE 2.3 formatted string holds as it is, and the punctuation it holds escaped
_CPE_PLAIN = re.compile(r"[A-Za-z0-9._-]")
_CPE_QUOTED = frozenset("\\*?!\"#$%&'()+,/:;<=>@[]^`{|}~")


def cpe23(part: str, vendor: str, product: str, version: str = "*") -> str:
    """A CPE 2.3 formatted string; ``version`` escaped as the binding asks, or ANY (``*``) when
    it holds what the binding cannot (spaces, non-ASCII, control characters)."""
    if version == "*" or any(not _CPE_PLAIN.match(c) and c not in _CPE_QUOTED for c in version):
        escaped = "*"
    else:
        escaped = "".join(c if _CPE_PLAIN.match(c) else f"\\{c}" for c in version) or "-"
    return f"cpe:2.3:{part}:{vendor}:{product}:{escaped}:*:*:*:*:*:*:*"


# the Linux distributions whose NVD CPE names are known, by os-release PRETTY_NAME prefix
_DISTROS = (
    ("Debian GNU/Linux", "debian", "debian_linux"),
    ("Ubuntu", "canonical", "ubuntu_linux"),
    ("Red Hat Enterprise Linux", "redhat", "enterprise_linux"),
    ("Fedora", "fedoraproject", "fedora"),
    ("Alpine Linux", "alpinelinux", "alpine_linux"),
    ("CentOS Stream", "centos", "centos_stream"),
)
# container engines by the engine collector's product name
_ENGINES = {"docker": ("docker", "engine"), "podman": ("podman_project", "podman")}
_VERSION = re.compile(r"\d+(\.\d+)*")


# --- the Benchmark ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scap:
    """How the Benchmark is written inside a SCAP 1.3 source data stream."""

    date: str  # the status date (YYYY-MM-DD)
    ocil_href: str  # the OCIL component's name in the data stream's catalog


def render_benchmark(catalog: Catalog) -> bytes:
    """The catalog as an XCCDF 1.2 Benchmark (UTF-8, indented)."""
    return serialise(benchmark(catalog))


def benchmark(catalog: Catalog, scap: Scap | None = None) -> etree._Element:
    root = etree.Element(q("Benchmark"), nsmap=_DEFAULT_NS)
    root.set("id", BENCHMARK_ID)
    root.set("resolved", "true")
    root.set("{http://www.w3.org/XML/1998/namespace}lang", "en-US")
    if scap is not None:
        root.set("style", "SCAP_1.3")
        sub(root, "status", "draft", date=scap.date)
    else:
        sub(root, "status", "draft")
    sub(root, "title", "assessor: security checks of Linux container deployments")
    frameworks = sorted(catalog.frameworks.items())
    names = ", ".join(f"{f.framework.title} ({f.framework.version})" for _, f in frameworks)
    sub(
        root,
        "description",
        "Framework-neutral technical and manual checks of container hosts, engines, "
        "containers, images and registries, with one profile per framework they meet: "
        f"{names or 'none'}.",
    )
    _platforms(root, catalog, scap)
    sub(root, "version", catalog.digest)
    meta = etree.SubElement(root, q("metadata"), nsmap={"dc": DC})
    sub(meta, q("creator", DC), "assessor")
    sub(meta, q("publisher", DC), "assessor")
    sub(meta, q("contributor", DC), f"assessor {__version__}")
    for source in sorted({f.framework.source for _, f in frameworks if f.framework.source}):
        sub(meta, q("source", DC), source)
    for fw_id, _ in frameworks:
        _profile(root, catalog, fw_id)
    kinds = {r.target.value for r in catalog.rules.values()}
    for kind in [k for k in KINDS if k in kinds] + sorted(kinds - set(KINDS)):
        rules = sorted((r for r in catalog.rules.values() if r.target.value == kind), key=_id)
        title, description = KINDS.get(kind, (f"{kind} rules", f"Rules that read {kind}."))
        group = sub(root, "Group", id=group_id(kind))
        sub(group, "title", title)
        sub(group, "description", description)
        for rule in rules:
            _rule(group, catalog, rule, scap)
    return root


# what each kind of target is, as a CPE applicability language test: a CPE name where one
# exists; else assessor's own check that the target is of that kind (how it was scanned)
TARGET_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "host": ("A Linux container host", (cpe23("o", "linux", "linux_kernel"),)),
    "engine": (
        "A container engine (Docker Engine or Podman)",
        (cpe23("a", *_ENGINES["docker"]), cpe23("a", *_ENGINES["podman"])),
    ),
    "image": ("A container image (OCI image or Docker image archive)", ()),
    "registry": ("A container image registry (OCI Distribution API)", ()),
}


def kind_question(kind: str) -> str:
    """The name (as ``ocil_name`` takes it) of the OCIL question "is the target a KIND?"."""
    return f"target-kind-{kind}"


def _platforms(root: etree._Element, catalog: Catalog, scap: Scap | None) -> None:
    """The kinds of target assessor judges, as CPE platforms a TestResult names (with the CPE
    names of what its target is)."""
    spec = etree.SubElement(root, q("platform-specification", CPE_LANG), nsmap={"cpe2": CPE_LANG})
    for kind, (title, names) in TARGET_KINDS.items():
        platform = sub(spec, q("platform", CPE_LANG), id=platform_id(kind))
        sub(platform, q("title", CPE_LANG), title)
        test = sub(platform, q("logical-test", CPE_LANG), operator="OR", negate="false")
        for name in names:
            sub(test, q("fact-ref", CPE_LANG), name=name)
        if names:
            continue
        if scap is None:  # assessor's own check: how it was asked to scan the target
            system, href, ref = CHECK_SYSTEM, catalog_href(catalog), f"target-kind:{kind}"
        else:  # SCAP admits OVAL and OCIL checks only: a question whose answer is the kind
            system, href, ref = OCIL_SYSTEM, scap.ocil_href, ocil_name(kind_question(kind))
        sub(
            test,
            q("check-fact-ref", CPE_LANG),
            system=system,
            href=href,
            attrs={"id-ref": ref},
        )
    # No Benchmark-level ``platform`` naming them: the Benchmark applies to every kind, and
    # OpenSCAP 1.3.7 reports a document its XCCDF schematron finds nothing to warn about (its
    # one warning being that missing platform) as invalid.


def _id(rule: Rule) -> str:
    return rule.id


def _profile(root: etree._Element, catalog: Catalog, fw_id: str) -> None:
    fw = catalog.frameworks[fw_id]
    info = fw.framework
    used = {r for req in fw.requirements for r in req.rules if r in catalog.rules}
    profile = sub(root, "Profile", id=profile_id(fw_id))
    sub(profile, "title", f"{info.title} ({info.version})")
    sub(
        profile,
        "description",
        f"The rules that meet the requirements of {info.title}, version {info.version}"
        + (f" ({info.source})" if info.source else "")
        + f": {len(used)} of {len(catalog.rules)} rules.",
    )
    for rid in sorted(catalog.rules):
        sub(profile, "select", idref=rule_id(rid), selected="true" if rid in used else "false")


def _rule(group: etree._Element, catalog: Catalog, rule: Rule, scap: Scap | None) -> None:
    el = sub(
        group,
        "Rule",
        id=rule_id(rule.id),
        selected="true",
        weight="1.0",
        role="full",
        severity=SEVERITY[rule.severity.value],
        multiple="true",
    )
    sub(el, "title", rule.title)
    sub(el, "description", rule.description)
    if rule.impact:
        sub(el, "warning", rule.impact, category="functionality")
    for fw_id, reqs in sorted(catalog.references.get(rule.id, {}).items()):
        fw = catalog.frameworks.get(fw_id)
        source = fw.framework.source if fw is not None else ""
        for req in reqs:
            ref = sub(el, "reference", f"{fw_id}:{req}")
            if source:
                ref.set("href", clean(source))
    for doc in rule.references:
        ref = sub(el, "reference", doc.title)
        if doc.url:
            ref.set("href", clean(doc.url))
    sub(el, "rationale", rule.rationale)
    if rule.remediation:
        sub(el, "fixtext", rule.remediation)
    if scap is None:
        check = sub(el, "check", system=CHECK_SYSTEM if rule.automated else MANUAL_SYSTEM)
        if rule.automated:
            sub(check, "check-import", import_name=EVIDENCE_IMPORT)
        sub(check, "check-content-ref", href=catalog_href(catalog), name=rule.id)
        if rule.manual is not None:
            sub(check, "check-content", rule.manual.procedure)
    elif rule.manual is not None:
        check = sub(el, "check", system=OCIL_SYSTEM)
        sub(check, "check-content-ref", href=scap.ocil_href, name=ocil_name(rule.id))


# --- the TestResults ------------------------------------------------------------------------


def render_xccdf(data: ExportData) -> bytes:
    """The Benchmark with one TestResult per target of the assessment (UTF-8, indented)."""
    root = benchmark(data.catalog)
    for tr in build_test_results(data, benchmark_href=f"#{BENCHMARK_ID}"):
        root.append(tr)
    return serialise(root)


def test_result_id(data: ExportData, n: int) -> str:
    """The id of the TestResult of the assessment's ``n``-th target (1-based, target order)."""
    return f"xccdf_{NAMESPACE}_testresult_{data.id}-{n}"


def build_test_results(
    data: ExportData,
    *,
    benchmark_href: str,
    asset_ids: dict[int, str] | None = None,
    evidence_href: Callable[[str], str] | None = None,
    ocil_href: str | None = None,
    overrides: bool = False,
) -> list[etree._Element]:
    """One TestResult per target of ``data``, in target order. In ARF, ``asset_ids`` maps
    target ids to asset ids, ``evidence_href`` a SHA-256 to the report holding that evidence,
    ``ocil_href`` names the OCIL questionnaires the Benchmark's manual rules refer to, and
    ``overrides`` records waived failures as overrides (pass) rather than as failures with a
    waiver message."""
    if not data.targets:
        raise AssessorError(f"assessment {data.id} has no targets: XCCDF needs one")
    missing = sorted({r.rule for r in data.results} - set(data.catalog.rules))
    if missing:
        raise AssessorError(
            f"assessment {data.id} has results of rules the catalog lacks: "
            f"{', '.join(missing[:5])}",
            hint="export with the --controls the assessment was run with",
        )
    by_target: dict[int, list[ExportResult]] = {t.id: [] for t in data.targets}
    for r in data.results:
        if r.target_id not in by_target:
            raise AssessorError(f"assessment {data.id}: result {r.id} has no target here")
        by_target[r.target_id].append(r)
    return [
        _test_result(
            data,
            t,
            n,
            by_target[t.id],
            benchmark_href=benchmark_href,
            asset_id=(asset_ids or {}).get(t.id),
            evidence_href=evidence_href,
            ocil_href=ocil_href,
            overrides=overrides,
        )
        for n, t in enumerate(data.targets, 1)
    ]


def _test_result(
    data: ExportData,
    t: ExportTarget,
    n: int,
    results: list[ExportResult],
    *,
    benchmark_href: str,
    asset_id: str | None,
    evidence_href: Callable[[str], str] | None,
    ocil_href: str | None,
    overrides: bool,
) -> etree._Element:
    end = iso(data.end) or ""
    tr = etree.Element(q("TestResult"), nsmap=_DEFAULT_NS)
    tr.set("id", test_result_id(data, n))
    tr.set("start-time", iso(data.started) or "")
    tr.set("end-time", end)
    tr.set("test-system", _cpe(data.tool_version))
    tr.set("version", data.catalog.digest)
    sub(tr, "benchmark", href=benchmark_href, id=BENCHMARK_ID)
    sub(
        tr,
        "title",
        f"assessor assessment {data.id} of {data.system or 'no system'}, {data.period}: "
        f"target {n} of {len(data.targets)}, {t.uri}",
    )
    if data.finalised_at is not None and data.finalised_by:
        # the person who signed the assessment off: named with --by (not authenticated by
        # assessor), acting on the record, not on the target (no privilege on it)
        sub(tr, "identity", data.finalised_by, authenticated="false", privileged="false")
    else:
        sub(tr, "identity", NOT_FINALISED, authenticated="false", privileged="false")
    sub(tr, "target", t.uri)
    address = _address(t)
    if address:
        sub(tr, "target-address", address)
    facts = sub(tr, "target-facts")
    for name, kind, value in target_facts(t):
        sub(facts, "fact", value, name=name, type=kind)
    if asset_id is not None:
        sub(tr, "target-id-ref", system=AI_SYSTEM, name=asset_id, href="")
    # a plugin's target kind has no platform in the Benchmark's specification (TARGET_KINDS)
    kind_platform = [f"#{platform_id(t.kind)}"] if t.kind in TARGET_KINDS else []
    for platform in [*kind_platform, *platforms(t)]:
        sub(tr, "platform", idref=platform)
    passed = counted = 0
    for r in results:
        result = _rule_result(tr, data, r, end, evidence_href, ocil_href, overrides)
        if result in _SCORED:
            counted += 1
            passed += result in _PASSED
    sub(tr, "score", f"{passed:.6f}", system="urn:xccdf:scoring:flat", maximum=f"{counted:.6f}")
    _metadata(tr, data, t)
    return tr


NOT_FINALISED = "nobody: the assessment is not finalised (provisional results)"


def _notes(data: ExportData, t: ExportTarget) -> list[str]:
    out = []
    if data.finalised_at is not None:
        out.append(f"Finalised {iso(data.finalised_at)} by {data.finalised_by or 'unknown'}.")
    else:
        out.append(
            f"Not finalised: assessment {data.id} is {data.status}; no one has signed its "
            "results off, they may still change (waivers, attestations)."
        )
    if t.status != TargetStatus.COLLECTED:
        out.append(f"{t.uri} was not assessed ({t.status}): {t.error or 'no reason given'}.")
    return out


def _metadata(tr: etree._Element, data: ExportData, t: ExportTarget) -> None:
    """The assessment's own identity and status, as Dublin Core (OpenSCAP reads no remark)."""
    lines = [
        f"Assessment {data.id} ({data.uuid}) of {data.system or 'no system'} for "
        f"{data.period}: status {data.status}, judged with catalog "
        f"{data.catalog_digest or 'unknown'} by assessor {data.tool_version}; "
        f"{len(data.targets)} targets, one TestResult each.",
        *_notes(data, t),
    ]
    meta = etree.SubElement(tr, q("metadata"), nsmap={"dc": DC})
    sub(meta, q("identifier", DC), f"urn:uuid:{data.uuid}")
    sub(meta, q("description", DC), "\n".join(lines))


def _rule_result(
    tr: etree._Element,
    data: ExportData,
    r: ExportResult,
    time: str,
    evidence_href: Callable[[str], str] | None,
    ocil_href: str | None,
    overrides: bool,
) -> str:
    rule = data.catalog.rules[r.rule]
    waiver = r.waiver if r.status == Status.WAIVED else None
    result = RESULT[Status.PASS] if waiver is not None and overrides else RESULT[r.status]
    el = sub(
        tr,
        "rule-result",
        idref=rule_id(r.rule),
        role="full",
        time=time,
        severity=SEVERITY.get(r.severity, "unknown"),
        weight="1.0",
    )
    sub(el, "result", result)
    if waiver is not None and overrides:
        override = sub(el, "override", time=time, authority=waiver.get("approver") or "unknown")
        sub(override, "old-result", RESULT[Status.FAIL])
        sub(override, "new-result", result)
        sub(override, "remark", waiver_text(waiver))
    for fw_id, reqs in r.references.items():
        for req in reqs:
            sub(el, "ident", req, system=framework_system(fw_id))
    meta = etree.SubElement(el, q("metadata"), nsmap={"as": ASSESSOR})
    sub(meta, q("result", ASSESSOR), id=r.id, status=r.status)
    severity = MESSAGE_SEVERITY.get(r.status, NOTE_SEVERITY)
    text = f"{r.resource}: {r.message}" if r.message else r.resource
    sub(el, "message", text, severity=severity)
    if waiver is not None and not overrides:
        sub(el, "message", waiver_text(waiver), severity=NOTE_SEVERITY)
    sub(el, "instance", r.target, context="target")
    sub(el, "instance", r.resource, context="resource", parentContext="target")
    if rule.automated:
        check = sub(el, "check", system=CHECK_SYSTEM)
        if r.evidence:
            sub(check, "check-import", r.evidence, import_name=EVIDENCE_IMPORT)
        href = evidence_href(r.evidence) if evidence_href and r.evidence else None
        sub(check, "check-content-ref", href=href or catalog_href(data.catalog), name=r.rule)
    elif ocil_href is not None:
        check = sub(el, "check", system=OCIL_SYSTEM)
        sub(check, "check-content-ref", href=ocil_href, name=ocil_name(r.rule))
    else:
        check = sub(el, "check", system=MANUAL_SYSTEM)
        sub(check, "check-content-ref", href=catalog_href(data.catalog), name=r.rule)
    return result


def waiver_text(w: dict[str, Any]) -> str:
    parts = [
        f"Waived by {w.get('approver') or 'unknown'} (waiver {w.get('id')}): "
        f"{w.get('reason') or 'no reason given'}"
    ]
    if w.get("compensating"):
        parts.append(f"compensating controls: {w['compensating']}")
    if w.get("expires"):
        parts.append(f"expires {w['expires']}")
    return "; ".join(parts) + "."


def _os_platforms(os_name: object, kernel: object) -> list[str]:
    out = []
    if isinstance(os_name, str):
        for prefix, vendor, product in _DISTROS:
            if os_name.startswith(prefix):
                m = re.match(r"\s*(?:Linux\s*)?(\d+(?:\.\d+)?)", os_name[len(prefix) :])
                out.append(cpe23("o", vendor, product, m.group(1) if m else "*"))
                break
    if isinstance(kernel, str) and (m := _VERSION.match(kernel)):
        out.append(cpe23("o", "linux", "linux_kernel", m.group(0)))
    return out


def platforms(t: ExportTarget) -> list[str]:
    """The CPE 2.3 names of what a target is, from its identity: a host its Linux distribution
    (when its name is one NVD names) and kernel; an engine the engine product and version, and
    the distribution and kernel of the machine it runs on. Images and registries have no CPE:
    their platform is their kind's (``platform_id``)."""
    ident = t.identity
    if t.kind == TargetKind.HOST:
        return _os_platforms(ident.get("os"), ident.get("kernel"))
    if t.kind == TargetKind.ENGINE:
        out = []
        product = _ENGINES.get(str(ident.get("product")))
        if product is not None:
            version = ident.get("server_version")
            out.append(cpe23("a", *product, version if isinstance(version, str) else "*"))
        return out + _os_platforms(ident.get("os"), ident.get("kernel"))
    return []


def _identifier(t: ExportTarget) -> str | None:
    """What identifies the target beyond its URI (OpenSCAP shows it as "Target ID")."""
    ident = t.identity
    if t.kind == TargetKind.HOST:
        value = ident.get("machine_id")
    elif t.kind == TargetKind.ENGINE:
        value = ident.get("engine_id")
    elif t.kind == TargetKind.IMAGE:
        digests = [i.get("digest") for i in ident.get("images") or [] if isinstance(i, dict)]
        value = " ".join(d for d in digests if isinstance(d, str)) or None
    else:
        value = ident.get("certificate_sha256")
    return value if isinstance(value, str) and value else None


def _cpe(version: str) -> str:
    """assessor as a CPE 2.3 formatted string (test-system)."""
    return cpe23("a", "assessor", "assessor", version)


def _address(t: ExportTarget) -> str | None:
    """The network address a target was reached at (tcp engines and registries)."""
    _, _, rest = t.uri.partition(":")
    if t.kind in (TargetKind.ENGINE, TargetKind.REGISTRY) and "://" in rest:
        parts = urlsplit(rest)
        if parts.scheme != "unix" and parts.hostname:
            return parts.hostname
    return None


def target_facts(t: ExportTarget) -> list[tuple[str, str, str]]:
    """(name, type, value) of a target's facts: its URI and status, then its identity."""
    out = [(f"{FACT}target", "string", t.uri), (f"{FACT}target:status", "string", t.status)]
    if t.error:
        out.append((f"{FACT}target:error", "string", t.error))
    if t.kind == TargetKind.HOST and isinstance(t.identity.get("hostname"), str):
        out.append((HOST_NAME_FACT, "string", t.identity["hostname"]))
    identifier = _identifier(t)
    if identifier is not None:
        out.append((IDENTIFIER_FACT, "string", identifier))
    out.extend(_flatten(f"{FACT}{t.kind}", t.identity))
    return out


def _flatten(prefix: str, value: Any) -> Iterable[tuple[str, str, str]]:
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            yield from _flatten(f"{prefix}:{quote(str(key), safe='')}", value[key])
    elif isinstance(value, list):
        for item in value:
            yield from _flatten(prefix, item)
    elif isinstance(value, bool):
        yield prefix, "boolean", "true" if value else "false"
    elif isinstance(value, int | float):
        yield prefix, "number", str(value)
    elif value is not None:
        yield prefix, "string", str(value)
