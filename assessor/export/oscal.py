"""OSCAL exports built with compliance-trestle's models (OSCAL ``trestle.oscal.OSCAL_VERSION``).

Identifiers: one mapping, used by both documents. ``render_catalog`` writes the controls and
objectives that ``render_assessment_results`` refers to, and both name them only through
``token``, ``requirement_token`` and ``objective_id``:

- a rule is the control ``token(rule id)``: the id itself (rule ids are kebab-case), or, if it
  does not start with a letter, ``_`` + the id;
- a framework requirement is the control ``requirement_token(framework, requirement)`` =
  ``token(framework)`` + ``_`` + the requirement id with every character outside
  ``[A-Za-z0-9.-]`` (the underscore too) written ``_<hex>_`` (``nist-800-53r5``/``CM-7(1)`` ->
  ``nist-800-53r5_CM-7_28_1_29_``). Rule and framework ids hold no underscore (their schema
  patterns), so the first underscore past the first character splits framework from
  requirement: the mapping is injective and never gives a rule's id;
- a requirement's assessment objective is the part ``objective_id(framework, requirement)`` =
  its control id + ``_obj`` (an unpaired ``_``, which an escaped id never holds).

``render_catalog`` also checks that every id it writes is unique and fails with one line if two
collide (a framework id equal to a rule id, say), so a reference never resolves to two things.

``render_assessment_results``: a stored assessment (``assessor.readmodel.AssessmentView``) as
OSCAL assessment results, one ``result``:

- ``metadata``: roles ``assessor`` (finalised the assessment), ``approver`` (approved a
  waiver), ``attester`` (attested a requirement), one party (a person, by the name recorded) per
  name, and responsible-parties linking them;
- ``local-definitions``: one inventory item per target (URI, kind, status, identity); the
  assessment assets: assessor itself as a software component, used by one assessment platform;
- ``observations``: one per result (rule x resource), method TEST (EXAMINE for a manual
  rule), its subject the target's inventory item, its origin the tool, its evidence a
  back-matter resource carrying the SHA-256; one per attestation (method EXAMINE, origin the
  attester), each attached file a back-matter resource named by its SHA-256 and embedded
  (base64; at most 32 MiB of files per document, the rest named only);
- ``risks``: one per applied waiver, status ``deviation-approved``, its risk log naming the
  approver and the date the waiver was recorded;
- ``findings``: one per framework requirement the read model gives a status other than
  ``not_assessed`` (requirements no result and no attestation address are not reviewed, and
  are left out). The target is the requirement's objective (``objective-id``). OSCAL's
  objective state is only satisfied | not-satisfied, so only ``pass`` (attested passes
  included) is satisfied; every other status is not-satisfied with reason ``fail`` (fail,
  waived) or ``other`` (error, manual, not_applicable), the status itself in the ``status``
  prop and the remarks; ``not_applicable`` also gets implementation-status not-applicable and
  the reason the rules gave. A waived failure stays not-satisfied and lists the waiver's risk.
  Statuses are read from the read model (``view.frameworks``), never recomputed here;
- ``reviewed-controls``: per framework, the requirement controls and objectives of the findings,
  and the framework's requirement counts by status (props ``requirements``, the status as
  class, ``not_assessed`` included): the report's numbers;
- ``import-ap``: there is no assessment plan, so the href is a fragment naming a back-matter
  resource that says so (OSCAL requires the import; a fragment is a valid URI reference).

``render_catalog``: one OSCAL catalog with one group per rule target kind (a control per rule)
and one group per framework (a control per requirement, with its statement, its assessment
objective and links to the rule controls that meet it), and one OSCAL profile per framework
selecting its requirements and the rules they use; each selected rule control gets, through
``modify.alters``, one ``requirement`` prop per requirement of the framework it meets.

Deterministic: uuids are uuid5 of the assessment's uuid (or the catalog digest) and stable
keys, times are the assessment's own, and trestle serialises the models in field order.
Text from targets goes into the models as data and is serialised by the library; OSCAL
single-line fields (titles, prop values) get line breaks replaced by spaces.
"""

