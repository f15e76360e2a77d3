"""The host collector: Docker's files, daemon.json, systemd units, audit rules, sysctls, kernel.

``host:/`` reads the live machine; ``host:/some/root`` reads an offline root (a mounted disk or
a machine image), confined to that root, and marks what only a live machine can show
(sysctls, kernel features, auditctl) as unavailable.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
from collections.abc import Iterator
from typing import Any

from assessor import jsonsafe
from assessor.collectors import _dockerd, _proc
from assessor.collectors._rootfs import RootFS
from assessor.collectors.base import Collector, read_live
from assessor.errors import TargetUnreachableError
from assessor.evidence import Evidence, Redactor
from assessor.targets import Target

# Files CIS sections 1.1 and 3 name, at every path Debian, Ubuntu, RHEL and Docker's own
# packages install them.
DOCKER_FILES = (
    "/etc/docker",
    "/etc/docker/daemon.json",
    "/etc/default/docker",
    "/etc/sysconfig/docker",
    "/etc/containerd/config.toml",
    "/var/run/docker.sock",
    "/run/containerd",
    "/run/containerd/containerd.sock",
    "/run/docker/containerd/containerd.sock",
    "/var/lib/docker",
    *(
        f"{d}/{p}"
        for p in (
            "dockerd",
            "containerd",
            "containerd-shim",
            "containerd-shim-runc-v1",
            "containerd-shim-runc-v2",
            "runc",
        )
        for d in ("/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin")
    ),
)
UNITS = ("docker.service", "docker.socket", "containerd.service")
UNIT_DIRS = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
)
SYSCTLS = (
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.forwarding",
    "net.bridge.bridge-nf-call-iptables",
    "user.max_user_namespaces",
    "kernel.unprivileged_userns_clone",
    "kernel.yama.ptrace_scope",
    "fs.protected_symlinks",
    "fs.protected_hardlinks",
)
AUDIT_FILES_DIR = "/etc/audit/rules.d"
AUDIT_FILE = "/etc/audit/audit.rules"
MAX_AUDIT_RULES = 10_000
MAX_CERT_FILES = 1_000


class HostCollector(Collector):
    kinds = frozenset({"host"})

    def __init__(self) -> None:
        self._identity: dict[str, Any] = {}
        self._warnings: list[str] = []

    def identity(self) -> dict[str, Any]:
        return self._identity

    def warnings(self) -> list[str]:
        return list(self._warnings)

    def collect(self, target: Target) -> Iterator[Evidence]:
        root = target.location
        if not os.path.isdir(root):
            raise TargetUnreachableError(f"{target}: {root} is not a directory")
        fs = RootFS(root)
        red = Redactor()
        daemon_json, daemon_json_error = _daemon_json(fs, red)
        self._warnings = []
        if daemon_json_error:
            self._warnings.append(
                f"{target}: {daemon_json_error} (the daemon settings in it were not read; "
                "the error is kept in the evidence)"
            )
        files = {p: fs.stat(p) for p in DOCKER_FILES}
        # the daemon's settings that name host paths: from daemon.json, and on a live
        # machine from the running dockerd's flags too
        config: dict[str, Any] = dict(daemon_json) if isinstance(daemon_json, dict) else {}
        local = _dockerd.local_daemon("/var/run/docker.sock") if fs.live else None
        if local and local.get("flags"):
            config.update(local["flags"])
        tls_files = _dockerd.tls_paths(config)
        for path in tls_files.values():
            files.setdefault(path, fs.stat(path))
        data_root = str(config.get("data-root") or config.get("graph") or "/var/lib/docker")
        files.setdefault(data_root, fs.stat(data_root))
        mounts = _mounts(fs)
        data: dict[str, Any] = {
            "root": root,
            "live": fs.live,
            "system": _system(fs),
            "files": files,
            "docker": {
                "daemon_json": daemon_json,
                "daemon_json_error": daemon_json_error,
                "tls_files": tls_files,
                "registry_certs": _registry_certs(fs),
                "data_root": data_root,
                "data_root_mount": _mount_point(mounts, data_root),
            },
            "mounts": mounts,
            "groups": {"docker": _group_members(fs, "docker")},
            "listening": _listening() if fs.live else None,
            "systemd": {"units": _units(fs)},
            "audit": _audit(fs, files),
            "sysctl": _sysctls() if fs.live else None,
            "kernel": _kernel() if fs.live else None,
        }
        system = data["system"]
        resource = system.get("hostname") or root
        self._identity = {
            "hostname": system.get("hostname"),
            "machine_id": system.get("machine_id"),
            "os": system.get("os", {}).get("PRETTY_NAME"),
            "kernel": (data["kernel"] or {}).get("release"),
            "root": root,
        }
        # file names on an offline root are bytes: the ones that are not UTF-8 are escaped
        data = jsonsafe.escape_tree(data)
        yield Evidence("host", str(target), str(resource), data, redactions=tuple(red.found))


def _read(fs: RootFS, path: str) -> str | None:
    try:
        return fs.read_text(path)
    except OSError:
        return None


def _system(fs: RootFS) -> dict[str, Any]:
    hostname = (_read(fs, "/etc/hostname") or "").strip() or None
    if fs.live:
        hostname = platform.node() or hostname
    os_release: dict[str, str] = {}
    for line in (
        _read(fs, "/etc/os-release") or _read(fs, "/usr/lib/os-release") or ""
    ).splitlines():
        key, sep, value = line.partition("=")
        if sep and re.fullmatch(r"[A-Z_]+", key):
            try:
                parts = shlex.split(value)
            except ValueError:
                parts = [value]
            os_release[key] = parts[0] if parts else ""
    return {
        "hostname": hostname,
        "machine_id": (_read(fs, "/etc/machine-id") or "").strip() or None,
        "os": {k: os_release[k] for k in ("ID", "VERSION_ID", "PRETTY_NAME") if k in os_release},
        "arch": platform.machine() if fs.live else None,
    }


def _daemon_json(fs: RootFS, red: Redactor) -> tuple[Any, str | None]:
    try:
        text = fs.read_text("/etc/docker/daemon.json")
    except OSError as e:
        return None, str(e)
    if text is None:
        return None, None
    try:
        parsed = jsonsafe.loads(text)
    except json.JSONDecodeError as e:
        return None, f"/etc/docker/daemon.json:{e.lineno}: invalid JSON: {e.msg}"
    except ValueError as e:  # a bound crossed (nesting, digits), or not UTF-8
        return None, f"/etc/docker/daemon.json: {e}"
    return red.tree(parsed, "docker.daemon_json"), None


def _registry_certs(fs: RootFS) -> list[dict[str, Any]]:
    certs: list[dict[str, Any]] = []
    for registry in fs.listdir("/etc/docker/certs.d"):
        for name in fs.listdir(f"/etc/docker/certs.d/{registry}"):
            certs.append(fs.stat(f"/etc/docker/certs.d/{registry}/{name}"))
            if len(certs) >= MAX_CERT_FILES:
                return certs
    return certs


def _units(fs: RootFS) -> dict[str, Any]:
    units: dict[str, Any] = {}
    for unit in UNITS:
        for folder in UNIT_DIRS:
            path = f"{folder}/{unit}"
            if not fs.exists(path):
                continue
            exec_start: list[str] = []
            for line in (_read(fs, path) or "").splitlines():
                key, sep, value = line.strip().partition("=")
                if sep and key.strip() == "ExecStart" and value.strip():
                    exec_start.append(value.strip())
            units[unit] = {"path": path, "file": fs.stat(path), "exec_start": exec_start}
            break
    return units


_WATCH = re.compile(r"(?:^|\s)-w\s+(\S+)")
_FIELD_PATH = re.compile(r"(?:^|\s)-F\s+(?:path|dir)=(\S+)")


def _parse_audit(lines: list[str]) -> tuple[list[str], list[str]]:
    rules: list[str] = []
    watched: list[str] = []
    for raw in lines[:MAX_AUDIT_RULES]:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        rules.append(line)
        for m in (*_WATCH.finditer(line), *_FIELD_PATH.finditer(line)):
            path = m.group(1).rstrip("/") or "/"
            if path not in watched:
                watched.append(path)
    return rules, watched


def _audit(fs: RootFS, files: dict[str, Any]) -> dict[str, Any]:
    """Audit rules: the loaded ones (auditctl -l) while auditd runs, else the rule files."""
    running = bool(_dockerd.processes(("auditd",))) if fs.live else None
    if running and _proc.which("auditctl"):
        done = _proc.run(["auditctl", "-l"], timeout=10)
        if done is not None and done.returncode == 0:
            rules, watched = _parse_audit(done.stdout.splitlines())
            return {
                "source": "auditctl",
                "auditd_running": True,
                "rules": rules,
                "watched": watched,
            }
    lines: list[str] = []
    rule_files = [
        f"{AUDIT_FILES_DIR}/{n}" for n in fs.listdir(AUDIT_FILES_DIR) if n.endswith(".rules")
    ]
    if fs.exists(AUDIT_FILE):
        rule_files.append(AUDIT_FILE)
    for path in rule_files:
        lines.extend((_read(fs, path) or "").splitlines())
    rules, watched = _parse_audit(lines)
    return {
        "source": "files" if rule_files else "none",
        "auditd_running": running,
        "files": rule_files,
        "rules": rules,
        "watched": watched,
    }


def _sysctls() -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in SYSCTLS:
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            with open(path) as f:
                text = f.read(4096).strip()
        except OSError:
            continue
        values[key] = int(text) if re.fullmatch(r"-?\d+", text) else text
    return values


def _first_line(path: str) -> str | None:
    text = read_live(path, 4096)
    return text.strip() if text is not None else None


def _kernel() -> dict[str, Any]:
    lsm = _first_line("/sys/kernel/security/lsm")
    apparmor = _first_line("/sys/module/apparmor/parameters/enabled")
    try:
        with open("/proc/self/status") as f:
            status = f.read(65536)
    except OSError:
        status = ""
    max_userns = _first_line("/proc/sys/user/max_user_namespaces")
    return {
        "release": platform.release(),
        "cgroup_version": 2 if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else 1,
        "lsm": lsm.split(",") if lsm else None,
        "apparmor_enabled": apparmor == "Y" if apparmor is not None else False,
        "selinux_enabled": os.path.exists("/sys/fs/selinux/enforce"),
        "seccomp_available": "Seccomp:" in status,
        "user_namespaces": os.path.exists("/proc/self/ns/user")
        and (max_userns is None or (max_userns.isdigit() and int(max_userns) > 0)),
    }


MAX_MOUNTS = 10_000


def _unescape(field: str) -> str:
    """Octal escapes of mountinfo and fstab (a space is \\040)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _mounts(fs: RootFS) -> dict[str, Any]:
    """Mount points: the live mount table, or an offline root's /etc/fstab."""
    points: list[str] = []
    if fs.live:
        source = "mountinfo"
        text = read_live("/proc/self/mountinfo") or ""
        for line in text.splitlines()[:MAX_MOUNTS]:
            parts = line.split()
            if len(parts) > 4:
                points.append(_unescape(parts[4]))
    else:
        source = "fstab"
        for line in (_read(fs, "/etc/fstab") or "").splitlines()[:MAX_MOUNTS]:
            parts = line.split()
            if len(parts) > 1 and not parts[0].startswith("#") and parts[1].startswith("/"):
                points.append(_unescape(parts[1]))
    return {"source": source, "points": sorted(set(points))}


