"""The daemon's effective configuration, and the collectors' small parsers."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from assessor.collectors import _dockerd
from assessor.collectors.engine import own_container_ids
from assessor.collectors.host import _address

ROOT = Path(__file__).resolve().parents[2]

INFO = {
    "LiveRestoreEnabled": False,
    "Driver": "overlay2",
    "LoggingDriver": "json-file",
    "SecurityOptions": ["name=seccomp,profile=builtin", "name=userns"],
    "Plugins": {"Authorization": None},
    "RegistryConfig": {
        "InsecureRegistryCIDRs": ["127.0.0.0/8", "10.0.0.0/8"],
        "IndexConfigs": {
            "docker.io": {"Secure": True},
            "reg.local:5000": {"Secure": False},
        },
    },
}


def test_parse_args_lists_bools_and_ulimits() -> None:
    flags = _dockerd.parse_args(
        [
            "dockerd",
            "-H",
            "fd://",
            "--icc=false",
            "--live-restore",
            "--insecure-registry",
            "a:5000",
            "--default-ulimit",
            "nofile=100:200",
            "--log-level=debug",
        ]
    )
    assert flags == {
        "hosts": ["fd://"],
        "icc": False,
        "live-restore": True,
        "insecure-registries": ["a:5000"],
        "default-ulimits": {"nofile": "100:200"},
        "log-level": "debug",
    }


def test_running_from_info() -> None:
    running = _dockerd.running_from_info(INFO, {"com.docker.network.bridge.enable_icc": "false"})
    assert running["seccomp-profile"] == ""
    assert running["userns-remap"] is True
    assert running["rootless"] is False
    assert running["authorization-plugins"] == []
    assert running["insecure-registries"] == ["10.0.0.0/8", "reg.local:5000"]
    assert running["icc"] is False


def test_effective_precedence_and_origin() -> None:
    running = _dockerd.running_from_info(INFO, {"com.docker.network.bridge.enable_icc": "false"})
    values, origin, conflicts = _dockerd.effective(
        {
            "icc": False,
            "userns-remap": "default",
            "insecure-registries": ["10.0.0.0/8", "reg.local:5000"],
        },
        {"hosts": ["fd://"]},
        running,
    )
    assert values["icc"] is False and origin["icc"] == "running"
    assert values["userland-proxy"] is True and origin["userland-proxy"] == "default"
    assert values["hosts"] == ["fd://"] and origin["hosts"] == "flag"
    assert conflicts == []


def test_effective_reports_file_edited_but_not_applied() -> None:
    running = _dockerd.running_from_info({"LiveRestoreEnabled": False})
    values, _, conflicts = _dockerd.effective({"live-restore": True}, {}, running)
    assert values["live-restore"] is False
    assert conflicts == [
        {
            "key": "live-restore",
            "values": {"daemon.json": True, "running": False},
            "effective": False,
        }
    ]


def test_effective_reports_running_value_differing_from_default() -> None:
    # nothing configures icc, yet the running bridge has it off: the config does not explain it
    running = _dockerd.running_from_info({}, {"com.docker.network.bridge.enable_icc": "false"})
    _, _, conflicts = _dockerd.effective({}, {}, running)
    assert [c["key"] for c in conflicts] == ["icc"]
    assert conflicts[0]["values"] == {"default": True, "running": False}


def test_remote_engine_has_no_guessed_defaults() -> None:
    values, origin, conflicts = _dockerd.effective(None, None, {"live-restore": True})
    assert values == {"live-restore": True}
    assert "userland-proxy" not in values and conflicts == []
    assert origin == {"live-restore": "running"}


def test_tls_paths_defaults_when_tls_on() -> None:
    assert _dockerd.tls_paths({}) == {}
    assert _dockerd.tls_paths({"tlsverify": True, "tlscacert": "/etc/docker/ca.pem"}) == {
        "tlscacert": "/etc/docker/ca.pem",
        "tlscert": "/root/.docker/cert.pem",
        "tlskey": "/root/.docker/key.pem",
    }


def test_read_config_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "daemon.json"
    bad.write_text('{\n  "icc": false,\n}\n')
    config, error, _ = _dockerd.read_config(str(bad))
    assert config is None and error is not None
    assert error.startswith(f"{bad}:3: invalid JSON")
    assert _dockerd.read_config(str(tmp_path / "absent.json"))[:2] == (None, None)


def test_own_container_ids() -> None:
    cid = "a" * 64
    assert own_container_ids(f"0::/system.slice/docker-{cid}.scope\n", "") == {cid}
    mountinfo = f"1 2 0:1 /var/lib/docker/containers/{cid}/hostname /etc/hostname rw - ext4 x rw\n"
    assert own_container_ids("0::/\n", mountinfo) == {cid}
    assert own_container_ids("0::/user.slice\n", "1 2 0:1 / / rw - ext4 x rw\n") == set()


def test_addresses() -> None:
    # (the data root's mount is the host collector's _mount_of, tested with it)
    assert _address("0100007F", False) == "127.0.0.1"
    assert _address("00000000000000000000000000000000", True) == "::"
    assert _address("00000000000000000000000001000000", True) == "::1"


def test_host_mount_table_listing_containers_is_not_self() -> None:
    cid = "b" * 64
    host = (
        f"100 1 0:5 / /var/lib/docker/containers/{cid}/mounts/shm rw - tmpfs shm rw\n"
        f"101 1 0:6 / /var/lib/containers/storage/overlay-containers/{cid}/userdata/shm rw"
        " - tmpfs shm rw\n"
    )
    assert own_container_ids("0::/user.slice/user-0.slice\n", host) == set()
    inside = f"200 1 8:1 /containers/storage/overlay-containers/{cid}/userdata/hosts /etc/hosts rw - ext4 x rw\n"
    assert own_container_ids("0::/\n", inside) == {cid}


def _own_process(uid: int) -> dict[str, object]:
    """This test process, presented as a dockerd run by ``uid`` (its environment is real)."""
    return {"pid": os.getpid(), "program": "dockerd", "argv": ["dockerd"], "uid": uid}


def test_rootless_config_file_and_defaults_come_from_the_process_environment() -> None:
    # read from /proc/PID/environ: the environment this process started with
    home = os.environ.get("HOME", "")
    process = _own_process(1000)
    config = os.environ.get("XDG_CONFIG_HOME") or f"{home}/.config"
    assert _dockerd.config_path(process, {}) == f"{config}/docker/daemon.json"
    assert _dockerd.config_path(process, {"config-file": "/srv/d.json"}) == "/srv/d.json"
    data = os.environ.get("XDG_DATA_HOME") or f"{home}/.local/share"
    defaults = _dockerd.defaults_for(process, {})
    assert defaults["data-root"] == f"{data}/docker"
    assert defaults["rootless"] is True
    root = _own_process(0)
    if not os.environ.get("ROOTLESSKIT_STATE_DIR"):
        assert _dockerd.config_path(root, {}) == "/etc/docker/daemon.json"
        assert _dockerd.defaults_for(root, {})["data-root"] == "/var/lib/docker"


def test_rootless_data_root_is_no_conflict() -> None:
    """Before: a rootless daemon's data root (under the user's home) conflicted with the
    rootful default /var/lib/docker, and engine-daemon-config-consistent failed."""
    running = {"data-root": "/home/u/.local/share/docker", "rootless": True}
    defaults = {**_dockerd.DEFAULTS, "data-root": "/home/u/.local/share/docker", "rootless": True}
    _, origin, conflicts = _dockerd.effective({}, {}, running, defaults)
    assert conflicts == []
    assert origin["data-root"] == "running"
    _, _, conflicts = _dockerd.effective({}, {}, running)
    assert [c["key"] for c in conflicts] == ["data-root", "rootless"]


def test_userns_remapped_data_root_is_the_setting() -> None:
    """Before: with userns-remap the engine reports DATA-ROOT/UID.GID, which conflicted with
    the configured data root."""
    info = {"DockerRootDir": "/srv/docker/165536.165536", "SecurityOptions": ["name=userns"]}
    running = _dockerd.running_from_info(info)
    assert running["data-root"] == "/srv/docker"
    configured = {"data-root": "/srv/docker", "userns-remap": "default"}
    _, _, conflicts = _dockerd.effective(configured, {}, running)
    assert conflicts == []
    plain = _dockerd.running_from_info({"DockerRootDir": "/srv/docker/1.2", "SecurityOptions": []})
    assert plain["data-root"] == "/srv/docker/1.2"


def test_read_config_digest(tmp_path: Path) -> None:
    path = tmp_path / "daemon.json"
    path.write_bytes(b'{"icc": false}\n')
    parsed, error, _mtime, digest = _dockerd.read_config_digest(str(path))
    assert parsed == {"icc": False} and error is None
    assert digest == hashlib.sha256(b'{"icc": false}\n').hexdigest()
    assert _dockerd.read_config_digest(str(tmp_path / "absent.json"))[3] is None


def test_rootless_config_file_from_the_users_home_when_environment_is_unreadable() -> None:
    """Without the process's environment (gone, or another user's for an unprivileged
    scanner), the rootless daemon's files are under its user's home from /etc/passwd."""
    import pwd

    gone = subprocess.Popen(["true"])
    gone.wait()
    uid = os.getuid()
    home = pwd.getpwuid(uid).pw_dir
    process = {"pid": gone.pid, "program": "dockerd", "argv": ["dockerd"], "uid": uid}
    flags = {"rootless": True}
    assert _dockerd.config_path(process, flags) == f"{home}/.config/docker/daemon.json"
    assert _dockerd.defaults_for(process, flags)["data-root"] == f"{home}/.local/share/docker"


NAMED_CHILD = """
import ctypes, socket, sys, time
ctypes.CDLL(None).prctl(15, sys.argv[1].encode("latin-1"), 0, 0, 0)  # PR_SET_NAME
if len(sys.argv) > 2:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sys.argv[2])
    listener.listen()