from __future__ import annotations

import functools
import re
import uuid as uuidlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from assessor.errors import AssessorError

if TYPE_CHECKING:
    from trestle.core.base_model import OscalBaseModel
    from trestle.oscal import catalog as cat
    from trestle.oscal import common

    from assessor.catalog import Catalog
    from assessor.catalog.schema import Framework, Requirement, Rule
    from assessor.readmodel import AssessmentView, RequirementStatus, ResultView, TargetView

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


def objective_id(framework: str, requirement: str) -> str:
    """The id of a requirement's assessment objective (a part of its control): what a finding
    targets, ``<requirement_token>_obj``."""
    return f"{requirement_token(framework, requirement)}_obj"


def _line(s: str | None) -> str:
    """A single-line OSCAL value (markup-line, prop value): line breaks become spaces."""
    return re.sub(r"[\r\n]+", " ", s or "").strip()


def _prop(name: str, value: Any, cls: str | None = None) -> common.Property | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = ("true" if value else "false") if isinstance(value, bool) else _line(str(value))
    if not text:
        return None
    return _property(name, text, cls)


@functools.lru_cache(maxsize=4096)
def _property(name: str, text: str, cls: str | None) -> common.Property:
    """One validated prop per distinct (name, value, class), shared by the models that carry
    it (they are only serialised): thousands of results repeat a few statuses and rules."""
    from trestle.oscal import common

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

# role id -> (title, description); only the roles someone holds are written
_ROLES = {
    "assessor": (
        "Assessor",
        "Finalised the assessment: froze its results, waivers and attestations.",
    ),
    "approver": (
        "Waiver approver",
        "Approved a waiver: accepted the failures it covers as a risk until it expires.",
    ),
    "attester": (
        "Attester",
        "Attested a framework requirement by hand, answering what no rule observes.",
    ),
}


def render_assessment_results(data: AssessmentView) -> bytes:
    """The assessment as an OSCAL assessment-results document (UTF-8 JSON, trailing newline)."""
    from pydantic import ValidationError

    try:
        return _dump(_assessment_results(data))
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise AssessorError(f"cannot export as OSCAL: {where}: {first['msg']}") from e


class _Parties:
    """The people the assessment names (finaliser, approvers, attesters): one party per name,
    and the roles each holds."""

    def __init__(self, ids: _Ids) -> None:
        self.ids = ids
        self.uuid: dict[str, str] = {}
        self.roles: dict[str, dict[str, None]] = {r: {} for r in _ROLES}

    def add(self, name: object, role: str) -> str | None:
        """The party uuid of ``name`` (None when no name is recorded), holding ``role``."""
        text = _line(str(name)) if name is not None else ""
        if not text:
            return None
        party = self.uuid.setdefault(text, self.ids("party", text))
        self.roles[role][party] = None
        return party

    def metadata(self) -> dict[str, Any]:
        from trestle.oscal import common

        held = [r for r in _ROLES if self.roles[r]]
        return {
            "roles": [common.Role(id=r, title=_ROLES[r][0], description=_ROLES[r][1]) for r in held]
            or None,
            "parties": [
                common.Parties(uuid=u, type="person", name=name)
                for name, u in sorted(self.uuid.items())
            ]
            or None,
            "responsible_parties": [
                common.ResponsibleParty(role_id=r, party_uuids=list(self.roles[r])) for r in held
            ]
            or None,
        }