def _mount_point(mounts: dict[str, Any], path: str) -> str:
    """The mount point holding ``path`` (the longest mount point that is a prefix)."""
    best = "/"
    for point in mounts["points"]:
        if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) > len(best):
            best = point
    return best


def _group_members(fs: RootFS, group: str) -> list[str] | None:
    """The members of ``group`` in /etc/group (None when the group does not exist)."""
    for line in (_read(fs, "/etc/group") or "").splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and fields[0] == group:
            return [m for m in fields[3].split(",") if m]
    return None


def _listening() -> list[dict[str, Any]]:
    """TCP sockets listening on this machine (from /proc/net/tcp and tcp6)."""
    found: list[dict[str, Any]] = []
    for path, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        for line in (read_live(path) or "").splitlines()[1:MAX_MOUNTS]:
            parts = line.split()
            if len(parts) < 4 or parts[3] != "0A":  # 0A: LISTEN
                continue
            addr_hex, _, port_hex = parts[1].partition(":")
            found.append({"address": _address(addr_hex, v6), "port": int(port_hex, 16)})
    return sorted(found, key=lambda s: (s["port"], s["address"]))


def _address(hex_addr: str, v6: bool) -> str:
    import ipaddress

    raw = bytes.fromhex(hex_addr)
    if not v6:
        return str(ipaddress.IPv4Address(raw[::-1]))
    # four host-order 32-bit words
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return str(ipaddress.IPv6Address(words))
