"""Every golden fixture is a state a collector could produce (assessor/evidence_model.py).

A captured fixture (``*-captured-*.json``, written by tests/rules/capture.py from a real
collector run) must be *complete*: every field the collector always writes is there. A
hand-made fixture may leave out what its rule does not read, but what it keeps must have the
collector's types and invariants, and it must keep every key its rule declares under
``evidence:``. Impossible states, written out below, must be rejected, so this test can fail.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from assessor.catalog import load_catalog
from assessor.evidence_model import missing_paths, validate_document

HERE = Path(__file__).parent
CATALOG = load_catalog()
INVALID = (ValidationError, ValueError)


def _fixtures() -> list[Path]:
    return sorted(
        f
        for folder in HERE.iterdir()
        if folder.is_dir() and not folder.name.startswith("_")
        for f in folder.glob("*.json")
    )


def _captured(path: Path) -> bool:
    return "-captured-" in path.name


@pytest.mark.parametrize("path", _fixtures(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_is_a_possible_state(path: Path) -> None:
    doc = json.loads(path.read_text())
    try:
        validate_document(doc, complete=_captured(path))
    except INVALID as e:
        pytest.fail(f"{path.parent.name}/{path.name}: no collector writes this: {e}")
    rule = CATALOG.rules.get(path.parent.name)
    if rule is not None and doc["kind"] == rule.target.value:
        absent = missing_paths(doc["kind"], doc["data"], list(rule.evidence))
        assert not absent, (
            f"{path.parent.name}/{path.name} leaves out what its rule reads: {absent} "
            "(a collector always writes these; rules on missing evidence are walked by "
            "test_missing_evidence.py)"
        )


def test_some_fixtures_are_captured() -> None:
    captured = [p for p in _fixtures() if _captured(p)]
    kinds = {json.loads(p.read_text())["kind"] for p in captured}
    assert {"container", "engine", "host", "image", "registry"} <= kinds, (
        f"captured fixtures cover {sorted(kinds)}: run `make fixtures`"
    )


# ----------------------------------------------------------------- impossible states


def _captured_doc(pattern: str) -> dict[str, Any]:
    """A document tests/rules/capture.py wrote, to break."""
    for path in sorted(HERE.glob(pattern)):
        return dict(json.loads(path.read_text()))
    pytest.fail(f"no captured fixture {pattern}: run `make fixtures`")


def _container(running: bool) -> dict[str, Any]:
    """A running container with a bound port, or one that was only created."""
    case = "hardened" if running else "privileged-created"
    return _captured_doc(f"container-*/*-captured-{case}.json")


def _host() -> dict[str, Any]:
    return _captured_doc("host-*/*-captured-offline-hardened.json")


def _image() -> dict[str, Any]:
    return _captured_doc("image-*/*-captured-user-and-healthcheck.json")


def _engine() -> dict[str, Any]:
    return _captured_doc("engine-*/*-captured-daemon-defaults.json")


def _registry() -> dict[str, Any]:
    """A hand-made registry fixture (captured from a real registry, normalised)."""
    doc = json.loads((HERE / "registry-auth-required" / "pass-basic-challenge.json").read_text())
    return dict(doc)


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    node = doc["data"]
    *parents, last = path.split(".")
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value


_DELETE = object()

Break = Callable[[dict[str, Any]], None]


def _edit(*changes: tuple[str, Any]) -> Break:
    def apply(doc: dict[str, Any]) -> None:
        for path, value in changes:
            _set(doc, path, value)

    return apply


def _first_file(doc: dict[str, Any], present: bool) -> str:
    return next(k for k, v in doc["data"]["files"].items() if v["exists"] is present)


SU = {"path": "/bin/su", "type": "file", "mode": "0755", "uid": 0, "gid": 0, "layer": "sha256:0"}

IMPOSSIBLE: dict[str, tuple[Callable[[], dict[str, Any]], Break]] = {
    "running container with Pid 0": (lambda: _container(True), _edit(("State.Pid", 0))),
    "created container with a Pid": (lambda: _container(False), _edit(("State.Pid", 4242))),
    "Running true while Status says exited": (
        lambda: _container(True),
        _edit(("State.Status", "exited")),
    ),
    "Running false while Status says running": (
        lambda: _container(True),
        _edit(("State.Running", False)),
    ),
    "paused without Paused": (lambda: _container(True), _edit(("State.Status", "paused"))),
    "Privileged as a string": (
        lambda: _container(False),
        _edit(("HostConfig.Privileged", "yes")),
    ),
    "CapAdd as one string": (
        lambda: _container(False),
        _edit(("HostConfig.CapAdd", "SYS_ADMIN")),
    ),
    "Memory negative": (lambda: _container(False), _edit(("HostConfig.Memory", -1))),
    "mount without Source": (
        lambda: _container(False),
        lambda d: d["data"]["Mounts"].append({"Type": "bind", "Destination": "/x", "RW": True}),
    ),
    "bind mount with a relative source": (
        lambda: _container(False),
        lambda d: d["data"]["Mounts"].append(
            {"Type": "bind", "Source": "etc", "Destination": "/x", "Mode": "", "RW": True}
        ),
    ),
    "mount with RW as a string": (
        lambda: _container(False),
        lambda d: d["data"]["Mounts"].append(
            {"Type": "bind", "Source": "/etc", "Destination": "/x", "RW": "true"}
        ),
    ),
    "stopped container with bound ports": (
        lambda: _container(False),
        _edit(("NetworkSettings.Ports", {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "80"}]})),
    ),
    "running container with Ports as a list": (
        lambda: _container(True),
        _edit(("NetworkSettings.Ports", [])),
    ),
    "bound port never exposed": (
        lambda: _container(True),
        _edit(("NetworkSettings.Ports", {"9/udp": [{"HostIp": "0.0.0.0", "HostPort": "9"}]})),
    ),
    "created container with processes": (
        lambda: _container(False),
        _edit(("Assessor.Processes", ["sleep"])),
    ),
    "exec session not in ExecIDs": (
        lambda: _container(True),
        _edit(
            ("ExecIDs", None),
            (
                "Assessor.Execs",
                [
                    {
                        "ID": "a1b2c3d4e5f6",
                        "Privileged": False,
                        "User": "",
                        "Running": True,
                        "Program": "sh",
                        "HealthCheck": False,
                    }
                ],
            ),
        ),
    ),
    "Assessor without Self": (lambda: _container(False), _edit(("Assessor.Self", _DELETE))),
    "resolved mount sources that are not the bind mounts": (
        lambda: _container(False),
        _edit(("Assessor.MountSources", {"resolved": True, "root": "/", "paths": {"/x": "/x"}})),
    ),
    "daemon socket path that is not absolute": (
        lambda: _container(False),
        lambda d: d["data"]["Assessor"]["DaemonSockets"]["paths"].append("docker.sock"),
    ),
    "memory limit below dockerd's minimum": (
        lambda: _container(False),
        _edit(("HostConfig.Memory", 1024 * 1024)),
    ),
    "ulimit with soft above hard": (
        lambda: _container(False),
        _edit(("HostConfig.Ulimits", [{"Name": "nofile", "Soft": 2048, "Hard": 1024}])),
    ),
    "privileged container with masked paths": (
        lambda: _container(False),
        _edit(("HostConfig.MaskedPaths", ["/proc/kcore"])),
    ),
    "--rm with restart always": (
        lambda: _container(False),
        _edit(
            ("HostConfig.AutoRemove", True),
            ("HostConfig.RestartPolicy", {"Name": "always", "MaximumRetryCount": 0}),
        ),
    ),
    "read-only bind mount marked RW": (
        lambda: _captured_doc("container-*/*-captured-bind-etc.json"),
        _edit(("Mounts.0.RW", True)),
    ),
    "restart count with policy always": (
        lambda: _container(False),
        _edit(("HostConfig.RestartPolicy", {"Name": "always", "MaximumRetryCount": 3})),
    ),
    "unknown restart policy": (
        lambda: _container(False),
        _edit(("HostConfig.RestartPolicy", {"Name": "sometimes", "MaximumRetryCount": 0})),
    ),
    "health state on a created container": (
        lambda: _container(False),
        _edit(("State.Health", {"Status": "healthy", "FailingStreak": 0, "Log": []})),
    ),
    "container Id not hex": (lambda: _container(False), _edit(("Id", "not-an-id"))),
    "missing host file with a mode": (
        _host,
        lambda d: d["data"]["files"][_first_file(d, False)].update(mode="0644"),
    ),
    "existing host file without a mode": (
        _host,
        lambda d: d["data"]["files"][_first_file(d, True)].pop("mode"),
    ),
    "host file mode as a number": (
        _host,
        lambda d: d["data"]["files"][_first_file(d, True)].update(mode=644),
    ),
    "host file of unknown existence without an error": (
        _host,
        lambda d: d["data"]["files"][_first_file(d, False)].update(exists=None),
    ),
    "audit source no tool writes": (_host, _edit(("audit.source", "journal"))),
    "auditctl rules on an offline root": (_host, _edit(("audit.source", "auditctl"))),
    "offline root with a kernel": (
        _host,
        _edit(
            (
                "kernel",
                {
                    "release": "6.1",
                    "cgroup_version": 2,
                    "lsm": None,
                    "apparmor_enabled": False,
                    "selinux_enabled": False,
                    "seccomp_available": True,
                    "user_namespaces": True,
                },
            )
        ),
    ),
    "unit found whose file is missing": (
        _host,
        lambda d: next(iter(d["data"]["systemd"]["units"].values()))["file"].update(
            {"exists": False}
        ),
    ),
    "swarm active with state inactive": (_engine, _edit(("swarm.active", True))),
    "swarm state no engine reports": (_engine, _edit(("swarm.state", "running"))),
    "daemon found through the API only": (_engine, _edit(("daemon.source", "api"))),
    "effective setting with a string for a bool": (
        _engine,
        _edit(("daemon.effective.icc", "false")),
    ),
    "container counts that do not add up": (
        _engine,
        _edit(("containers", {"total": 3, "running": 1, "stopped": 1})),
    ),
    "anonymous access to /v2/ answered 401": (_registry, _edit(("api.anonymous_access", True))),
    "expired certificate with days left": (
        _registry,
        _edit(("transport.tls.certificate.expired", True)),
    ),
    "TLS not checked on an https registry that negotiated it": (
        _registry,
        _edit(("transport.tls.checked", False)),
    ),
    "image setuid count below its list": (
        _image,
        _edit(
            (
                "files.setuid",
                {"count": 0, "items": [dict(SU, mode="4755", bits="setuid")], "truncated": False},
            )
        ),
    ),
    "image setuid list holding a file without the bit": (
        _image,
        _edit(("files.setuid", {"count": 1, "items": [SU], "truncated": False})),
    ),
    "image world-writable list holding a 0755 file": (
        _image,
        _edit(("files.world_writable", {"count": 1, "items": [SU], "truncated": False})),
    ),
    "image signatures checked outside a registry": (
        _image,
        _edit(("signatures", {"checked": True, "present": False})),
    ),
    "image history steps that do not match its layers": (
        _image,
        lambda d: d["data"]["history"].append({"created_by": "RUN x", "empty_layer": False}),
    ),
    "image exposed port that is not PORT/PROTO": (
        _image,
        _edit(("config.ExposedPorts", ["http"])),
    ),
}


@pytest.mark.parametrize("case", sorted(IMPOSSIBLE))
def test_impossible_state_is_rejected(case: str) -> None:
    start, breaks = IMPOSSIBLE[case]
    doc = start()
    validate_document(doc)  # the starting point is possible
    broken = copy.deepcopy(doc)
    breaks(broken)
    with pytest.raises(INVALID):
        validate_document(broken)


def test_captured_documents_are_complete_and_projections_are_not() -> None:
    doc = _container(True)
    validate_document(doc, complete=True)
    trimmed = copy.deepcopy(doc)
    del trimmed["data"]["NetworkSettings"]
    validate_document(trimmed)  # a projection may leave it out
    with pytest.raises(INVALID):
        validate_document(trimmed, complete=True)


def test_a_fixture_must_keep_what_its_rule_reads() -> None:
    data = _container(False)["data"]
    assert missing_paths("container", data, ["HostConfig.Privileged", "Mounts"]) == []
    data = copy.deepcopy(data)
    del data["Mounts"]
    assert missing_paths("container", data, ["HostConfig.Privileged", "Mounts"]) == ["Mounts"]
    # dockerd writes State.Health only for a container with a health check
    assert "Health" not in data["State"]
    assert missing_paths("container", data, ["State.Health.Status"]) == []
    host = copy.deepcopy(_host()["data"])
    del host["systemd"]
    assert missing_paths("host", host, ["systemd.units", 'files["/etc/docker"]']) == [
        "systemd.units"
    ]


def test_stored_captures_are_what_the_collectors_write_now() -> None:
    """``capture --check`` on the cases that need no daemon (an image tarball and, as root, an
    offline host root): a collector change that alters their evidence must recapture them."""
    from tests.rules import capture

    only = ["image:user-and-healthcheck", "image:root-no-healthcheck"]
    if os.geteuid() == 0:  # the root's files are given owners other than the user's
        only.append("host:offline-hardened")
    outcome = capture.run(check=True, only=only)
    assert not outcome.differ, "\n".join(outcome.differ) + "\n(run `make fixtures`)"