def _assessment_results(data: AssessmentView) -> OscalBaseModel:
    from trestle.oscal import OSCAL_VERSION, common
    from trestle.oscal import assessment_results as ar

    if not data.results and not data.attestations:
        raise AssessorError(
            f"assessment {data.id} has no results: OSCAL needs at least one reviewed control"
        )
    ids = _Ids(data.uuid)
    a = data.assessment
    end = _seconds(data.end)
    parties = _Parties(ids)
    parties.add(data.finalised_by, "assessor")
    tool = ids("component", "assessor")
    items = {t.uri: ids("target", t.uri) for t in data.targets}
    observations, by_result, evidence = _result_observations(data, ids, items, tool, end)
    attested, attestation_obs, files = _attestation_observations(data, ids, parties)
    risks, risk_of_waiver = _risks(data, ids, by_result, parties)
    findings, reviewed = _findings(data, ids, by_result, attested, risk_of_waiver, tool, parties)
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
        *files,
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
        **parties.metadata(),
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
            inventory_items=[_inventory_item(t, items[t.uri]) for t in data.targets] or None,
            assessment_assets=_assessment_assets(data, ids, tool),
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


def _description(data: AssessmentView) -> str:
    counts = data.counts
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no results"
    return (
        f"Assessment by assessor {data.tool_version} of {len(data.targets)} target(s) against "
        f"the control catalog {data.assessment.get('catalog_digest') or '(unknown digest)'}: "
        f"{len(data.results)} results ({summary}), {len(data.waivers)} applied waiver(s), "
        f"{len(data.attestations)} attestation(s)."
    )


def _assessment_assets(data: AssessmentView, ids: _Ids, tool: str) -> common.AssessmentAssets:
    """assessor itself, the one tool, on one platform (the host that ran the scan)."""
    from trestle.oscal import common

    host = data.scanner_host
    return common.AssessmentAssets(
        components=[
            common.SystemComponent(
                uuid=tool,
                type="software",
                title=_line(f"assessor {data.tool_version}"),
                description="The assessment tool: collects evidence from the targets, evaluates "
                "the rules of the control catalog against it and stores the results.",
                props=_props(
                    _prop("version", data.tool_version),
                    _prop("catalog-digest", data.assessment.get("catalog_digest")),
                ),
                status=common.Status(state="operational"),
            )
        ],
        assessment_platforms=[
            common.AssessmentPlatform(
                uuid=ids("platform"),
                title=_line(f"assessor on {host}" if host else "assessor"),
                props=_props(_prop("scanner-host", host)),
                uses_components=[common.UsesComponent(component_uuid=tool)],
            )
        ],
    )


def _inventory_item(t: TargetView, item_uuid: str) -> common.InventoryItem:
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


def _tool_origin(tool: str) -> list[common.Origin]:
    from trestle.oscal import common

    return [common.Origin(actors=[common.OriginActor(type="tool", actor_uuid=tool)])]


def _result_observations(
    data: AssessmentView, ids: _Ids, items: dict[str, str], tool: str, collected: datetime
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
                origins=_tool_origin(tool),
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


def _result_props(r: ResultView) -> list[common.Property] | None:
    return _props(
        _prop("rule", r.rule),
        _prop("resource", r.resource),
        _prop("status", r.status),
        _prop("raw-status", r.raw_status),
        _prop("severity", r.severity),
        _prop("evidence-sha256", r.evidence),
        _prop("waiver", r.waiver["id"] if r.waiver else None),
    )


def _ni(sha256: str) -> str:
    """RFC 6920 named information: a document named by its SHA-256."""
    import base64

    return "ni:///sha-256;" + base64.urlsafe_b64encode(bytes.fromhex(sha256)).decode().rstrip("=")


def _evidence_resource(ids: _Ids, sha256: str, data: AssessmentView) -> common.Resource:
    from trestle.oscal import common

    info = data.evidence.get(sha256)
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
                href=_ni(sha256),
                media_type="application/json",
                hashes=[common.Hash(algorithm="SHA-256", value=sha256)],
            )
        ],
    )


# attached files embedded (base64) in one document, at most; beyond, a file is named by its
# hash only (the report ships the same files; ``assessor attest`` caps each at 20 MiB)
_MAX_EMBEDDED = 32 << 20


