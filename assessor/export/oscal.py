"""OSCAL exports built with compliance-trestle's models (OSCAL ``trestle.oscal.OSCAL_VERSION``).

``render_assessment_results``: a stored assessment as OSCAL assessment results, one
``result``:

- ``local-definitions.inventory-items``: one item per target (URI, kind, status, identity);
- ``observations``: one per result (rule x resource), method TEST (EXAMINE for a manual
  rule), its evidence a back-matter resource carrying the SHA-256; one per attestation
  (method EXAMINE: a person examined by hand);
- ``findings``: one per framework requirement with a result or an attestation; the target is
  ``objective-id`` = the requirement's token (``requirement_token``), state from the
  requirement's roll-up (``assessor.audit.rollup``): pass -> satisfied; not_applicable ->
  satisfied with implementation state not-applicable; fail, error, manual (unattested) and
  waived -> not-satisfied. A waived failure stays not-satisfied: OSCAL records an accepted
  weakness as a risk with status ``deviation-approved`` (one per applied waiver), which the
  finding lists in ``related-risks``;
- ``import-ap``: there is no assessment plan, so the href is a fragment naming a back-matter
  resource that says so (OSCAL requires the import; a fragment is a valid URI reference).

``render_catalog``: the rules as an OSCAL catalog (one group per target kind, one control per
rule) and one OSCAL profile per framework, selecting the rules its requirements use; each
selected control gets, through ``modify.alters``, one ``requirement`` prop per requirement
of the framework it meets.

Deterministic: uuids are uuid5 of the assessment's uuid (or the catalog digest) and stable
keys, times are the assessment's own, and trestle serialises the models in field order.
Text from targets goes into the models as data and is serialised by the library; OSCAL
single-line fields (titles, prop values) get line breaks replaced by spaces.
"""

from __future__ import annotations

import re
import uuid as uuidlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from assessor.errors import AssessorError

if TYPE_CHECKING:
    from trestle.core.base_model import OscalBaseModel
    from trestle.oscal import catalog as cat
    from trestle.oscal import common

    from assessor.catalog import Catalog
    from assessor.catalog.schema import Rule
    from assessor.export.data import ExportData, ExportResult, ExportTarget

NS = "https://assessor.dev/ns/oscal"
_BASE = uuidlib.uuid5(uuidlib.NAMESPACE_URL, NS)
_SAFE = re.compile(r"[A-Za-z0-9.-]")
_BAD_STATUSES = ("fail", "error", "waived")
_KINDS = ("host", "engine", "container", "image", "registry")


# --- identifiers and small values -------------------------------------------------------------


def _escape(s: str) -> str:
    # every character outside [A-Za-z0-9.-] (the underscore too) as _<hex>_: injective
    return "".join(c if _SAFE.fullmatch(c) else f"_{ord(c):x}_" for c in s)


def token(s: str) -> str:
    """An OSCAL token for ``s`` (a rule or framework id): ``s`` itself when it is a plain
    id starting with a letter, else escaped and, if it would not start with a letter, prefixed
    with ``_``."""
    body = _escape(s)
    return body if body[:1].isalpha() else "_" + body


def requirement_token(framework: str, requirement: str) -> str:
    """``<framework>_<requirement>``, e.g. ``nistir-8176_5.2.1-c-ii``; characters a token
    cannot hold are escaped (``CM-7(1)`` -> ``CM-7_28_1_29_``)."""
    return f"{token(framework)}_{_escape(requirement)}"


def _line(s: str | None) -> str:
    """A single-line OSCAL value (markup-line, prop value): line breaks become spaces."""
    return re.sub(r"[\r\n]+", " ", s or "").strip()


def _prop(name: str, value: Any, cls: str | None = None) -> common.Property | None:
    from trestle.oscal import common

    if value is None or isinstance(value, dict | list):
        return None
    text = ("true" if value else "false") if isinstance(value, bool) else _line(str(value))
    if not text:
        return None
    return common.Property(name=name, ns=NS, value=text, class_=cls)