print("ready", flush=True)
time.sleep(60)
"""


@contextmanager
def _named_process(name: str, listen: str | None = None) -> Iterator[subprocess.Popen[str]]:
    """A process named ``name`` (its /proc/PID/comm), listening on the unix socket ``listen``."""
    args = [sys.executable, "-c", NAMED_CHILD, name, *([listen] if listen else [])]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        yield child
    finally:
        child.kill()
        child.wait()


def test_engine_listening_on_the_socket_is_found_without_the_process_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listener is asked of the socket (SO_PEERCRED): no process's name is read."""
    sock = str(tmp_path / "engine.sock")
    with _named_process("dockerd", listen=sock) as child:
        monkeypatch.setattr(_dockerd, "_pids", list)  # no process table to read
        found = _dockerd.find_daemon(sock)
        assert found is not None
        assert (found["pid"], found["program"]) == (child.pid, "dockerd")
        assert found["argv"][-2:] == ["dockerd", sock] and found["uid"] == os.geteuid()
        monkeypatch.undo()
        assert _dockerd.find_daemon(sock) == found  # the process table agrees


def test_listener_that_is_no_engine_is_not_taken(tmp_path: Path) -> None:
    sock = str(tmp_path / "proxy.sock")
    with _named_process("socat", listen=sock):
        assert _dockerd._listener(sock) is None
    assert _dockerd._listener(sock) is None  # nothing listens any more
    assert _dockerd._listener(str(tmp_path / "absent.sock")) is None


def test_a_process_name_that_is_not_utf8_is_no_error() -> None:
    """A name is any 15 bytes (prctl PR_SET_NAME): reading every process's stays an answer."""
    with _named_process("\xffauditd\xfe") as child:
        assert child.pid not in {pid for pid, _ in _dockerd.processes(("auditd",))}
    with _named_process("auditd") as child:
        assert (child.pid, "auditd") in _dockerd.processes(("auditd", "dockerd"))