def _attachment_resource(
    data: AssessmentView, res_uuid: str, sha: str, name: str, budget: list[int]
) -> common.Resource:
    """A file attached to an attestation: embedded when stored and within ``budget`` (bytes
    left, updated), always named by its SHA-256."""
    import base64
    import mimetypes

    from trestle.oscal import common

    body = data.attachment(sha)
    embedded = None
    if body is None:
        where = "; it is not in the store this export read."
    elif not body:
        where = "; it is empty."
    elif len(body) > budget[0]:
        where = f"; not embedded: one document embeds at most {_MAX_EMBEDDED >> 20} MiB."
    else:
        budget[0] -= len(body)
        where = " and embedded here."
        # an OSCAL file name is a token: the recorded name with other characters as "_"
        filename = re.sub(r"[^A-Za-z0-9._-]", "_", name)
        filename = filename if re.match(r"[A-Za-z_]", filename) else "_" + filename
        media = mimetypes.guess_type(name)[0] or "application/octet-stream"
        embedded = common.Base64(
            filename=filename, media_type=media, value=base64.b64encode(body).decode()
        )
    return common.Resource(
        uuid=res_uuid,
        title=_line(f"Attached file {name}"),
        description="A file attached to an attestation, kept in the assessor store by its "
        "SHA-256" + where,
        props=_props(
            _prop("name", name),
            _prop("sha256", sha),
            _prop("size", len(body) if body is not None else None),
            _prop("embedded", embedded is not None),
        ),
        rlinks=[common.Rlink(href=_ni(sha), hashes=[common.Hash(algorithm="SHA-256", value=sha)])],
        base64=embedded,
    )


def _attestation_observations(
    data: AssessmentView, ids: _Ids, parties: _Parties
) -> tuple[dict[int, str], list[common.Observation], list[common.Resource]]:
    """One observation per attestation, and a back-matter resource per attached file;
    returns attestation id -> observation uuid, the observations and the resources."""
    from trestle.oscal import common

    out: list[common.Observation] = []
    resources: dict[str, common.Resource] = {}
    attested: dict[int, str] = {}
    budget = [_MAX_EMBEDDED]
    for at in data.attestations:
        obs_uuid = ids("attestation", at["id"])
        attested[int(at["id"])] = obs_uuid
        party = parties.add(at.get("by"), "attester")
        files = []
        for f in at.get("evidence") or []:
            name = _line(str(f.get("name") or "")) or "(unnamed)"
            sha = str(f.get("sha256") or "")
            href = None
            if re.fullmatch(r"[0-9a-f]{64}", sha):
                res_uuid = ids("attachment", sha)
                href = f"#{res_uuid}"
                if res_uuid not in resources:
                    resources[res_uuid] = _attachment_resource(data, res_uuid, sha, name, budget)
            files.append(
                common.RelevantEvidence(
                    href=href,
                    description=f"Attached file {name}",
                    props=_props(_prop("sha256", sha), _prop("size", f.get("size"))),
                )
            )
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
                origins=[
                    common.Origin(
                        actors=[
                            common.OriginActor(type="party", actor_uuid=party, role_id="attester")
                        ]
                    )
                ]
                if party
                else None,
                relevant_evidence=files or None,
                collected=created,
                expires=_parse(at.get("expires")),
            )
        )
    return attested, out, list(resources.values())


def _risks(
    data: AssessmentView, ids: _Ids, by_result: dict[int, str], parties: _Parties
) -> tuple[list[common.Risk], dict[int, str]]:
    """One risk, status deviation-approved, per applied waiver; its risk log records who
    approved it and when the waiver was recorded."""
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
        approver = parties.add(w.get("approver"), "approver")
        recorded = _parse(w.get("created"))
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
                    _prop("created", w.get("created")),
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
                risk_log=common.RiskLog(
                    entries=[
                        common.Entry(
                            uuid=ids("waiver-approved", wid),
                            title="Deviation approved (waiver recorded)",
                            start=recorded,
                            end=_parse(w.get("expires")),
                            logged_by=[common.LoggedBy(party_uuid=approver, role_id="approver")]
                            if approver
                            else None,
                            status_change="deviation-approved",
                        )
                    ]
                )
                if recorded is not None
                else None,
                related_observations=[
                    common.RelatedObservation(observation_uuid=u) for u in covered[wid]
                ]
                or None,
            )
        )
    return risks, by_waiver


