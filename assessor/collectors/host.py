"""The host collector: Docker's files, daemon.json, systemd units, audit rules, sysctls, kernel.

``host:/`` reads the live machine; ``host:/some/root`` reads an offline root (a mounted disk or
a machine image), confined to that root, and marks what only a live machine can show
(sysctls, kernel features, auditctl) as unavailable.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import shlex
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from assessor import jsonsafe
from assessor.collectors import _audit, _dockerd
from assessor.collectors._access import LOCAL, Access
from assessor.collectors._rootfs import RootFS
from assessor.collectors.base import Collector
from assessor.collectors.options import SshSettings
from assessor.errors import TargetUnreachableError
from assessor.evidence import Evidence, Redactor
from assessor.extras import require
from assessor.targets import Target

if TYPE_CHECKING:
    from assessor.collectors.options import CollectOptions

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
MAX_CERT_FILES = 1_000


class HostCollector(Collector):
    kinds = frozenset({"host"})

    def __init__(self, options: CollectOptions | None = None) -> None:
        # only ssh:// targets have options: how they log in
        self._ssh = options.ssh if options is not None else SshSettings()
        self._identity: dict[str, Any] = {}
        self._warnings: list[str] = []

    def identity(self) -> dict[str, Any]:
        return self._identity

    def warnings(self) -> list[str]:
        return list(self._warnings)

    def collect(self, target: Target) -> Iterator[Evidence]:
        if target.scheme == "ssh":  # another machine's / over SSH (the ssh extra)
            require("ssh", "ssh:// targets")
            from assessor.collectors.ssh_access import ssh_access

            with ssh_access(target, self._ssh) as access:
                yield self._collect(target, RootFS("/", access))
            return
        root = target.location
        if not os.path.isdir(root):
            raise TargetUnreachableError(f"{target}: {root} is not a directory")
        yield self._collect(target, RootFS(root))

    def _collect(self, target: Target, fs: RootFS) -> Evidence:
        root = fs.root
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
        # the engine's socket: Docker's, or over SSH the one ?socket= names
        socket = target.socket or "/var/run/docker.sock"
        local = _dockerd.local_daemon(socket, fs.access) if fs.live else None
        if local and local.get("flags"):
            config.update(local["flags"])
        tls_files = _dockerd.tls_paths(config)
        for path in tls_files.values():
            files.setdefault(path, fs.stat(path))
        data_root, data_root_from = _data_root(daemon_json, local)
        files.setdefault(data_root, fs.stat(data_root))
        data_root_real = fs.real(data_root)
        mounts = _mounts(fs)
        units = _units(fs)
        candidates = sorted({*files, *(u["path"] for u in units.values())})
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
                "data_root_from": data_root_from,
                "data_root_real": data_root_real,
                "data_root_mount": _mount_of(mounts, data_root_real) if data_root_real else None,
                "data_root_parent_mount": _parent_mount(mounts, data_root_real),
            },
            "mounts": mounts,
            "groups": {"docker": _group_members(fs, "docker")},
            "listening": _listening(fs.access) if fs.live else None,
            "systemd": {"units": units},
            "audit": _audit_rules(fs, candidates),
            "sysctl": _sysctls(fs.access) if fs.live else None,
            "kernel": _kernel(fs.access) if fs.live else None,
        }
        if not fs.access.local:  # how the machine was read (absent for this machine)
            data["read"] = fs.access.describe()
        resource = data["system"].get("hostname") or root
        self._identity = _identity(data, root)
        # file names on an offline root are bytes: the ones that are not UTF-8 are escaped
        data = jsonsafe.escape_tree(data)
        return Evidence("host", str(target), str(resource), data, redactions=tuple(red.found))


def _data_root(daemon_json: Any, local: dict[str, Any] | None) -> tuple[str, str]:
    """CIS 1.1.1 audit: the data root is DockerRootDir: daemon.json's data-root, the running
    dockerd's --data-root, else the default; and where it was read."""
    data_root, data_root_from = "/var/lib/docker", "default"
    for key in ("data-root", "graph"):
        if isinstance(daemon_json, dict) and daemon_json.get(key):
            data_root, data_root_from = str(daemon_json[key]), f"daemon.json {key}"
        if local and (local.get("flags") or {}).get(key):
            data_root, data_root_from = str(local["flags"][key]), f"dockerd --{key}"
    return data_root, data_root_from


