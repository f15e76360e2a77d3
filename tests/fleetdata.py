"""Synthetic fleets for the fleet report's tests and benchmark: N hosts, each judged by the real
catalog from real captured evidence (tests/rules fixtures: a host, its engine, containers),
stored through the store's own API.

Hosts take turns at three profiles, so a fleet has hosts of every kind of posture: ``loose``
(the captured loose host, daemon defaults, containers with default settings), ``hardened``
(hardened captures) and ``mixed``. Two ways of storing a fleet:

- ``bundles=True``: one assessment per host, as ``assessor ingest`` stores a bundle: targets
  ``host:/`` and the local engine, ``scanner_host`` the host's name;
- otherwise one assessment of every host over SSH: ``ssh://root@NAME:22`` (host) and
  ``engine:ssh://root@NAME:22`` (engine, with its containers).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assessor.catalog import Catalog, load_catalog
from assessor.evaluate.engine import evaluate
from assessor.evidence import Evidence
from assessor.store import Store, open_store, queries
from assessor.store.models import Assessment
from assessor.vocab import AssessmentStatus

RULES = Path(__file__).parent / "rules"
_DOCS = {
    "loose": (
        "host-audit-dockerd/fail-captured-offline-loose.json",
        "engine-icc-disabled/fail-captured-daemon-defaults.json",
        "container-memory-limited/fail-default.json",
    ),
    "hardened": (
        "host-audit-dockerd/pass-captured-offline-hardened.json",
        "engine-icc-disabled/pass-captured-daemon-hardened.json",
        "container-memory-limited/pass-captured-hardened.json",
    ),
    "mixed": (
        "host-audit-dockerd/pass-captured-offline-hardened.json",
        "engine-icc-disabled/fail-captured-daemon-defaults.json",
        "container-memory-limited/pass-captured-limits.json",
    ),
}
PROFILES = tuple(_DOCS)


def _doc(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RULES / name).read_text())["data"]
    return data


@dataclass(frozen=True)
class HostSpec:
    name: str
    profile: str = "loose"  # loose | hardened | mixed
    containers: int = 10
    unreachable: bool = False


def default_hosts(n: int, containers: int = 10, unreachable: int = 0) -> list[HostSpec]:
    """``n`` hosts ``host-0000.fleet.test``..., profiles in turn; the last ``unreachable`` of
    them not reached."""
    return [
        HostSpec(
            f"host-{i:04d}.fleet.test",
            PROFILES[i % len(PROFILES)],
            containers,
            unreachable=i >= n - unreachable,
        )
        for i in range(n)
    ]


def _evidence(spec: HostSpec, host_uri: str, engine_uri: str) -> list[Evidence]:
    host_doc, engine_doc, container_doc = (_doc(n) for n in _DOCS[spec.profile])
    out = [
        Evidence("host", host_uri, spec.name, host_doc),
        Evidence("engine", engine_uri, spec.name, engine_doc),
    ]
    for i in range(spec.containers):
        doc = copy.deepcopy(container_doc)
        cid = f"{i:08x}" + str(doc["Id"])[8:]
        doc["Id"] = cid
        doc["Name"] = f"/app-{i:03d}"
        out.append(Evidence("container", engine_uri, f"app-{i:03d} ({cid[:12]})", doc))
    return out


def _record_host(
    store: Store, catalog: Catalog, aid: int, spec: HostSpec, host_uri: str, engine_uri: str
) -> None:
    if spec.unreachable:
        for uri, kind in ((host_uri, "host"), (engine_uri, "engine")):
            queries.record_target(
                store, aid, uri, kind, status="unreachable", identity={},
                error=f"{spec.name}: connection refused",
            )  # fmt: skip
        return
    evidence = _evidence(spec, host_uri, engine_uri)
    scope = {host_uri: ["host"], engine_uri: ["engine", "container"]}
    results = evaluate(catalog, evidence, scope)
    for uri, kind in ((host_uri, "host"), (engine_uri, "engine")):
        queries.record_target(
            store,
            aid,
            uri,
            kind,
            status="collected",
            identity={"hostname": spec.name},
            evidence=[e for e in evidence if e.target == uri],
            results=[r for r in results if r.target == uri],
        )


def _scanner(store: Store, aid: int, host: str) -> None:
    with store.session() as s:
        row = s.get(Assessment, aid)
        assert row is not None
        row.scanner_host = host
        s.commit()


def make_fleet(
    db_url: str,
    hosts: list[HostSpec],
    *,
    system: str = "fleet",
    period: str = "2026-Q4",
    bundles: bool = True,
    catalog: Catalog | None = None,
) -> list[int]:
    """Store the fleet; returns the assessment ids, in order."""
    catalog = catalog or load_catalog()
    store = open_store(db_url)
    ids: list[int] = []
    try:
        if bundles:
            engine = "engine:unix:///var/run/docker.sock"
            for spec in hosts:
                aid = queries.create_assessment(
                    store, period, ["host:/", engine], catalog.digest, system=system
                )
                _scanner(store, aid, spec.name)
                _record_host(store, catalog, aid, spec, "host:/", engine)
                queries.finish_assessment(store, aid, AssessmentStatus.COMPLETE)
                ids.append(aid)
        else:
            uris = [(f"ssh://root@{h.name}:22", f"engine:ssh://root@{h.name}:22") for h in hosts]
            scope = [u for pair in uris for u in pair]
            aid = queries.create_assessment(store, period, scope, catalog.digest, system=system)
            for spec, (host_uri, engine_uri) in zip(hosts, uris, strict=True):
                _record_host(store, catalog, aid, spec, host_uri, engine_uri)
            queries.finish_assessment(store, aid, AssessmentStatus.COMPLETE)
            ids.append(aid)
    finally:
        store.close()
    return ids