# requirement status (assessor.audit.rollup) -> (objective state, reason); not_assessed has no
# finding. Only a pass is satisfied.
_STATE = {
    "pass": ("satisfied", "pass"),
    "fail": ("not-satisfied", "fail"),
    "waived": ("not-satisfied", "fail"),
    "error": ("not-satisfied", "other"),
    "manual": ("not-satisfied", "other"),
    "not_applicable": ("not-satisfied", "other"),
}
_REMARKS = {
    "pass": "Every rule result that applied passed, or an attestation answered it as passed.",
    "fail": "At least one rule result failed, or an attestation answered it as failed.",
    "waived": "Not met: every failure is covered by an approved waiver (see the related risks).",
    "error": "A rule could not be evaluated: the requirement is not shown as met.",
    "manual": "Not determined: a manual part awaits an attestation.",
    "not_applicable": "Not applicable (OSCAL has no such state, so it is not shown as "
    "satisfied): no rule of this requirement applied to the targets in scope.",
}


def _not_applicable_reason(rs: RequirementStatus, results: dict[int, ResultView]) -> str:
    """The rules' own words for why nothing applied (their distinct messages, a few)."""
    messages = list(
        dict.fromkeys(
            _line(f"{results[i].rule}: {results[i].message}")
            for i in rs.result_ids
            if i in results and results[i].message
        )
    )
    if not messages:
        return ""
    more = f" (and {len(messages) - 5} more)" if len(messages) > 5 else ""
    return " Reasons given: " + "; ".join(messages[:5]) + more


def _findings(
    data: AssessmentView,
    ids: _Ids,
    by_result: dict[int, str],
    attested: dict[int, str],
    risk_of_waiver: dict[int, str],
    tool: str,
    parties: _Parties,
) -> tuple[list[common.Finding], common.ReviewedControls]:
    """One finding per assessed requirement (status from the read model), framework order."""
    from trestle.oscal import common

    results = {r.id: r for r in data.results}
    findings: list[common.Finding] = []
    selections: list[common.ControlSelections] = []
    objectives: list[common.ControlObjectiveSelections] = []
    for fw_id, fw in data.frameworks.items():
        assessed = [rs for rs in fw.requirements if rs.status != "not_assessed"]
        if not assessed:
            continue
        for rs in assessed:
            state, reason = _STATE[rs.status]
            observations = [by_result[i] for i in rs.result_ids if i in by_result]
            origins = _tool_origin(tool) if observations else []
            at = rs.attestation
            if at is not None and int(at["id"]) in attested:
                observations.append(attested[int(at["id"])])
                party = parties.add(at.get("by"), "attester")
                if party:
                    actor = common.OriginActor(type="party", actor_uuid=party, role_id="attester")
                    origins.append(common.Origin(actors=[actor]))
            risks = sorted(
                {
                    risk_of_waiver[int(w["id"])]
                    for i in rs.result_ids
                    if (w := results[i].waiver) is not None and int(w["id"]) in risk_of_waiver
                }
            )
            remarks = _REMARKS[rs.status]
            if rs.status == "not_applicable":
                remarks += _not_applicable_reason(rs, results)
            findings.append(
                common.Finding(
                    uuid=ids("finding", fw_id, rs.id),
                    title=_line(f"{fw_id} {rs.id}: {rs.title}"),
                    description=_finding_description(rs),
                    props=_props(
                        _prop("framework", fw_id),
                        _prop("requirement", rs.id),
                        _prop("status", rs.status),
                        _prop("coverage", rs.coverage),
                    ),
                    origins=origins or None,
                    target=common.FindingTarget(
                        type="objective-id",
                        target_id=objective_id(fw_id, rs.id),
                        status=common.ObjectiveStatus(state=state, reason=reason, remarks=remarks),
                        implementation_status=common.ImplementationStatus(state="not-applicable")
                        if rs.status == "not_applicable"
                        else None,
                    ),
                    related_observations=[
                        common.RelatedObservation(observation_uuid=u) for u in observations
                    ]
                    or None,
                    related_risks=[common.AssociatedRisk(risk_uuid=u) for u in risks] or None,
                )
            )
        title = _line(f"{fw.title} {fw.version}")
        selections.append(
            common.ControlSelections(
                description=_line(f"Requirements of {title} with results or attestations"),
                # the framework's requirements by status, as the report counts them (the
                # not_assessed ones have no finding and are not selected here)
                props=_props(
                    _prop("framework", fw_id),
                    *(_prop("requirements", n, s) for s, n in fw.counts.items()),
                ),
                include_controls=[
                    common.SelectControlById(control_id=requirement_token(fw_id, rs.id))
                    for rs in assessed
                ],
            )
        )
        objectives.append(
            common.ControlObjectiveSelections(
                description=_line(f"Assessment objectives of {title} with findings"),
                props=_props(_prop("framework", fw_id)),
                include_objectives=[
                    common.SelectObjectiveById(objective_id=objective_id(fw_id, rs.id))
                    for rs in assessed
                ],
            )
        )
    if not selections:
        raise AssessorError(
            f"assessment {data.id}: no result or attestation addresses a requirement of the "
            "catalog's frameworks, so there is no control to report on"
        )
    reviewed = common.ReviewedControls(
        description="The framework requirements that results or attestations of this "
        "assessment address: controls and objectives of the catalog and profiles that "
        "`assessor controls export --format oscal` writes.",
        control_selections=selections,
        control_objective_selections=objectives,
    )
    return findings, reviewed


