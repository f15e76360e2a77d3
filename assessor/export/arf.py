"""ARF 1.1 of a stored assessment, as ``oscap xccdf eval --results-arf`` writes one.

- ``report-requests``: one request holding a SCAP 1.3 source data stream collection: the
  Benchmark (``assessor.export.xccdf``; SCAP admits only OVAL and OCIL checks, so automated
  rules carry no check there) and an OCIL questionnaire per manual rule (its question: the
  rule's procedure), which the Benchmark's manual rules refer to through the data stream's
  catalog;
- ``assets``: one per target: a host is an ``ai:computing-device`` (hostname, the CPE names
  of its distribution and kernel), an engine and an image ``ai:software`` (the engine's id as
  installation id and its product's CPE name; image digests as synthetic ids), a registry an
  ``ai:service`` (host and port); each has the target URI as a synthetic id;
- ``reports``: one XCCDF TestResult per target (``xccdf-result-<n>``, see
  ``assessor.export.xccdf``: a waived failure is an ``override``: result pass, old result fail,
  authority the approver), each naming its asset in ``target-id-ref``; and one report per
  evidence document judged, its canonical JSON as text (the SHA-256 of that text is the
  document's hash; a document XML cannot hold as it is, is written with non-ASCII characters
  escaped, ``form="ascii"``);
- ``relationships``: each TestResult report ``arfvocab:isAbout`` its target's asset, and
  every report ``arfvocab:createdFor`` the request, one ref per relationship (OpenSCAP reads
  only the first ref of each). Evidence reports are not related to assets: OpenSCAP 1.3 aborts
  on a non-XCCDF report that is about an asset (its own OVAL reports have no relationship).
  The rule-results name their evidence report in ``check-content-ref`` (href
  ``#evidence-HASH``), as OpenSCAP's name their OVAL results.

The request's data stream also holds, in its OCIL component, the questions that stand for the
platforms of the kinds of target no CPE name describes (images, registries): SCAP admits
OVAL and OCIL checks only in a CPE platform's ``check-fact-ref``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from urllib.parse import urlsplit

from lxml import etree

from assessor.errors import AssessorError
from assessor.evidence import canonical_json
from assessor.export.data import ExportData, ExportTarget, clean, iso
from assessor.export.xccdf import (
    NAMESPACE,
    TARGET_KINDS,
    Scap,
    benchmark,
    build_test_results,
    kind_question,
    ocil_name,
    platforms,
    q,
    serialise,
    sub,
)
from assessor.vocab import TargetKind

ARF = "http://scap.nist.gov/schema/asset-reporting-format/1.1"
CORE = "http://scap.nist.gov/schema/reporting-core/1.1"
AI = "http://scap.nist.gov/schema/asset-identification/1.1"
DS = "http://scap.nist.gov/schema/scap/source/1.2"
XLINK = "http://www.w3.org/1999/xlink"
CAT = "urn:oasis:names:tc:entity:xmlns:xml:catalog"
OCIL = "http://scap.nist.gov/schema/ocil/2.0"
ARFVOCAB = "http://scap.nist.gov/specifications/arf/vocabulary/relationships/1.0#"
EVIDENCE = "urn:assessor:evidence:1"
TARGET_ID = "urn:assessor:target"

OCIL_FILE = "assessor-ocil.xml"  # the name the Benchmark's manual checks use
REQUEST = "assessor-request"
COLLECTION = f"scap_{NAMESPACE}_collection_assessor"
DATASTREAM = f"scap_{NAMESPACE}_datastream_assessor"
COMPONENT = {k: f"scap_{NAMESPACE}_comp_{k}" for k in ("benchmark", "ocil")}
COMPONENT_REF = {k: f"scap_{NAMESPACE}_cref_{k}" for k in ("benchmark", "ocil")}
_HOSTNAME = re.compile(r"[\w\-]+(\.[\w\-]+)*")  # ai:hostname-type


def render_arf(data: ExportData) -> bytes:
    """The assessment as an ARF 1.1 asset report collection (UTF-8, indented)."""
    assets = {t.id: f"asset-{n}" for n, t in enumerate(data.targets, 1)}
    reports_of = {t.id: xccdf_report_id(n) for n, t in enumerate(data.targets, 1)}
    root = etree.Element(q("asset-report-collection", ARF), nsmap={"arf": ARF, "core": CORE})
    evidence = sorted({r.evidence for r in data.results if r.evidence})

    relationships = etree.SubElement(root, q("relationships", CORE), nsmap={"arfvocab": ARFVOCAB})
    for t in data.targets:
        _relate(relationships, reports_of[t.id], "createdFor", [REQUEST])
        _relate(relationships, reports_of[t.id], "isAbout", [assets[t.id]])
    for h in evidence:
        _relate(relationships, _report_id(h), "createdFor", [REQUEST])

    requests = sub(root, q("report-requests", ARF))
    request = sub(requests, q("report-request", ARF), id=REQUEST)
    sub(request, q("content", ARF)).append(_datastream(data))

    assets_el = sub(root, q("assets", ARF))
    for t in data.targets:
        asset = etree.SubElement(assets_el, q("asset", ARF), nsmap={"ai": AI})
        asset.set("id", assets[t.id])
        _asset(asset, t)

    reports = sub(root, q("reports", ARF))
    test_results = build_test_results(
        data,
        benchmark_href=f"#{COMPONENT['benchmark']}",
        asset_ids=assets,
        evidence_href=lambda h: f"#{_report_id(h)}",
        ocil_href=OCIL_FILE,
        overrides=True,
    )
    for t, tr in zip(data.targets, test_results, strict=True):
        report = sub(reports, q("report", ARF), id=reports_of[t.id])
        sub(report, q("content", ARF)).append(tr)
    for h in evidence:
        report = sub(reports, q("report", ARF), id=_report_id(h))
        _evidence(sub(report, q("content", ARF)), data, h)
    return serialise(root)


def xccdf_report_id(n: int) -> str:
    """The ARF report holding the TestResult of the assessment's ``n``-th target (1-based)."""
    return f"xccdf-result-{n}"