def _parent_mount(mounts: dict[str, Any], data_root_real: str | None) -> dict[str, Any] | None:
    """The filesystem around the data root, to tell a partition from a bind mount of a
    directory of the same filesystem (dockerd bind-mounts its data root onto itself, so it is
    always a mount point while dockerd runs)."""
    if not data_root_real or data_root_real == "/":
        return None
    return _mount_of(mounts, os.path.dirname(data_root_real), below=data_root_real)


def _identity(data: dict[str, Any], root: str) -> dict[str, Any]:
    system = data["system"]
    return {
        "hostname": system.get("hostname"),
        "machine_id": system.get("machine_id"),
        "os": system.get("os", {}).get("PRETTY_NAME"),
        "kernel": (data["kernel"] or {}).get("release"),
        "root": root,
    }


def _read(fs: RootFS, path: str) -> str | None:
    try:
        return fs.read_text(path)
    except OSError:
        return None


def _system(fs: RootFS) -> dict[str, Any]:
    hostname = (_read(fs, "/etc/hostname") or "").strip() or None
    if fs.live:
        hostname = fs.access.node() or hostname
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
        "arch": fs.access.machine() if fs.live else None,
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


def _rules_files(fs: RootFS) -> tuple[list[str], list[str]]:
    """Every rules file there is, and the ones auditd loads: augenrules compiles
    /etc/audit/rules.d/*.rules (in name order) into /etc/audit/audit.rules and loads that, so
    the rules.d files when there are any, else audit.rules."""
    rules_d = [
        f"{AUDIT_FILES_DIR}/{n}" for n in fs.listdir(AUDIT_FILES_DIR) if n.endswith(".rules")
    ]
    every = [*rules_d, *([AUDIT_FILE] if fs.exists(AUDIT_FILE) else [])]
    return every, (rules_d or every)


def _rule_json(fs: RootFS, rule: _audit.Rule) -> dict[str, Any]:
    """A rule with the path the kernel matches: a ``path`` watch names an inode in its
    parent directory (the parent's links are followed, the name's own is not); a ``dir``
    watch follows the whole path."""
    out = rule.to_json()
    resolved = None
    if rule.path:
        path = os.path.normpath("/" + rule.path.lstrip("/"))
        if rule.watch == "dir":
            resolved = fs.real(path) or path
        else:
            parent = fs.real(os.path.dirname(path)) or os.path.dirname(path)
            resolved = os.path.join(parent, os.path.basename(path))
    out["resolved"] = resolved
    return out


def _is_dir(fs: RootFS) -> Callable[[str], bool]:
    def is_dir(path: str) -> bool:
        host_path = fs.host_path(path)
        return host_path is not None and fs.access.isdir(host_path)

    return is_dir


def _audit_rules(fs: RootFS, candidates: list[str]) -> dict[str, Any]:
    """Audit rules (CIS 1.1.3-1.1.18 audit: ``auditctl -l``). On a live machine: the rules
    loaded in the kernel (read over netlink, exact about ``path`` and ``dir`` watches, and
    listed with ``auditctl -l`` for the record), whether auditd is installed and runs, and
    the rules files as context. On an offline root: the rules files auditd would load."""
    files, file_rules, errors = _audit_files(fs)
    data: dict[str, Any] = {
        "live": fs.live,
        "files": files,
        "file_rules": file_rules[: _audit.MAX_RULES],
        "real_paths": {p: fs.real(p) for p in candidates},
        "errors": errors,
    }
    if not fs.live:  # no process, kernel list or status to see
        data.update(
            source="files" if files else "none",
            rules=data["file_rules"],
            auditd=None,
            loaded=None,
            status=None,
        )
        return data
    access = fs.access
    auditctl = access.which("auditctl")
    running = _dockerd.processes(("auditd",), access)
    data["auditd"] = {
        "installed": bool(auditctl or access.which("auditd")),
        "running": bool(running),
        "pids": [pid for pid, _ in running],
    }
    loaded, status = _auditctl(access, auditctl)
    kernel = _audit.kernel_rules() if access.local else None
    if kernel is None:  # another machine's kernel: its auditctl -l, run there
        loaded["read"] = f"auditctl -l {access.via}"
        rules, bad = _audit.parse_text("\n".join(loaded["output"]), "auditctl -l", _is_dir(fs))
        errors.extend(bad)
        ok = loaded["returncode"] == 0
    elif isinstance(kernel, str):  # no netlink: the listing, -w kinds judged from the paths
        loaded["read"] = "auditctl -l (netlink unreadable: " + kernel + ")"
        rules, bad = _audit.parse_text("\n".join(loaded["output"]), "auditctl -l", _is_dir(fs))
        errors.extend(bad)
        ok = loaded["returncode"] == 0
    else:
        loaded["read"] = "netlink AUDIT_LIST_RULES (the list auditctl -l prints)"
        rules = kernel
        listing = [ln for ln in loaded["output"] if ln.strip() != "No rules"]
        for rule, line in zip(rules, listing if len(listing) == len(rules) else [], strict=False):
            rule.text, rule.origin = line.strip(), "auditctl -l"
        ok = True
    data.update(
        source="kernel" if ok else "none",
        loaded=loaded,
        status=status,
        rules=[_rule_json(fs, r) for r in rules] if ok else [],
    )
    return data