def _finding_description(rs: RequirementStatus) -> str:
    text = ", ".join(f"{n} {s}" for s, n in rs.counts.items() if n) or "no results"
    out = f"{sum(rs.counts.values())} result(s) ({text})"
    if rs.rules:
        out += " of rule(s) " + ", ".join(rs.rules)
    if rs.attestation is not None:
        out += f"; answered by an attestation ({rs.attestation.get('status')})"
    return out + "."


# --- the control catalog ----------------------------------------------------------------------


def render_catalog(catalog: Catalog) -> dict[str, bytes]:
    """``{"catalog.json": ..., "profile-<framework>.json": ...}``: the rules and the framework
    requirements as one OSCAL catalog, and a profile per framework selecting its requirements
    and the rules that meet them."""
    from pydantic import ValidationError

    try:
        for fw_id in sorted(catalog.frameworks):
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", fw_id):
                raise AssessorError(f"framework id {fw_id!r} cannot name a file")
        model = _catalog(catalog)
        _unique_ids(model)
        files = {"catalog.json": _dump(model)}
        for fw_id in sorted(catalog.frameworks):
            files[f"profile-{fw_id}.json"] = _dump(_profile(catalog, fw_id))
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise AssessorError(f"cannot export the catalog as OSCAL: {where}: {first['msg']}") from e
    return files


def _unique_ids(model: OscalBaseModel) -> None:
    """Every group, control and part id once (OSCAL's catalog index), or one clear error."""
    seen: Counter[str] = Counter()

    def walk(node: Any) -> None:
        for group in getattr(node, "groups", None) or []:
            seen[group.id] += 1
            walk(group)
        for control in getattr(node, "controls", None) or []:
            seen[control.id] += 1
            walk(control)
        for part in getattr(node, "parts", None) or []:
            if part.id:
                seen[part.id] += 1
            walk(part)

    walk(model)
    twice = sorted(i for i, n in seen.items() if n > 1)
    if twice:
        raise AssessorError(
            f"cannot export the catalog as OSCAL: id {twice[0]!r} names two things (a rule, "
            "framework or requirement id clashes with another)"
        )


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
            "assessor rules and the framework requirements they meet",
            _prop("rules", len(catalog.rules)),
            _prop("frameworks", len(catalog.frameworks)),
        ),
        groups=[
            cat.Group2(
                id=token(k), class_="rules", title=f"{k.capitalize()} rules", controls=groups[k]
            )
            for k in kinds
        ]
        + [_framework_group(catalog, catalog.frameworks[fw]) for fw in sorted(catalog.frameworks)],
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
        class_="rule",
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


