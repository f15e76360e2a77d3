"""The assessment as an OSCAL assessment-results document: metadata, local definitions,
back matter; the observations, risks and findings come from ``observations`` and ``findings``
(see the package's docstring for the mapping)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from assessor.errors import AssessorError
from assessor.export.oscal.base import (
    Ids,
    Parties,
    dump,
    flat,
    line,
    prop,
    prop_list,
    seconds,
    token,
)
from assessor.export.oscal.findings import findings_and_controls, risks_of_waivers
from assessor.export.oscal.observations import (
    attestation_observations,
    evidence_resource,
    result_observations,
)

if TYPE_CHECKING:
    from datetime import datetime

    from trestle.core.base_model import OscalBaseModel
    from trestle.oscal import common

    from assessor.readmodel import AssessmentView, TargetView


def render_assessment_results(data: AssessmentView) -> bytes:
    """The assessment as an OSCAL assessment-results document (UTF-8 JSON, trailing newline)."""
    try:
        return dump(_assessment_results(data))
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise AssessorError(f"cannot export as OSCAL: {where}: {first['msg']}") from e


def _assessment_results(data: AssessmentView) -> OscalBaseModel:
    from trestle.oscal import assessment_results as ar
    from trestle.oscal import common

    if not data.results and not data.attestations:
        raise AssessorError(
            f"assessment {data.id} has no results: OSCAL needs at least one reviewed control"
        )
    ids = Ids(data.uuid)
    a = data.assessment
    end = seconds(data.end)
    parties = Parties(ids)
    parties.add(data.finalised_by, "assessor")
    tool = ids("component", "assessor")
    items = {t.uri: ids("target", t.uri) for t in data.targets}
    observations, by_result, evidence = result_observations(data, ids, items, tool, end)
    attested, attestation_obs, files = attestation_observations(data, ids, parties)
    risks, risk_of_waiver = risks_of_waivers(data, ids, by_result, parties)
    findings, reviewed = findings_and_controls(
        data, ids, by_result, attested, risk_of_waiver, tool, parties
    )
    plan = ids("assessment-plan")
    resources = [_no_plan(plan), *(evidence_resource(ids, h, data) for h in evidence), *files]
    system = f", system {a['system']}" if a.get("system") else ""
    title = f"Assessment {a['id']} ({a['period']}{system})"
    metadata = _metadata(data, title, end, parties)
    result = ar.Result(
        uuid=ids("result"),
        title=line(title),
        description=_description(data),
        start=seconds(data.started),
        end=seconds(data.finished) if data.finished else None,
        props=prop_list(
            prop("assessment-uuid", data.uuid),
            prop("status", a.get("status")),
            *(prop("scope", s) for s in a.get("scope") or []),
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


def _metadata(data: AssessmentView, title: str, end: datetime, parties: Parties) -> common.Metadata:
    """The document's metadata: the assessment's facts as props, and the people it names (read
    once every party was added)."""
    from trestle.oscal import OSCAL_VERSION, common

    a = data.assessment
    return common.Metadata(
        title=line(title),
        last_modified=end,
        version=a.get("digest") or data.tool_version,
        oscal_version=OSCAL_VERSION,
        props=prop_list(
            prop("assessment-id", a["id"]),
            prop("assessment-uuid", data.uuid),
            prop("period", a.get("period")),
            prop("system", a.get("system")),
            prop("status", a.get("status")),
            prop("tool-version", data.tool_version),
            prop("catalog-digest", a.get("catalog_digest")),
            prop("finalised", a.get("finalised")),
            prop("finalised-by", a.get("finalised_by")),
            prop("digest", a.get("digest")),
        ),
        **parties.metadata(),
    )


def _no_plan(plan: str) -> common.Resource:
    from trestle.oscal import common

    return common.Resource(
        uuid=plan,
        title="No assessment plan",
        description="assessor records no OSCAL assessment plan: the plan is the scan's "
        "scope (the targets in local-definitions) and the control catalog whose digest "
        "the metadata names.",
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


def _assessment_assets(data: AssessmentView, ids: Ids, tool: str) -> common.AssessmentAssets:
    """assessor itself, the one tool, on one platform (the host that ran the scan)."""
    from trestle.oscal import common

    host = data.scanner_host
    return common.AssessmentAssets(
        components=[
            common.SystemComponent(
                uuid=tool,
                type="software",
                title=line(f"assessor {data.tool_version}"),
                description="The assessment tool: collects evidence from the targets, evaluates "
                "the rules of the control catalog against it and stores the results.",
                props=prop_list(
                    prop("version", data.tool_version),
                    prop("catalog-digest", data.assessment.get("catalog_digest")),
                ),
                status=common.Status(state="operational"),
            )
        ],
        assessment_platforms=[
            common.AssessmentPlatform(
                uuid=ids("platform"),
                title=line(f"assessor on {host}" if host else "assessor"),
                props=prop_list(prop("scanner-host", host)),
                uses_components=[common.UsesComponent(component_uuid=tool)],
            )
        ],
    )


def _inventory_item(t: TargetView, item_uuid: str) -> common.InventoryItem:
    from trestle.oscal import common

    identity = [prop(token(name), v, "identity") for name, v in flat("", t.identity)]
    return common.InventoryItem(
        uuid=item_uuid,
        description=f"The {t.kind} target {t.uri}",
        props=prop_list(
            prop("target", t.uri), prop("kind", t.kind), prop("status", t.status), *identity
        ),
        remarks=t.error or None,
    )
