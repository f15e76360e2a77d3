"""Container golden fixtures hold states the engine collector can produce.

A hand-made fixture can encode a state no engine ever reports (a container inspect without
NetworkSettings, a running container whose status says exited, an Assessor field of a shape
the collector never writes), and a rule judged on it proves nothing. Every container fixture
under tests/rules/ is checked against what dockerd's inspect always holds and what
assessor/collectors/engine.py adds; an ``error-*`` fixture may lack the one key it removes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

RULES = Path(__file__).resolve().parent.parent / "rules"
# keys dockerd's (and Podman's compatible) container inspect always has
INSPECT_KEYS = ("Id", "Name", "State", "Config", "HostConfig", "NetworkSettings", "Mounts")
STATUSES = ("created", "running", "paused", "restarting", "removing", "exited", "dead")


def _fixtures() -> list[Path]:
    return sorted(p for p in RULES.glob("container-*/*.json"))


def problems(doc: dict[str, Any], allow_missing: bool) -> list[str]:
    out: list[str] = []
    data = doc.get("data")
    if doc.get("kind") != "container" or not isinstance(data, dict):
        return ["not a container evidence document"]
    absent = [k for k in INSPECT_KEYS if k not in data]
    if absent and not (allow_missing and len(absent) == 1):
        out.append(f"inspect keys absent: {absent}")
    state = data.get("State")
    if isinstance(state, dict):
        status, running = state.get("Status"), state.get("Running")
        if status not in STATUSES:
            out.append(f"State.Status {status!r}")
        if running is not None and bool(running) != (status in ("running", "paused")):
            out.append(f"State.Running {running!r} with State.Status {status!r}")
    observed = data.get("Assessor")
    if observed is None:
        return out
    if not isinstance(observed, dict):
        return [*out, "Assessor is not an object"]
    execs = observed.get("Execs")
    if not isinstance(execs, list) or not all(isinstance(e, dict) for e in execs):
        out.append("Assessor.Execs is not a list of objects")
    security = observed.get("EngineSecurity")
    if not isinstance(security, list) or not all(isinstance(s, str) for s in security):
        out.append("Assessor.EngineSecurity is not a list of names")
    if "HostSELinux" in observed and observed["HostSELinux"] not in (True, False, None):
        out.append("Assessor.HostSELinux is not true, false or null")
    nnp = observed.get("DaemonNoNewPrivileges")
    if nnp is not None and (
        not isinstance(nnp, dict) or nnp.get("value") not in (True, False, None)
    ):
        out.append("Assessor.DaemonNoNewPrivileges is not {key, value: bool|null, origin}")
    bind = observed.get("DefaultBindIP")
    if bind is not None and (
        not isinstance(bind, dict) or not isinstance(bind.get("address"), str)
    ):
        out.append("Assessor.DefaultBindIP is not null or {address, from}")
    sockets = observed.get("DaemonSockets")
    if sockets is not None and (
        not isinstance(sockets, dict)
        or not isinstance(sockets.get("paths"), list)
        or not all(str(p).startswith("/") for p in sockets["paths"])
    ):
        out.append("Assessor.DaemonSockets.paths is not a list of absolute paths")
    sources = observed.get("MountSources")
    if sources is not None:
        if not isinstance(sources, dict) or not isinstance(sources.get("resolved"), bool):
            out.append("Assessor.MountSources has no resolved flag")
        elif sources["resolved"] and isinstance(data.get("Mounts"), list):
            binds = {
                m.get("Source")
                for m in data["Mounts"]
                if isinstance(m, dict) and m.get("Type") == "bind"
            }
            unresolved = binds - set(sources.get("paths") or {})
            if unresolved:
                out.append(f"bind sources the collector would have resolved: {sorted(unresolved)}")
    return out


@pytest.mark.parametrize("path", _fixtures(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_container_fixture_is_a_collectable_state(path: Path) -> None:
    doc = json.loads(path.read_text())
    found = problems(doc, allow_missing=path.name.startswith("error-"))
    assert not found, f"{path.parent.name}/{path.name}: " + "; ".join(found)


def test_the_check_rejects_impossible_states() -> None:
    base: dict[str, Any] = {
        "kind": "container",
        "data": {
            "Id": "x",
            "Name": "/x",
            "State": {"Status": "running", "Running": True},
            "Config": {},
            "HostConfig": {},
            "NetworkSettings": {"Ports": {}},
            "Mounts": [{"Type": "bind", "Source": "/etc"}],
            "Assessor": {
                "Execs": [],
                "EngineSecurity": ["seccomp"],
                "HostSELinux": False,
                "MountSources": {"resolved": True, "paths": {"/etc": "/etc"}},
            },
        },
    }
    assert problems(base, allow_missing=False) == []
    no_network = json.loads(json.dumps(base))
    del no_network["data"]["NetworkSettings"]
    assert problems(no_network, allow_missing=False)
    exited_running = json.loads(json.dumps(base))
    exited_running["data"]["State"]["Status"] = "exited"
    assert problems(exited_running, allow_missing=False)
    unresolved = json.loads(json.dumps(base))
    unresolved["data"]["Assessor"]["MountSources"]["paths"] = {}
    assert problems(unresolved, allow_missing=False)
    selinux = json.loads(json.dumps(base))
    selinux["data"]["Assessor"]["HostSELinux"] = "enforcing"
    assert problems(selinux, allow_missing=False)