def _framework_group(catalog: Catalog, fw: Framework) -> cat.Group2:
    from trestle.oscal import catalog as cat

    info = fw.framework
    return cat.Group2(
        id=token(info.id),
        class_="framework",
        title=_line(f"{info.title} {info.version}"),
        props=_props(
            _prop("framework", info.id),
            _prop("framework-version", info.version),
            _prop("framework-source", info.source),
            _prop("framework-published", info.published),
        ),
        controls=[_requirement_control(catalog, info.id, req) for req in fw.requirements],
    )


def _requirement_control(catalog: Catalog, fw_id: str, req: Requirement) -> cat.Control:
    """A framework requirement as a control: its words, an assessment objective (what a
    finding targets) and links to the rule controls that meet it."""
    from trestle.oscal import catalog as cat
    from trestle.oscal import common

    cid = requirement_token(fw_id, req.id)
    rules = [r for r in req.rules if r in catalog.rules]
    coverage = catalog.coverage(req).value
    statement = req.text.strip() or req.summary.strip() or req.title.strip()
    if rules:
        met = (
            "Determine if every result of the rule(s) "
            + ", ".join(rules)
            + " on the targets in scope passes"
        )
        met += (
            ", and, for what no rule observes, an attestation answers it as passed."
            if coverage in ("partial", "manual")
            else "."
        )
    else:
        met = "Determine, by an attestation, whether the requirement is met: no rule observes it."
    parts = [
        common.Part(id=f"{cid}_smt", name="statement", prose=statement),
        common.Part(
            id=objective_id(fw_id, req.id),
            name="assessment-objective",
            prose=met,
            props=[common.Property(name="method", value="TEST" if rules else "EXAMINE")],
        ),
    ]
    return cat.Control(
        id=cid,
        class_="requirement",
        title=_line(req.title),
        props=_props(
            common.Property(name="label", value=_line(req.id)),
            _prop("framework", fw_id),
            _prop("requirement", req.id),
            _prop("section", req.section),
            _prop("section-title", req.section_title),
            _prop("level", req.level),
            _prop("profile", req.profile),
            _prop("modality", req.modality),
            _prop("assessment", req.assessment),
            _prop("coverage", coverage),
            _prop("mapping-basis", req.mapping.basis if req.mapping else None),
        ),
        links=[common.Link(href=f"#{token(r)}", rel="related", text=r) for r in rules] or None,
        parts=parts,
    )


def _profile(catalog: Catalog, fw_id: str) -> OscalBaseModel:
    from trestle.oscal import common
    from trestle.oscal import profile as prof

    fw = catalog.frameworks[fw_id]
    meets: dict[str, list[Any]] = defaultdict(list)  # rule id -> requirements it meets
    for req in fw.requirements:
        for rule_id in req.rules:
            if rule_id in catalog.rules:
                meets[rule_id].append(req)
    selected = [r.id for r in _ordered_rules(catalog) if r.id in meets]
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
    with_ids = [requirement_token(fw_id, req.id) for req in fw.requirements]
    return prof.Profile(
        uuid=ids("profile", fw_id),
        metadata=_catalog_metadata(
            catalog,
            f"{info.title} {info.version}: its requirements and the assessor rules that meet them",
            _prop("framework", info.id),
            _prop("framework-version", info.version),
            _prop("framework-source", info.source),
            _prop("framework-published", info.published),
            _prop("requirements", len(fw.requirements)),
        ),
        imports=[
            prof.Import2(
                href="catalog.json",
                include_controls=[
                    prof.SelectControl(with_ids=with_ids + [token(r) for r in selected])
                ],
            )
        ],
        merge=prof.Merge2(as_is=True),
        modify=prof.Modify(alters=alters) if alters else None,
    )


__all__ = [
    "NS",
    "objective_id",
    "render_assessment_results",
    "render_catalog",
    "requirement_token",
    "token",
]
