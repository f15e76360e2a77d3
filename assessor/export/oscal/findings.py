"""OSCAL risks (one per applied waiver) and findings (one per assessed framework requirement,
its status from the read model) with the reviewed controls."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assessor.errors import AssessorError
from assessor.export.oscal.base import (
    Ids,
    Parties,
    line,
    objective_id,
    parse_time,
    prop,
    prop_list,
    requirement_token,
    tool_origin,
)
from assessor.vocab import Status

if TYPE_CHECKING:
    from trestle.oscal import common

    from assessor.readmodel import AssessmentView, FrameworkStatus, RequirementStatus, ResultView


def risks_of_waivers(
    data: AssessmentView, ids: Ids, by_result: dict[int, str], parties: Parties
) -> tuple[list[common.Risk], dict[int, str]]:
    """One risk, status deviation-approved, per applied waiver; its risk log records who
    approved it and when the waiver was recorded."""

    covered: dict[int, list[str]] = defaultdict(list)
    for r in data.results:
        if r.waiver is not None:
            covered[int(r.waiver["id"])].append(by_result[r.id])
    risks: list[common.Risk] = []
    by_waiver: dict[int, str] = {}
    for w in data.waivers:
        risk = _risk(w, ids, covered[int(w["id"])], parties)
        by_waiver[int(w["id"])] = risk.uuid
        risks.append(risk)
    return risks, by_waiver


def _risk(w: dict[str, Any], ids: Ids, covered: list[str], parties: Parties) -> common.Risk:
    """One applied waiver as a risk; ``covered``: the observations of the results it covers."""
    from trestle.oscal import common

    wid = int(w["id"])
    where = f"resources matching {w.get('resource_pattern') or '*'}"
    where += f" on targets matching {w.get('target_pattern') or '*'}"
    until = f" until {w['expires']}" if w.get("expires") else ""
    compensating = w.get("compensating")
    approver = parties.add(w.get("approver"), "approver")
    recorded = parse_time(w.get("created"))
    return common.Risk(
        uuid=ids("waiver", wid),
        title=line(f"Waiver {wid}: {w['rule']}"),
        description=w.get("reason") or "(no reason recorded)",
        statement=f"Failures of rule {w['rule']} on {where} are accepted{until}, "
        f"approved by {w.get('approver') or '(unknown)'}.",
        props=prop_list(
            prop("waiver", wid),
            prop("rule", w["rule"]),
            prop("resource-pattern", w.get("resource_pattern")),
            prop("target-pattern", w.get("target_pattern")),
            prop("system", w.get("system")),
            prop("approver", w.get("approver")),
            prop("created", w.get("created")),
            prop("expires", w.get("expires")),
            prop("source", w.get("source")),
        ),
        status="deviation-approved",
        mitigating_factors=[
            common.MitigatingFactor(uuid=ids("compensating", wid), description=compensating)
        ]
        if compensating
        else None,
        deadline=parse_time(w.get("expires")),
        risk_log=common.RiskLog(
            entries=[
                common.Entry(
                    uuid=ids("waiver-approved", wid),
                    title="Deviation approved (waiver recorded)",
                    start=recorded,
                    end=parse_time(w.get("expires")),
                    logged_by=[common.LoggedBy(party_uuid=approver, role_id="approver")]
                    if approver
                    else None,
                    status_change="deviation-approved",
                )
            ]
        )
        if recorded is not None
        else None,
        related_observations=[common.RelatedObservation(observation_uuid=u) for u in covered]
        or None,
    )


# requirement status (assessor.audit.rollup) -> (objective state, reason); not_assessed has no
# finding. Only a pass is satisfied.
# (OSCAL's words: objective-status state and reason)
_STATE: dict[str, tuple[str, str]] = {
    Status.PASS: ("satisfied", "pass"),
    Status.FAIL: ("not-satisfied", "fail"),
    Status.WAIVED: ("not-satisfied", "fail"),
    Status.ERROR: ("not-satisfied", "other"),
    Status.MANUAL: ("not-satisfied", "other"),
    Status.NOT_APPLICABLE: ("not-satisfied", "other"),
}
_REMARKS: dict[str, str] = {
    Status.PASS: "Every rule result that applied passed, or an attestation answered it as passed.",
    Status.FAIL: "At least one rule result failed, or an attestation answered it as failed.",
    Status.WAIVED: "Not met: every failure is covered by an approved waiver (see the related "
    "risks).",
    Status.ERROR: "A rule could not be evaluated: the requirement is not shown as met.",
    Status.MANUAL: "Not determined: a manual part awaits an attestation.",
    Status.NOT_APPLICABLE: "Not applicable (OSCAL has no such state, so it is not shown as "
    "satisfied): no rule of this requirement applied to the targets in scope.",
}


def _not_applicable_reason(rs: RequirementStatus, results: dict[int, ResultView]) -> str:
    """The rules' own words for why nothing applied (their distinct messages, a few)."""
    messages = list(
        dict.fromkeys(
            line(f"{results[i].rule}: {results[i].message}")
            for i in rs.result_ids
            if i in results and results[i].message
        )
    )
    if not messages:
        return ""
    more = f" (and {len(messages) - 5} more)" if len(messages) > 5 else ""
    return " Reasons given: " + "; ".join(messages[:5]) + more