def _audit_files(fs: RootFS) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """Every audit rules file (path, hash, size, whether auditd loads it), the rules of the ones
    auditd loads, and what could not be read or parsed."""
    every, used = _rules_files(fs)
    files: list[dict[str, Any]] = []
    file_rules: list[dict[str, Any]] = []
    errors: list[str] = []
    for path in every:
        try:
            text = _read(fs, path) or ""
        except OSError as e:
            errors.append(str(e))
            continue
        raw = text.encode("utf-8", "surrogateescape")
        files.append(
            {
                "path": path,
                "sha256": hashlib.sha256(raw).hexdigest(),
                "size": len(raw),
                "loaded_by_auditd": path in used,
            }
        )
        if path in used:
            rules, bad = _audit.parse_text(text, path, _is_dir(fs))
            file_rules.extend(_rule_json(fs, r) for r in rules)
            errors.extend(bad)
    return files, file_rules, errors


def _auditctl(access: Access, auditctl: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``auditctl -l`` (the loaded rules, as listed) and ``auditctl -s`` (whether auditing is
    enabled), when auditctl is installed."""
    loaded: dict[str, Any] = {"command": "auditctl -l", "returncode": None, "output": []}
    status: dict[str, Any] = {"command": "auditctl -s", "enabled": None}
    if auditctl:
        done = access.run([auditctl, "-l"], timeout=10)
        if done is not None:
            loaded.update(
                returncode=done.returncode,
                output=done.stdout.splitlines()[: _audit.MAX_RULES],
                stderr=done.stderr.strip()[:4096] or None,
            )
        shown = access.run([auditctl, "-s"], timeout=10)
        for line in (shown.stdout if shown is not None else "").splitlines():
            key, _, value = line.partition(" ")
            if key == "enabled" and value.strip().isdigit():
                status["enabled"] = int(value.strip())
    return loaded, status


def _sysctls(access: Access) -> dict[str, Any]:
    values: dict[str, Any] = {}
    paths = ["/proc/sys/" + key.replace(".", "/") for key in SYSCTLS]
    for key, read in zip(SYSCTLS, access.read_lives(paths, 4096), strict=True):
        if read is None:
            continue
        text = read.strip()
        values[key] = int(text) if re.fullmatch(r"-?\d+", text) else text
    return values


def _first_line(access: Access, path: str) -> str | None:
    text = access.read_live(path, 4096)
    return text.strip() if text is not None else None


def _kernel(access: Access) -> dict[str, Any]:
    lsm = _first_line(access, "/sys/kernel/security/lsm")
    apparmor = _first_line(access, "/sys/module/apparmor/parameters/enabled")
    # /proc/self: this process, or over SSH the SFTP server's, a process of that machine
    status = access.read_live("/proc/self/status", 65536) or ""
    max_userns = _first_line(access, "/proc/sys/user/max_user_namespaces")
    return {
        "release": access.release(),
        "cgroup_version": 2 if access.exists("/sys/fs/cgroup/cgroup.controllers") else 1,
        "lsm": lsm.split(",") if lsm else None,
        "apparmor_enabled": apparmor == "Y" if apparmor is not None else False,
        "selinux_enabled": access.exists("/sys/fs/selinux/enforce"),
        "seccomp_available": "Seccomp:" in status,
        "user_namespaces": access.exists("/proc/self/ns/user")
        and (max_userns is None or (max_userns.isdigit() and int(max_userns) > 0)),
    }


MAX_MOUNTS = 10_000


def _unescape(field: str) -> str:
    """Octal escapes of mountinfo and fstab (a space is \\040)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _mountinfo(access: Access = LOCAL) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for line in (access.read_live("/proc/self/mountinfo") or "").splitlines()[:MAX_MOUNTS]:
        left, sep, right = line.partition(" - ")
        parts, tail = left.split(), right.split()
        if not sep or len(parts) < 6 or len(tail) < 2:
            continue
        entries.append(
            {
                "point": _unescape(parts[4]),
                "device": _unescape(tail[1]),
                "fstype": tail[0],
                "dev": parts[2],  # major:minor of the filesystem
                "root": _unescape(parts[3]),  # the directory of that filesystem mounted here
                "options": parts[5],
            }
        )
    return entries


def _mounts(fs: RootFS) -> dict[str, Any]:
    """Mounts: the live mount table; for an offline root its /etc/fstab, plus what the
    scanning machine has mounted inside the root (a disk image's partitions mounted under it),
    named as paths in the root."""
    entries: list[dict[str, Any]] = []
    if fs.live:
        source = "/proc/self/mountinfo"
        entries = _mountinfo(fs.access)
    else:
        source = "/etc/fstab"
        for line in (_read(fs, "/etc/fstab") or "").splitlines()[:MAX_MOUNTS]:
            parts = line.split()
            if len(parts) > 2 and not parts[0].startswith("#") and parts[1].startswith("/"):
                entries.append(
                    {
                        "point": os.path.normpath(_unescape(parts[1])),
                        "device": _unescape(parts[0]),
                        "fstype": parts[2],
                        "dev": None,
                        "root": None,
                        "options": parts[3] if len(parts) > 3 else "defaults",
                        "from": "fstab",
                    }
                )
        live = _mountinfo()
        inside = [
            {**e, "point": os.path.normpath("/" + os.path.relpath(e["point"], fs.root))}
            for e in live
            if e["point"] == fs.root or e["point"].startswith(fs.root.rstrip("/") + "/")
        ]
        # with something mounted under the root, the scanning machine's filesystem that holds
        # the root is the root's "/" (to tell a bind mount of one of its directories from a
        # filesystem of its own); with nothing mounted there, the root's fstab says it all
        holding = _mount_of({"entries": live}, fs.root) if inside else None
        if holding and holding.get("dev") and holding["point"] != fs.root:
            inside.insert(0, {**holding, "point": "/"})
        for e in inside:
            e["from"] = "mounted"
        if inside:
            source += " and the scanning machine's /proc/self/mountinfo under the root"
        entries.extend(inside)
    return {
        "source": source,
        "points": sorted({e["point"] for e in entries}),
        "entries": entries,
    }


def _mount_of(mounts: dict[str, Any], path: str, below: str | None = None) -> dict[str, Any]:
    """The mount that holds ``path``: the last-mounted one whose point is ``path`` or a
    directory above it (the longest), skipping mounts at ``below`` (the child being judged).
    The root's own filesystem when no entry covers it (an offline root without fstab)."""
    best: dict[str, Any] | None = None
    for entry in mounts["entries"]:
        point = entry["point"]
        if below is not None and point == below:
            continue
        holds = path == point or path.startswith(point.rstrip("/") + "/")
        if holds and (best is None or len(point) >= len(best["point"])):
            best = entry
    if best is None:
        return {
            "point": "/",
            "device": None,
            "fstype": None,
            "dev": None,
            "root": None,
            "options": None,
        }
    return dict(best)


def _group_members(fs: RootFS, group: str) -> list[str] | None:
    """The members of ``group`` in /etc/group (None when the group does not exist)."""
    for line in (_read(fs, "/etc/group") or "").splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and fields[0] == group:
            return [m for m in fields[3].split(",") if m]
    return None


def _listening(access: Access) -> list[dict[str, Any]]:
    """Sockets listening on this machine: TCP in LISTEN, and unconnected UDP (what ``ss -l``
    lists), from /proc/net/{tcp,tcp6,udp,udp6}."""
    found: list[dict[str, Any]] = []
    for proto, path, v6, state in (
        ("tcp", "/proc/net/tcp", False, "0A"),  # 0A: LISTEN
        ("tcp", "/proc/net/tcp6", True, "0A"),
        ("udp", "/proc/net/udp", False, "07"),  # 07: unconnected (bound, receiving)
        ("udp", "/proc/net/udp6", True, "07"),
    ):
        for line in (access.read_live(path) or "").splitlines()[1:MAX_MOUNTS]:
            parts = line.split()
            if len(parts) < 4 or parts[3] != state:
                continue
            addr_hex, _, port_hex = parts[1].partition(":")
            found.append(
                {"address": _address(addr_hex, v6), "port": int(port_hex, 16), "protocol": proto}
            )
    return sorted(found, key=lambda s: (s["port"], s["protocol"], s["address"]))


def _address(hex_addr: str, v6: bool) -> str:
    raw = bytes.fromhex(hex_addr)
    if not v6:
        return str(ipaddress.IPv4Address(raw[::-1]))
    # four host-order 32-bit words
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return str(ipaddress.IPv6Address(words))
