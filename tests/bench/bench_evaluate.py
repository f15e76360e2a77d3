"""Rule x resource evaluations per second on synthetic evidence, on one core.

Goal (DESIGN section 3): at least 100,000 per second. Prints the throughput of the rule
engine alone (documents already hashed), and of evaluate() end to end (hashing included),
beside the baseline of the same run: json.loads of the same documents, the cheapest thing
any evaluator has to beat to read its input.
"""

from __future__ import annotations

import json
import random
import time

from assessor.catalog import load_catalog
from assessor.evaluate import evaluate
from assessor.evaluate.engine import _run, compile_rule
from assessor.evidence import Evidence

N_CONTAINERS = 2_000
TARGET = "engine:unix:///var/run/docker.sock"


def container(i: int, rng: random.Random) -> dict[str, object]:
    bad = rng.random() < 0.3
    return {
        "Id": f"{i:064x}",
        "Name": f"/c{i}",
        "Config": {
            "Image": "app:1",
            "User": "" if bad else "1000",
            "Env": ["PATH=/bin"],
            "Labels": {"team": "x"},
            "Healthcheck": None,
        },
        "HostConfig": {
            "Privileged": bad and rng.random() < 0.3,
            "PidMode": "host" if bad and rng.random() < 0.3 else "",
            "NetworkMode": "host" if bad and rng.random() < 0.3 else "bridge",
            "IpcMode": "private",
            "UTSMode": "",
            "UsernsMode": "",
            "CapAdd": ["NET_ADMIN"] if bad else None,
            "CapDrop": None if bad else ["ALL"],
            "Memory": 0 if bad else 67108864,
            "PidsLimit": None if bad else 64,
            "ReadonlyRootfs": not bad,
            "SecurityOpt": None if bad else ["no-new-privileges"],
            "PortBindings": {
                "80/tcp": [{"HostIp": "" if bad else "127.0.0.1", "HostPort": "8080"}]
            },
            "Devices": [],
            "CpuShares": 0,
            "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        },
        "Mounts": [
            {
                "Type": "bind",
                "Source": "/etc" if bad else "/srv/data",
                "Destination": "/data",
                "RW": True,
                "Propagation": "rprivate",
            }
        ],
        "State": {"Running": True, "Status": "running"},
    }


def main() -> None:
    rng = random.Random(8176)
    catalog = load_catalog()
    rules = [r for r in catalog.rules.values() if r.target.value == "container" and r.automated]
    docs = [Evidence("container", TARGET, f"c{i}", container(i, rng)) for i in range(N_CONTAINERS)]
    hashes = {id(d): d.sha256 for d in docs}

    # baseline: parse the same documents from JSON once
    blobs = [json.dumps(d.data) for d in docs]
    t = time.perf_counter()
    for b in blobs:
        json.loads(b)
    base_s = time.perf_counter() - t

    compiled = [compile_rule(r) for r in rules]
    t = time.perf_counter()
    n = 0
    for d in docs:
        h = hashes[id(d)]
        for c in compiled:
            _run(c, d, h)
            n += 1
    engine_s = time.perf_counter() - t

    t = time.perf_counter()
    results = evaluate(catalog, docs, {TARGET: {"container"}})
    full_s = time.perf_counter() - t
    full_n = sum(1 for r in results if r.resource != "*")

    rate = n / engine_s
    print(f"rules: {len(rules)} container rules x {N_CONTAINERS} containers = {n} evaluations")
    print(
        f"rule engine: {rate:,.0f} evaluations/s on one core "
        f"({'meets' if rate >= 100_000 else 'BELOW'} the 100,000/s goal)"
    )
    print(f"evaluate() incl. SHA-256 of each document: {full_n / full_s:,.0f} evaluations/s")
    print(
        f"baseline json.loads of the same documents: {N_CONTAINERS / base_s:,.0f} documents/s; "
        f"engine time per document = {engine_s / base_s:.1f}x one json.loads"
    )


if __name__ == "__main__":
    main()