def _props(*items: common.Property | None) -> list[common.Property] | None:
    out = [p for p in items if p is not None]
    return out or None


def _flat(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    """Nested identity values as (dotted name, scalar) pairs, in key order."""
    if isinstance(value, dict):
        for k in sorted(value, key=str):
            yield from _flat(f"{prefix}.{k}" if prefix else str(k), value[k])
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _flat(f"{prefix}.{i}", v)
    else:
        yield prefix, value


def _seconds(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(microsecond=0)


def _parse(iso: str | None) -> datetime | None:
    return _seconds(datetime.fromisoformat(iso)) if iso else None


def _dump(model: OscalBaseModel) -> bytes:
    """Pretty JSON (two-space indent, model field order) under the model's OSCAL root key."""
    return model.oscal_serialize_json_bytes(pretty=True) + b"\n"


class _Ids:
    """uuid5 under one namespace, from a tuple of stable keys."""

    def __init__(self, seed: str) -> None:
        try:
            self.ns = uuidlib.UUID(seed)
        except ValueError:
            self.ns = uuidlib.uuid5(_BASE, seed)

    def __call__(self, *keys: object) -> str:
        return str(uuidlib.uuid5(self.ns, "\x1f".join(str(k) for k in keys)))


# --- assessment results -----------------------------------------------------------------------


def render_assessment_results(data: ExportData) -> bytes:
    """The assessment as an OSCAL assessment-results document (UTF-8 JSON, trailing newline)."""
    from pydantic import ValidationError

    try:
        return _dump(_assessment_results(data))
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise AssessorError(f"cannot export as OSCAL: {where}: {first['msg']}") from e


def _assessment_results(data: ExportData) -> OscalBaseModel:
    from trestle.oscal import OSCAL_VERSION, common
    from trestle.oscal import assessment_results as ar

    if not data.results and not data.attestations:
        raise AssessorError(
            f"assessment {data.id} has no results: OSCAL needs at least one reviewed control"
        )
    ids = _Ids(data.uuid)
    a = data.assessment
    end = _seconds(data.end)
    items = {t.uri: ids("target", t.uri) for t in data.targets}
    observations, by_result, evidence = _result_observations(data, ids, items, end)
    attested, attestation_obs = _attestation_observations(data, ids)
    risks, risk_of_waiver = _risks(data, ids, by_result)
    findings, reviewed = _findings(data, ids, by_result, attested, risk_of_waiver)
    plan = ids("assessment-plan")
    resources = [
        common.Resource(
            uuid=plan,
            title="No assessment plan",
            description="assessor records no OSCAL assessment plan: the plan is the scan's "
            "scope (the targets in local-definitions) and the control catalog whose digest "
            "the metadata names.",
        ),
        *(_evidence_resource(ids, h, data) for h in evidence),
    ]
    system = f", system {a['system']}" if a.get("system") else ""
    title = f"Assessment {a['id']} ({a['period']}{system})"
    metadata = common.Metadata(
        title=_line(title),
        last_modified=end,
        version=a.get("digest") or data.tool_version,
        oscal_version=OSCAL_VERSION,
        props=_props(
            _prop("assessment-id", a["id"]),
            _prop("assessment-uuid", data.uuid),
            _prop("period", a.get("period")),
            _prop("system", a.get("system")),
            _prop("status", a.get("status")),
            _prop("tool-version", data.tool_version),
            _prop("catalog-digest", a.get("catalog_digest")),
            _prop("finalised", a.get("finalised")),
            _prop("finalised-by", a.get("finalised_by")),
            _prop("digest", a.get("digest")),
        ),
    )
    result = ar.Result(
        uuid=ids("result"),
        title=_line(title),
        description=_description(data),
        start=_seconds(data.started),
        end=_seconds(data.finished) if data.finished else None,
        props=_props(
            _prop("assessment-uuid", data.uuid),
            _prop("status", a.get("status")),
            *(_prop("scope", s) for s in a.get("scope") or []),
        ),
        local_definitions=ar.LocalDefinitions1(
            inventory_items=[_inventory_item(t, items[t.uri]) for t in data.targets] or None
        ),
        reviewed_controls=reviewed,
        observations=(observations + attestation_obs) or None,
        risks=risks or None,
        findings=findings or None,
    )
    return ar.AssessmentResults(
        uuid=ids("assessment-results"),
        metadata=metadata,
        import_ap=ar.ImportAp(
            href=f"#{plan}",
            remarks="No OSCAL assessment plan exists; the fragment names a back-matter "
            "resource that says so.",
        ),
        results=[result],
        back_matter=common.BackMatter(resources=resources),
    )


def _description(data: ExportData) -> str:
    counts: dict[str, int] = defaultdict(int)
    for r in data.results:
        counts[r.status] += 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no results"
    return (
        f"Assessment by assessor {data.tool_version} of {len(data.targets)} target(s) against "
        f"the control catalog {data.assessment.get('catalog_digest') or '(unknown digest)'}: "
        f"{len(data.results)} results ({summary}), {len(data.waivers)} applied waiver(s), "
        f"{len(data.attestations)} attestation(s)."
    )


def _inventory_item(t: ExportTarget, item_uuid: str) -> common.InventoryItem:
    from trestle.oscal import common

    identity = [_prop(token(name), v, "identity") for name, v in _flat("", t.identity)]
    return common.InventoryItem(
        uuid=item_uuid,
        description=f"The {t.kind} target {t.uri}",
        props=_props(
            _prop("target", t.uri), _prop("kind", t.kind), _prop("status", t.status), *identity
        ),
        remarks=t.error or None,
    )


def _result_observations(
    data: ExportData, ids: _Ids, items: dict[str, str], collected: datetime
) -> tuple[list[common.Observation], dict[int, str], list[str]]:
    """One observation per result; returns them, result id -> observation uuid, and the
    evidence hashes they cite (sorted)."""
    from trestle.oscal import common

    out: list[common.Observation] = []
    by_result: dict[int, str] = {}
    seen: dict[tuple[str, str, str], int] = defaultdict(int)
    hashes: set[str] = set()
    for r in data.results:
        key = (r.target, r.rule, r.resource)
        seen[key] += 1
        obs_uuid = ids("observation", *key, seen[key])
        by_result[r.id] = obs_uuid
        rule = data.catalog.rules.get(r.rule)
        manual = r.raw_status == "manual" or (rule is not None and not rule.automated)
        evidence = None
        if r.evidence:
            hashes.add(r.evidence)
            info = data.evidence.get(r.evidence)
            kind = f"{info.kind} evidence document" if info else "evidence document"
            evidence = [
                common.RelevantEvidence(
                    href=f"#{ids('evidence', r.evidence)}",
                    description=f"The {kind} judged.",
                )
            ]
        out.append(
            common.Observation(
                uuid=obs_uuid,
                title=_line(r.title) or r.rule,
                description=r.message or f"{r.rule} on {r.resource}: {r.raw_status}",
                props=_result_props(r),
                methods=["EXAMINE" if manual else "TEST"],
                types=["finding" if r.status in _BAD_STATUSES else "control-objective"],
                subjects=[
                    common.SubjectReference(
                        subject_uuid=items[r.target],
                        type="inventory-item",
                        title=_line(r.target) or None,
                    )
                ]
                if r.target in items
                else None,
                relevant_evidence=evidence,
                collected=collected,
            )
        )
    return out, by_result, sorted(hashes)


def _result_props(r: ExportResult) -> list[common.Property] | None:
    return _props(
        _prop("rule", r.rule),
        _prop("resource", r.resource),
        _prop("status", r.status),
        _prop("raw-status", r.raw_status),
        _prop("severity", r.severity),
        _prop("evidence-sha256", r.evidence),
        _prop("waiver", r.waiver["id"] if r.waiver else None),
    )


def _evidence_resource(ids: _Ids, sha256: str, data: ExportData) -> common.Resource:
    import base64

    from trestle.oscal import common

    info = data.evidence.get(sha256)
    # RFC 6920 named information: the document is named by its hash, kept in assessor's store
    ni = base64.urlsafe_b64encode(bytes.fromhex(sha256)).decode().rstrip("=")
    return common.Resource(
        uuid=ids("evidence", sha256),
        title=_line(f"Evidence {info.kind if info else ''} {sha256}"),
        description="An evidence document (canonical JSON, secrets redacted at collection) "
        "kept in the assessor store by its SHA-256.",
        props=_props(
            _prop("evidence-sha256", sha256),
            _prop("evidence-kind", info.kind if info else None),
            _prop("size", info.size if info else None),
        ),
        rlinks=[
            common.Rlink(
                href=f"ni:///sha-256;{ni}",
                media_type="application/json",
                hashes=[common.Hash(algorithm="SHA-256", value=sha256)],
            )
        ],
    )


def _attestation_observations(
    data: ExportData, ids: _Ids
) -> tuple[dict[tuple[str, str], tuple[str, str]], list[common.Observation]]:
    """One observation per attestation; returns (framework, requirement) -> (status, uuid)."""
    from trestle.oscal import common

    out: list[common.Observation] = []
    attested: dict[tuple[str, str], tuple[str, str]] = {}
    for at in data.attestations:
        obs_uuid = ids("attestation", at["id"])
        attested[(at["framework"], at["requirement"])] = (at["status"], obs_uuid)
        files = [
            common.RelevantEvidence(
                description=_line(f"Attached file {f.get('name', '')}") or "Attached file",
                props=_props(_prop("sha256", f.get("sha256")), _prop("size", f.get("size"))),
            )
            for f in at.get("evidence") or []
        ]
        created = _parse(at.get("created")) or _seconds(data.end)
        out.append(
            common.Observation(
                uuid=obs_uuid,
                title=_line(f"Attestation {at['framework']}:{at['requirement']}: {at['status']}"),
                description=at.get("note") or "(no note)",
                props=_props(
                    _prop("attestation", at["id"]),
                    _prop("framework", at["framework"]),
                    _prop("requirement", at["requirement"]),
                    _prop("status", at["status"]),
                    _prop("by", at.get("by")),
                    _prop("period", at.get("period")),
                    _prop("system", at.get("system")),
                ),
                methods=["EXAMINE"],
                types=["control-objective"],
                relevant_evidence=files or None,
                collected=created,
                expires=_parse(at.get("expires")),
            )
        )
    return attested, out


def _risks(
    data: ExportData, ids: _Ids, by_result: dict[int, str]
) -> tuple[list[common.Risk], dict[int, str]]:
    """One risk, status deviation-approved, per applied waiver."""
    from trestle.oscal import common

    covered: dict[int, list[str]] = defaultdict(list)
    for r in data.results:
        if r.waiver is not None:
            covered[int(r.waiver["id"])].append(by_result[r.id])
    risks: list[common.Risk] = []
    by_waiver: dict[int, str] = {}
    for w in data.waivers:
        wid = int(w["id"])
        risk_uuid = ids("waiver", wid)
        by_waiver[wid] = risk_uuid
        where = f"resources matching {w.get('resource_pattern') or '*'}"
        where += f" on targets matching {w.get('target_pattern') or '*'}"
        until = f" until {w['expires']}" if w.get("expires") else ""
        compensating = w.get("compensating")
        risks.append(
            common.Risk(
                uuid=risk_uuid,
                title=_line(f"Waiver {wid}: {w['rule']}"),
                description=w.get("reason") or "(no reason recorded)",
                statement=f"Failures of rule {w['rule']} on {where} are accepted{until}, "
                f"approved by {w.get('approver') or '(unknown)'}.",
                props=_props(
                    _prop("waiver", wid),
                    _prop("rule", w["rule"]),
                    _prop("resource-pattern", w.get("resource_pattern")),
                    _prop("target-pattern", w.get("target_pattern")),
                    _prop("system", w.get("system")),
                    _prop("approver", w.get("approver")),
                    _prop("expires", w.get("expires")),
                    _prop("source", w.get("source")),
                ),
                status="deviation-approved",
                mitigating_factors=[
                    common.MitigatingFactor(uuid=ids("compensating", wid), description=compensating)
                ]
                if compensating
                else None,
                deadline=_parse(w.get("expires")),
                related_observations=[
                    common.RelatedObservation(observation_uuid=u) for u in covered[wid]
                ]
                or None,
            )
        )
    return risks, by_waiver


_STATE = {
    "pass": ("satisfied", "pass"),
    "not_applicable": ("satisfied", "other"),
    "fail": ("not-satisfied", "fail"),
    "waived": ("not-satisfied", "fail"),
    "error": ("not-satisfied", "other"),
    "manual": ("not-satisfied", "other"),
}
_REMARKS = {
    "not_applicable": "No rule of this requirement applied to the targets in scope.",
    "waived": "Every failure is covered by an approved waiver (see the related risks).",
    "error": "A rule could not be evaluated: the requirement is not shown as met.",
    "manual": "A manual part awaits an attestation.",
}


def _findings(
    data: ExportData,
    ids: _Ids,
    by_result: dict[int, str],
    attested: dict[tuple[str, str], tuple[str, str]],
    risk_of_waiver: dict[int, str],
) -> tuple[list[common.Finding], common.ReviewedControls]:
    """One finding per requirement with a result or an attestation, in framework order."""
    from trestle.oscal import common

    from assessor.audit.rollup import rollup

    results: dict[tuple[str, str], list[ExportResult]] = defaultdict(list)
    for r in data.results:
        for fw, reqs in r.references.items():
            for req in reqs:
                results[(fw, req)].append(r)
    keys = set(results) | set(attested)
    findings: list[common.Finding] = []
    selections: list[common.ControlSelections] = []
    for fw in sorted({fw for fw, _ in keys}):
        framework = data.catalog.frameworks.get(fw)
        known = {q.id: q for q in framework.requirements} if framework else {}
        order = [q for q in known if (fw, q) in keys]
        order += sorted(req for f, req in keys if f == fw and req not in known)
        for req in order:
            rs = results.get((fw, req), [])
            statuses = [r.status for r in rs]
            observations = [by_result[r.id] for r in rs]
            if (fw, req) in attested:
                status, obs = attested[(fw, req)]
                statuses = [s for s in statuses if s != "manual"] + [status]
                observations.append(obs)
            rolled = rollup(statuses)
            state, reason = _STATE[rolled]
            risks = sorted({risk_of_waiver[int(r.waiver["id"])] for r in rs if r.waiver})
            requirement = known.get(req)
            title = _line(f"{fw} {req}: {requirement.title if requirement else req}")
            findings.append(
                common.Finding(
                    uuid=ids("finding", fw, req),
                    title=title,
                    description=_finding_description(rs, (fw, req) in attested),
                    props=_props(
                        _prop("framework", fw), _prop("requirement", req), _prop("status", rolled)
                    ),
                    target=common.FindingTarget(
                        type="objective-id",
                        target_id=requirement_token(fw, req),
                        status=common.ObjectiveStatus(
                            state=state, reason=reason, remarks=_REMARKS.get(rolled)
                        ),
                        implementation_status=common.ImplementationStatus(state="not-applicable")
                        if rolled == "not_applicable"
                        else None,
                    ),
                    related_observations=[
                        common.RelatedObservation(observation_uuid=u) for u in observations
                    ],
                    related_risks=[common.AssociatedRisk(risk_uuid=u) for u in risks] or None,
                )
            )
        title = f"{framework.framework.title} {framework.framework.version}" if framework else fw
        selections.append(
            common.ControlSelections(
                description=_line(f"Requirements of {title} with results"),
                props=_props(_prop("framework", fw)),
                include_controls=[
                    common.SelectControlById(control_id=requirement_token(fw, req)) for req in order
                ],
            )
        )
    reviewed = common.ReviewedControls(
        description="The framework requirements that results or attestations of this "
        "assessment address; ids are <framework>_<requirement> tokens.",
        control_selections=selections,
    )
    return findings, reviewed


def _finding_description(rs: list[ExportResult], attested: bool) -> str:
    counts: dict[str, int] = defaultdict(int)
    for r in rs:
        counts[r.status] += 1
    rules = sorted({r.rule for r in rs})
    text = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no results"
    out = f"{len(rs)} result(s) ({text})"
    if rules:
        out += " of rule(s) " + ", ".join(rules)
    return out + ("; answered by an attestation." if attested else ".")


# --- the control catalog ----------------------------------------------------------------------


def render_catalog(catalog: Catalog) -> dict[str, bytes]:
    """``{"catalog.json": ..., "profile-<framework>.json": ...}``: the rules as an OSCAL
    catalog, and a profile per framework that has rules (OSCAL cannot select no control)."""
    from pydantic import ValidationError

    try:
        files = {"catalog.json": _dump(_catalog(catalog))}
        for fw_id in sorted(catalog.frameworks):
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", fw_id):
                raise AssessorError(f"framework id {fw_id!r} cannot name a file")
            profile = _profile(catalog, fw_id)
            if profile is not None:
                files[f"profile-{fw_id}.json"] = _dump(profile)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise AssessorError(f"cannot export the catalog as OSCAL: {where}: {first['msg']}") from e
    return files


def _catalog_metadata(catalog: Catalog, title: str, *extra: Any) -> common.Metadata:
    from trestle.oscal import OSCAL_VERSION, common

    return common.Metadata(
        title=_line(title),
        last_modified=_catalog_date(catalog),
        version=catalog.digest or "unknown",
        oscal_version=OSCAL_VERSION,
        props=_props(_prop("catalog-digest", catalog.digest), *extra),
        remarks="last-modified is the newest publication date of the catalog's frameworks: "
        "control files carry no dates, and exports never read the clock.",
    )


def _catalog_date(catalog: Catalog) -> datetime:
    dates = []
    for fw in catalog.frameworks.values():
        m = re.fullmatch(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", fw.framework.published.strip())
        if m:
            dates.append(datetime(int(m[1]), int(m[2] or 1), int(m[3] or 1), tzinfo=UTC))
    return max(dates, default=datetime(1970, 1, 1, tzinfo=UTC))


def _ordered_rules(catalog: Catalog) -> Iterable[Rule]:
    kinds = {k: i for i, k in enumerate(_KINDS)}
    return sorted(catalog.rules.values(), key=lambda r: (kinds.get(r.target.value, 99), r.id))


def _catalog(catalog: Catalog) -> OscalBaseModel:
    from trestle.oscal import catalog as cat
    from trestle.oscal import common

    ids = _Ids(catalog.digest or "catalog")
    refs: dict[tuple[str, str], common.Resource] = {}
    groups: dict[str, list[cat.Control]] = defaultdict(list)
    for rule in _ordered_rules(catalog):
        links = []
        for ref in rule.references:
            key = (ref.title, ref.url or "")
            if key not in refs:
                refs[key] = common.Resource(
                    uuid=ids("reference", *key),
                    title=_line(ref.title) or None,
                    rlinks=[common.Rlink(href=ref.url)] if ref.url else None,
                )
            links.append(
                common.Link(href=f"#{refs[key].uuid}", rel="reference", text=_line(ref.title))
            )
        groups[rule.target.value].append(_control(rule, links or None))
    kinds = [k for k in _KINDS if k in groups] + sorted(k for k in groups if k not in _KINDS)
    return cat.Catalog(
        uuid=ids("catalog"),
        metadata=_catalog_metadata(
            catalog,
            "assessor rules: technical checks for Linux container deployments",
            _prop("rules", len(catalog.rules)),
        ),
        groups=[
            cat.Group2(id=token(k), title=f"{k.capitalize()} rules", controls=groups[k])
            for k in kinds
        ],
        back_matter=common.BackMatter(resources=list(refs.values())) if refs else None,
    )


def _control(rule: Rule, links: list[common.Link] | None) -> cat.Control:
    from trestle.oscal import catalog as cat
    from trestle.oscal import common

    cid = token(rule.id)
    method = "TEST" if rule.automated else "EXAMINE"
    procedure = "\n\n".join(
        t.strip() for t in (rule.audit, rule.manual.procedure if rule.manual else "") if t.strip()
    )
    texts = (
        ("statement", "smt", None, rule.description),
        ("guidance", "gdn", None, rule.rationale),
        ("impact", "imp", NS, rule.impact),
        ("assessment-method", "asm", None, procedure),
        ("remediation", "rem", NS, rule.remediation),
        ("default-value", "dfv", NS, rule.default_value),
    )
    parts = [
        common.Part(
            id=f"{cid}_{suffix}",
            name=name,
            ns=ns,
            prose=text.strip(),
            props=[common.Property(name="method", value=method)]
            if name == "assessment-method"
            else None,
        )
        for name, suffix, ns, text in texts
        if text.strip()
    ]
    return cat.Control(
        id=cid,
        title=_line(rule.title),
        props=_props(
            common.Property(name="label", value=rule.id),
            _prop("severity", rule.severity.value),
            _prop("target", rule.target.value),
            _prop("assessment", "automated" if rule.automated else "manual"),
            *(_prop("tag", t) for t in rule.tags),
        ),
        links=links,
        parts=parts or None,
    )


def _profile(catalog: Catalog, fw_id: str) -> OscalBaseModel | None:
    from trestle.oscal import common
    from trestle.oscal import profile as prof

    fw = catalog.frameworks[fw_id]
    meets: dict[str, list[Any]] = defaultdict(list)  # rule id -> requirements it meets
    for req in fw.requirements:
        for rule_id in req.rules:
            if rule_id in catalog.rules:
                meets[rule_id].append(req)
    selected = [r.id for r in _ordered_rules(catalog) if r.id in meets]
    if not selected:
        return None
    ids = _Ids(catalog.digest or "catalog")
    info = fw.framework
    alters = [
        prof.Alter(
            control_id=token(rule_id),
            adds=[
                prof.Add(
                    position="ending",
                    props=[
                        common.Property(
                            name="requirement",
                            ns=NS,
                            value=_line(req.id),
                            class_=token(fw_id),
                            remarks=req.title,
                        )
                        for req in meets[rule_id]
                    ],
                )
            ],
        )
        for rule_id in selected
    ]
    return prof.Profile(
        uuid=ids("profile", fw_id),
        metadata=_catalog_metadata(
            catalog,
            f"{info.title} {info.version}: the assessor rules that meet it",
            _prop("framework", info.id),
            _prop("framework-version", info.version),
            _prop("framework-source", info.source),
            _prop("framework-published", info.published),
            _prop("requirements", len(fw.requirements)),
        ),
        imports=[
            prof.Import2(
                href="catalog.json",
                include_controls=[prof.SelectControl(with_ids=[token(r) for r in selected])],
            )
        ],
        merge=prof.Merge2(as_is=True),
        modify=prof.Modify(alters=alters),
    )


__all__ = ["NS", "render_assessment_results", "render_catalog", "requirement_token", "token"]