@dataclass(frozen=True)
class _Links:
    """What a finding points to: observations by result and attestation, risks by waiver."""

    ids: Ids
    results: dict[int, ResultView]
    by_result: dict[int, str]
    attested: dict[int, str]
    risk_of_waiver: dict[int, str]
    tool: str
    parties: Parties


def findings_and_controls(
    data: AssessmentView,
    ids: Ids,
    by_result: dict[int, str],
    attested: dict[int, str],
    risk_of_waiver: dict[int, str],
    tool: str,
    parties: Parties,
) -> tuple[list[common.Finding], common.ReviewedControls]:
    """One finding per assessed requirement (status from the read model), framework order."""
    from trestle.oscal import common

    results = {r.id: r for r in data.results}
    links = _Links(ids, results, by_result, attested, risk_of_waiver, tool, parties)
    findings: list[common.Finding] = []
    selections: list[common.ControlSelections] = []
    objectives: list[common.ControlObjectiveSelections] = []
    for fw_id, fw in data.frameworks.items():
        assessed = [rs for rs in fw.requirements if rs.status != Status.NOT_ASSESSED]
        if not assessed:
            continue
        findings.extend(_finding(links, fw_id, rs) for rs in assessed)
        selection, objective = _selections(fw_id, fw, assessed)
        selections.append(selection)
        objectives.append(objective)
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


def _finding(links: _Links, fw_id: str, rs: RequirementStatus) -> common.Finding:
    from trestle.oscal import common

    state, reason = _STATE[rs.status]
    observations = [links.by_result[i] for i in rs.result_ids if i in links.by_result]
    origins = tool_origin(links.tool) if observations else []
    at = rs.attestation
    if at is not None and int(at["id"]) in links.attested:
        observations.append(links.attested[int(at["id"])])
        party = links.parties.add(at.get("by"), "attester")
        if party:
            actor = common.OriginActor(type="party", actor_uuid=party, role_id="attester")
            origins.append(common.Origin(actors=[actor]))
    risks = sorted(
        {
            links.risk_of_waiver[int(w["id"])]
            for i in rs.result_ids
            if (w := links.results[i].waiver) is not None and int(w["id"]) in links.risk_of_waiver
        }
    )
    remarks = _REMARKS[rs.status]
    if rs.status == Status.NOT_APPLICABLE:
        remarks += _not_applicable_reason(rs, links.results)
    return common.Finding(
        uuid=links.ids("finding", fw_id, rs.id),
        title=line(f"{fw_id} {rs.id}: {rs.title}"),
        description=_finding_description(rs),
        props=prop_list(
            prop("framework", fw_id),
            prop("requirement", rs.id),
            prop("status", rs.status),
            prop("coverage", rs.coverage),
        ),
        origins=origins or None,
        target=common.FindingTarget(
            type="objective-id",
            target_id=objective_id(fw_id, rs.id),
            status=common.ObjectiveStatus(state=state, reason=reason, remarks=remarks),
            implementation_status=common.ImplementationStatus(state="not-applicable")
            if rs.status == Status.NOT_APPLICABLE
            else None,
        ),
        related_observations=[common.RelatedObservation(observation_uuid=u) for u in observations]
        or None,
        related_risks=[common.AssociatedRisk(risk_uuid=u) for u in risks] or None,
    )


def _selections(
    fw_id: str, fw: FrameworkStatus, assessed: list[RequirementStatus]
) -> tuple[common.ControlSelections, common.ControlObjectiveSelections]:
    """The framework's reviewed requirement controls and their objectives."""
    from trestle.oscal import common

    title = line(f"{fw.title} {fw.version}")
    selection = common.ControlSelections(
        description=line(f"Requirements of {title} with results or attestations"),
        # the framework's requirements by status, as the report counts them (the
        # not_assessed ones have no finding and are not selected here)
        props=prop_list(
            prop("framework", fw_id),
            *(prop("requirements", n, s) for s, n in fw.counts.items()),
        ),
        include_controls=[
            common.SelectControlById(control_id=requirement_token(fw_id, rs.id)) for rs in assessed
        ],
    )
    objective = common.ControlObjectiveSelections(
        description=line(f"Assessment objectives of {title} with findings"),
        props=prop_list(prop("framework", fw_id)),
        include_objectives=[
            common.SelectObjectiveById(objective_id=objective_id(fw_id, rs.id)) for rs in assessed
        ],
    )
    return selection, objective


def _finding_description(rs: RequirementStatus) -> str:
    text = ", ".join(f"{n} {s}" for s, n in rs.counts.items() if n) or "no results"
    out = f"{sum(rs.counts.values())} result(s) ({text})"
    if rs.rules:
        out += " of rule(s) " + ", ".join(rs.rules)
    if rs.attestation is not None:
        out += f"; answered by an attestation ({rs.attestation.get('status')})"
    return out + "."


# --- the control catalog ----------------------------------------------------------------------