def _report_id(sha256: str) -> str:
    return f"evidence-{sha256}"


def _relate(parent: etree._Element, subject: str, kind: str, refs: list[str]) -> None:
    for ref in refs:
        rel = sub(parent, q("relationship", CORE), type=f"arfvocab:{kind}", subject=subject)
        sub(rel, q("ref", CORE), ref)


# --- the request: a source data stream ---------------------------------------------------------


def _datastream(data: ExportData) -> etree._Element:
    stamp = iso(data.started) or ""
    manual = sorted(r for r, rule in data.catalog.rules.items() if rule.manual is not None)
    if not manual:
        raise AssessorError(
            "ARF needs a manual rule: a SCAP data stream needs a check component (OCIL)"
        )
    comp, cref = COMPONENT, COMPONENT_REF
    coll = etree.Element(q("data-stream-collection", DS), nsmap={"ds": DS, "xlink": XLINK})
    coll.set("id", COLLECTION)
    coll.set("schematron-version", "1.3")
    stream = sub(
        coll,
        q("data-stream", DS),
        id=DATASTREAM,
        scap_version="1.3",
        use_case="CONFIGURATION",
        timestamp=stamp,
    )
    checklists = sub(stream, q("checklists", DS))
    ref = _component_ref(checklists, cref["benchmark"], comp["benchmark"])
    catalog = etree.SubElement(ref, q("catalog", CAT), nsmap={"cat": CAT})
    sub(catalog, q("uri", CAT), name=OCIL_FILE, uri=f"#{cref['ocil']}")
    _component_ref(sub(stream, q("checks", DS)), cref["ocil"], comp["ocil"])
    bench = benchmark(data.catalog, Scap(date=stamp[:10], ocil_href=OCIL_FILE))
    sub(coll, q("component", DS), id=comp["benchmark"], timestamp=stamp).append(bench)
    ocil = _ocil(data, manual, stamp)
    sub(coll, q("component", DS), id=comp["ocil"], timestamp=stamp).append(ocil)
    return coll


def _component_ref(parent: etree._Element, ref_id: str, target: str) -> etree._Element:
    ref = sub(parent, q("component-ref", DS), id=ref_id)
    ref.set(q("href", XLINK), f"#{target}")
    return ref


