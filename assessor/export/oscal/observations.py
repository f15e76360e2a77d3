"""OSCAL observations: one per result (and the evidence documents it cites, as back-matter
resources), one per attestation (and its attached files, embedded up to a budget)."""

from __future__ import annotations

import base64
import mimetypes
import re
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from assessor.export.oscal.base import (
    Ids,
    Parties,
    line,
    parse_time,
    prop,
    prop_list,
    seconds,
    tool_origin,
)
from assessor.vocab import FINDING_STATUSES, Status

if TYPE_CHECKING:
    from datetime import datetime

    from trestle.oscal import common

    from assessor.readmodel import AssessmentView, ResultView


def result_observations(
    data: AssessmentView, ids: Ids, items: dict[str, str], tool: str, collected: datetime
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
        manual = r.raw_status == Status.MANUAL or (rule is not None and not rule.automated)
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
                title=line(r.title) or r.rule,
                description=r.message or f"{r.rule} on {r.resource}: {r.raw_status}",
                props=_result_props(r),
                methods=["EXAMINE" if manual else "TEST"],
                types=["finding" if r.status in FINDING_STATUSES else "control-objective"],
                origins=tool_origin(tool),
                subjects=[
                    common.SubjectReference(
                        subject_uuid=items[r.target],
                        type="inventory-item",
                        title=line(r.target) or None,
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
    return prop_list(
        prop("rule", r.rule),
        prop("resource", r.resource),
        prop("status", r.status),
        prop("raw-status", r.raw_status),
        prop("severity", r.severity),
        prop("evidence-sha256", r.evidence),
        prop("waiver", r.waiver["id"] if r.waiver else None),
    )


def _ni(sha256: str) -> str:
    """RFC 6920 named information: a document named by its SHA-256."""
    return "ni:///sha-256;" + base64.urlsafe_b64encode(bytes.fromhex(sha256)).decode().rstrip("=")


def evidence_resource(ids: Ids, sha256: str, data: AssessmentView) -> common.Resource:
    from trestle.oscal import common

    info = data.evidence.get(sha256)
    return common.Resource(
        uuid=ids("evidence", sha256),
        title=line(f"Evidence {info.kind if info else ''} {sha256}"),
        description="An evidence document (canonical JSON, secrets redacted at collection) "
        "kept in the assessor store by its SHA-256.",
        props=prop_list(
            prop("evidence-sha256", sha256),
            prop("evidence-kind", info.kind if info else None),
            prop("size", info.size if info else None),
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
        title=line(f"Attached file {name}"),
        description="A file attached to an attestation, kept in the assessor store by its "
        "SHA-256" + where,
        props=prop_list(
            prop("name", name),
            prop("sha256", sha),
            prop("size", len(body) if body is not None else None),
            prop("embedded", embedded is not None),
        ),
        rlinks=[common.Rlink(href=_ni(sha), hashes=[common.Hash(algorithm="SHA-256", value=sha)])],
        base64=embedded,
    )


def attestation_observations(
    data: AssessmentView, ids: Ids, parties: Parties
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
        files = _attached_files(data, ids, at, resources, budget)
        created = parse_time(at.get("created")) or seconds(data.end)
        out.append(
            common.Observation(
                uuid=obs_uuid,
                title=line(f"Attestation {at['framework']}:{at['requirement']}: {at['status']}"),
                description=at.get("note") or "(no note)",
                props=prop_list(
                    prop("attestation", at["id"]),
                    prop("framework", at["framework"]),
                    prop("requirement", at["requirement"]),
                    prop("status", at["status"]),
                    prop("by", at.get("by")),
                    prop("period", at.get("period")),
                    prop("system", at.get("system")),
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
                expires=parse_time(at.get("expires")),
            )
        )
    return attested, out, list(resources.values())


def _attached_files(
    data: AssessmentView,
    ids: Ids,
    at: dict[str, Any],
    resources: dict[str, common.Resource],
    budget: list[int],
) -> list[common.RelevantEvidence]:
    """An attestation's files as relevant evidence, each (once) a back-matter resource added
    to ``resources``."""
    from trestle.oscal import common

    files = []
    for f in at.get("evidence") or []:
        name = line(str(f.get("name") or "")) or "(unnamed)"
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
                props=prop_list(prop("sha256", sha), prop("size", f.get("size"))),
            )
        )
    return files
