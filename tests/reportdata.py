"""A synthetic assessment with many findings, judged by the real catalog, for report tests and
the report benchmark. Containers are copies of a golden fixture (a container with default
settings, which fails most container rules), each with its own name, id and planted label."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from assessor.catalog import load_catalog
from assessor.evaluate.engine import evaluate
from assessor.evidence import Evidence
from assessor.store import open_store, queries
from assessor.vocab import AssessmentStatus

FIXTURE = Path(__file__).parent / "rules" / "container-memory-limited" / "fail-default.json"
ENGINE = "engine:unix:///var/run/docker.sock"


def container_docs(n: int, label: str = "") -> list[Evidence]:
    base = json.loads(FIXTURE.read_text())
    out = []
    for i in range(n):
        doc: dict[str, Any] = copy.deepcopy(base["data"])
        cid = f"{i:08x}" + doc["Id"][8:]
        name = f"bench-{i:05d}"
        doc["Id"] = cid
        doc["Name"] = "/" + name
        doc.setdefault("Config", {}).setdefault("Labels", {})
        if label:
            doc["Config"]["Labels"]["planted"] = label
            name = f"{name}{label}"
        out.append(Evidence("container", ENGINE, f"{name} ({cid[:12]})", doc))
    return out


def make_assessment(
    db_url: str,
    containers: int,
    *,
    period: str = "2026-Q4",
    label: str = "",
    system: str | None = None,
) -> tuple[int, int]:
    """Store one assessment of ``containers`` synthetic containers; returns (id, findings)."""
    catalog = load_catalog()
    evidence = container_docs(containers, label)
    results = evaluate(catalog, evidence, {ENGINE: ["container"]})
    store = open_store(db_url)
    try:
        aid = queries.create_assessment(store, period, [ENGINE], catalog.digest, system=system)
        queries.record_target(
            store,
            aid,
            ENGINE,
            "engine",
            status="collected",
            identity={"engine_id": "SYNTHETIC", "server_version": "20.10.24", "name": "bench"},
            evidence=evidence,
            results=results,
        )
        queries.finish_assessment(store, aid, AssessmentStatus.COMPLETE)
    finally:
        store.close()
    return aid, sum(1 for r in results if r.status.value == "fail")