def _ocil(data: ExportData, manual: list[str], stamp: str) -> etree._Element:
    """One boolean questionnaire per manual rule: the procedure, answered pass or fail."""
    root = etree.Element(q("ocil", OCIL), nsmap={"ocil": OCIL})
    gen = sub(root, q("generator", OCIL))
    sub(gen, q("product_name", OCIL), "assessor")
    sub(gen, q("product_version", OCIL), data.tool_version)
    sub(gen, q("schema_version", OCIL), "2.0")
    sub(gen, q("timestamp", OCIL), stamp)
    questionnaires = sub(root, q("questionnaires", OCIL))
    actions = sub(root, q("test_actions", OCIL))
    questions = sub(root, q("questions", OCIL))
    asked = [
        (
            rid,
            data.catalog.rules[rid].title,
            _procedure(data, rid) + "Does the target meet this rule?",
        )
        for rid in manual
    ] + [
        (kind_question(kind), title, f"Is the target {title[0].lower()}{title[1:]}?")
        for kind, (title, names) in TARGET_KINDS.items()
        if not names  # the platforms of the kinds no CPE name describes
    ]
    for name, title, text in asked:
        qn = sub(questionnaires, q("questionnaire", OCIL), id=ocil_name(name))
        sub(qn, q("title", OCIL), title)
        sub(sub(qn, q("actions", OCIL)), q("test_action_ref", OCIL), ocil_name(name, "testaction"))
        action = sub(
            actions,
            q("boolean_question_test_action", OCIL),
            attrs={
                "id": ocil_name(name, "testaction"),
                "question_ref": ocil_name(name, "question"),
            },
        )
        sub(sub(action, q("when_true", OCIL)), q("result", OCIL), "PASS")
        sub(sub(action, q("when_false", OCIL)), q("result", OCIL), "FAIL")
        question = sub(questions, q("boolean_question", OCIL), id=ocil_name(name, "question"))
        sub(question, q("question_text", OCIL), text)
    return root


def _procedure(data: ExportData, rid: str) -> str:
    manual = data.catalog.rules[rid].manual
    assert manual is not None
    return f"{manual.procedure.rstrip()}\n\n"


# --- assets and evidence -----------------------------------------------------------------------


def _asset(asset: etree._Element, t: ExportTarget) -> None:
    ident = t.identity
    if t.kind == TargetKind.HOST:
        el = sub(asset, q("computing-device", AI))
        sub(el, q("synthetic-id", AI), resource=TARGET_ID, id=t.uri)
        if isinstance(ident.get("machine_id"), str):
            sub(
                el,
                q("synthetic-id", AI),
                resource="urn:assessor:machine-id",
                id=ident["machine_id"],
            )
        for name in platforms(t):
            sub(el, q("cpe", AI), name)
        hostname = ident.get("hostname")
        if isinstance(hostname, str) and _HOSTNAME.fullmatch(hostname):
            sub(el, q("hostname", AI), hostname)
    elif t.kind == TargetKind.REGISTRY:
        el = sub(asset, q("service", AI))
        sub(el, q("synthetic-id", AI), resource=TARGET_ID, id=t.uri)
        parts = urlsplit(t.uri.partition(":")[2])
        _host(el, parts.hostname or "")
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
        if port:
            sub(el, q("port", AI), str(port))
        if parts.scheme:
            sub(el, q("protocol", AI), parts.scheme)
    else:  # an engine or an image: software
        el = sub(asset, q("software", AI))
        sub(el, q("synthetic-id", AI), resource=TARGET_ID, id=t.uri)
        for image in ident.get("images") or []:
            if isinstance(image, dict) and isinstance(image.get("digest"), str):
                sub(
                    el,
                    q("synthetic-id", AI),
                    resource="urn:assessor:image-digest",
                    id=image["digest"],
                )
        if isinstance(ident.get("engine_id"), str):
            sub(el, q("installation-id", AI), ident["engine_id"])
        for name in platforms(t)[:1]:  # the engine itself (the others are its machine's)
            sub(el, q("cpe", AI), name)


def _host(service: etree._Element, name: str) -> None:
    """A service's host: its IP address, or its name."""
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        if _HOSTNAME.fullmatch(name):
            sub(sub(service, q("host", AI)), q("fqdn", AI), name)
        return
    address = sub(sub(service, q("host", AI)), q("ip-address", AI))
    sub(address, q(f"ip-v{ip.version}", AI), ip.exploded)


def _evidence(content: etree._Element, data: ExportData, sha256: str) -> None:
    info = data.evidence.get(sha256)
    doc = data.evidence_document(sha256)
    el = etree.SubElement(content, q("evidence", EVIDENCE), nsmap={"ev": EVIDENCE})
    el.set("sha256", sha256)
    if info is not None:
        el.set("kind", clean(info.kind))
        el.set("size", str(info.size))
    el.set("media-type", "application/json")
    if doc is None:
        el.set("form", "absent")
        return
    text = canonical_json(doc).decode("utf-8", "surrogatepass")
    if clean(text) != text:
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        el.set("form", "ascii")
    else:
        el.set("form", "canonical")
    el.text = text
