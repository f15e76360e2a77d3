"""The Docker daemon's configuration as it runs: daemon.json, dockerd's flags, and the engine.

dockerd takes settings from three places: its configuration file (``daemon.json``), its
command line, and its built-in defaults. What the engine reports (``docker info``, the
default bridge network) is what actually runs, which differs from the file when the file
was edited after dockerd started. :func:`effective` merges them under daemon.json's key
names, records where each value came from, and reports every disagreement as a conflict.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import socket as sockets
import struct
from collections.abc import Iterable, Mapping
from typing import Any

from assessor import jsonsafe
from assessor.collectors._access import LOCAL, Access
from assessor.regularfile import NotRegularFileError, TooLargeError

MAX_CONFIG = 1 << 20
# another machine's /proc, read over SSH: at most this many processes, descriptors of one
# process, and bytes of a table (/proc/PID/net/unix, /proc/stat)
MAX_PROCESSES = 100_000
MAX_FDS = 100_000
MAX_TABLE = 16 << 20

# dockerd flags whose daemon.json key is a list (the flag may repeat)
LIST_FLAGS = {
    "insecure-registry": "insecure-registries",
    "registry-mirror": "registry-mirrors",
    "authorization-plugin": "authorization-plugins",
    "host": "hosts",
    "dns": "dns",
    "dns-opt": "dns-opts",
    "dns-search": "dns-search",
    "default-ulimit": "default-ulimits",
    "label": "labels",
    "log-opt": "log-opts",
    "storage-opt": "storage-opts",
    "exec-opt": "exec-opts",
    "add-runtime": "runtimes",
}
SHORT_FLAGS = {"H": "host", "D": "debug", "l": "log-level", "G": "group", "s": "storage-driver"}
BOOL_FLAGS = {
    "icc",
    "iptables",
    "ip6tables",
    "ip-forward",
    "ip-masq",
    "live-restore",
    "userland-proxy",
    "no-new-privileges",
    "selinux-enabled",
    "experimental",
    "debug",
    "tls",
    "tlsverify",
    "ipv6",
    "rootless",
    "init",
    "raw-logs",
    "disable-legacy-registry",
}

# dockerd's built-in defaults (dockerd reference, Docker Engine 20.10 to 28), for the keys the
# catalog reads. A key absent here and unset is reported as absent, never guessed.
DEFAULTS: dict[str, Any] = {
    "icc": True,
    "iptables": True,
    "ip-forward": True,
    "ip-masq": True,
    "userland-proxy": True,
    "live-restore": False,
    "no-new-privileges": False,
    "experimental": False,
    "debug": False,
    "log-level": "info",
    "log-driver": "json-file",
    "selinux-enabled": False,
    "userns-remap": "",
    "authorization-plugins": [],
    "insecure-registries": [],
    "default-ulimits": {},
    "cgroup-parent": "",
    "seccomp-profile": "",
    "tls": False,
    "tlsverify": False,
    "rootless": False,
    "data-root": "/var/lib/docker",
    "storage-opts": [],
}


def parse_args(argv: list[str]) -> dict[str, Any]:
    """dockerd's command-line flags as daemon.json keys and typed values."""
    flags: dict[str, Any] = {}
    args = argv[1:]
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-") or arg == "-":
            continue
        name, sep, value = arg.lstrip("-").partition("=")
        name = SHORT_FLAGS.get(name, name) if not arg.startswith("--") else name
        if not sep:
            if name in BOOL_FLAGS:
                value = "true"
            elif i < len(args) and not args[i].startswith("-"):
                value = args[i]
                i += 1
            else:
                value = "true"
        if name in LIST_FLAGS:
            key = LIST_FLAGS[name]
            if key == "log-opts" or key == "default-ulimits":
                k, _, v = value.partition("=")
                flags.setdefault(key, {})[k] = v
            else:
                flags.setdefault(key, []).append(value)
        elif name in BOOL_FLAGS:
            flags[name] = value.lower() in ("true", "1", "yes")
        else:
            flags[name] = value
    return flags


def _normalize_json(config: Mapping[str, Any]) -> dict[str, Any]:
    """daemon.json values in the shape the flags take (ulimits as NAME: "soft:hard")."""
    out = dict(config)
    ulimits = out.get("default-ulimits")
    if isinstance(ulimits, dict):
        out["default-ulimits"] = {
            str(name): (f"{u.get('Soft')}:{u.get('Hard')}" if isinstance(u, dict) else str(u))
            for name, u in ulimits.items()
        }
    return out


def security_options(info: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    options: dict[str, dict[str, str]] = {}
    for item in info.get("SecurityOptions") or []:
        fields = dict(part.partition("=")[::2] for part in str(item).split(","))
        name = fields.pop("name", "")
        if name:
            options[name] = fields
    return options


LOOPBACK_CIDRS = {"127.0.0.0/8", "::1/128"}
_REMAPPED_ROOT = re.compile(r"^/.*/[0-9]+\.[0-9]+$")


def running_from_info(
    info: Mapping[str, Any], bridge_options: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The settings the engine reports it runs with, under daemon.json's key names."""
    running: dict[str, Any] = {}
    simple = {
        "LiveRestoreEnabled": "live-restore",
        "Driver": "storage-driver",
        "LoggingDriver": "log-driver",
        "ExperimentalBuild": "experimental",
        "Debug": "debug",
        "CgroupDriver": "cgroup-driver",
        "DefaultRuntime": "default-runtime",
        "DockerRootDir": "data-root",
    }
    for field, key in simple.items():
        if field in info and info[field] is not None:
            running[key] = info[field]
    options = security_options(info)
    root = running.get("data-root")
    if "userns" in options and isinstance(root, str) and _REMAPPED_ROOT.match(root):
        # with userns-remap, the engine reports the remapped root's folder inside the
        # data root (DATA-ROOT/UID.GID); the data-root setting is its parent
        running["data-root"] = root.rsplit("/", 1)[0] or "/"
    if "SecurityOptions" in info:
        running["rootless"] = "rootless" in options
        running["selinux-enabled"] = "selinux" in options
        running["userns-remap"] = "userns" in options
        if "seccomp" in options:
            profile = options["seccomp"].get("profile", "")
            running["seccomp-profile"] = "" if profile in ("default", "builtin") else profile
    plugins = info.get("Plugins")
    if isinstance(plugins, dict) and "Authorization" in plugins:
        running["authorization-plugins"] = list(plugins.get("Authorization") or [])
    registry = info.get("RegistryConfig")
    if isinstance(registry, dict):
        insecure = [
            str(c) for c in registry.get("InsecureRegistryCIDRs") or [] if c not in LOOPBACK_CIDRS
        ]
        for name, index in (registry.get("IndexConfigs") or {}).items():
            if isinstance(index, dict) and index.get("Secure") is False and name not in insecure:
                insecure.append(str(name))
        running["insecure-registries"] = sorted(insecure)
    if bridge_options:
        icc = bridge_options.get("com.docker.network.bridge.enable_icc")
        if icc is not None:
            running["icc"] = str(icc).lower() == "true"
        masq = bridge_options.get("com.docker.network.bridge.enable_ip_masquerade")
        if masq is not None:
            running["ip-masq"] = str(masq).lower() == "true"
    return running


def _comparable(key: str, value: Any) -> Any:
    """A value reduced to what the running engine can show, to compare sources."""
    if key == "userns-remap":
        return bool(value)
    if key == "seccomp-profile":
        return "" if value in (None, "default", "builtin") else value
    if key == "insecure-registries" and isinstance(value, list):
        return sorted(str(v) for v in value if str(v) not in LOOPBACK_CIDRS)
    if key == "authorization-plugins" and isinstance(value, list):
        return sorted(str(v) for v in value)
    return value


def effective(
    daemon_json: Mapping[str, Any] | None,
    flags: Mapping[str, Any] | None,
    running: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, str], list[dict[str, Any]]]:
    """The settings dockerd runs with, where each came from, and where the sources disagree.

    Precedence: what the engine reports, then flags, then daemon.json, then dockerd's
    defaults (only when the configuration sources were read: a remote engine's unobserved
    settings stay absent).
    """
    sources: list[tuple[str, Mapping[str, Any]]] = []
    if daemon_json is not None:
        sources.append(("daemon.json", _normalize_json(daemon_json)))
    if flags is not None:
        sources.append(("flag", flags))
    sources.append(("running", running))
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    defaults = DEFAULTS if defaults is None else defaults
    if flags is not None:
        for key, value in defaults.items():
            values[key] = value
            origin[key] = "default"
    seen: dict[str, dict[str, Any]] = {}
    for name, source in sources:
        for key, value in source.items():
            seen.setdefault(key, {})[name] = value
            values[key] = value
            origin[key] = name
    conflicts: list[dict[str, Any]] = []
    for key, by_source in sorted(seen.items()):
        if flags is not None and key in defaults and "running" in by_source:
            # a setting left out of the file and the flags means its default; a running
            # value other than the default then also disagrees with the configuration
            configured = {k: v for k, v in by_source.items() if k != "running"}
            if not configured and _comparable(key, defaults[key]) != _comparable(
                key, by_source["running"]
            ):
                by_source = {"default": defaults[key], **by_source}
        distinct = {repr(_comparable(key, v)) for v in by_source.values()}
        if len(distinct) > 1:
            conflicts.append({"key": key, "values": by_source, "effective": values[key]})
    return values, origin, conflicts


def _unix_socket_inodes(path: str, pid: int | str = "self", access: Access = LOCAL) -> set[str]:
    """The inodes of the unix sockets bound to ``path`` in ``pid``'s network namespace.

    /proc/PID/net/unix lists the sockets of that process's network namespace only: a
    daemon in a namespace of its own (rootless dockerd under rootlesskit, a dockerd run with
    nsenter) is found through its own table, not the scanner's.
    """
    inodes: set[str] = set()
    if not access.local:
        for line in (access.read_live(f"/proc/{pid}/net/unix", MAX_TABLE) or "").splitlines():
            parts = line.split()
            if len(parts) >= 8 and parts[7] == path:
                inodes.add(parts[6])
        return inodes
    try:
        with open(f"/proc/{pid}/net/unix") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 8 and parts[7] == path:
                    inodes.add(parts[6])
    except OSError:
        pass
    return inodes


def _holds_socket(pid: int, inodes: set[str], access: Access = LOCAL) -> bool:
    wanted = {f"socket:[{i}]" for i in inodes}
    if not access.local:
        try:
            fds = access.listdir(f"/proc/{pid}/fd", MAX_FDS)
        except OSError:
            return False
        return bool(wanted & set(access.readlinks([f"/proc/{pid}/fd/{fd}" for fd in fds])))
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                    return True
            except OSError:
                continue
    except OSError:
        pass
    return False


def _serves(pid: int, socket: str, access: Access = LOCAL) -> bool:
    """Whether process ``pid`` holds a socket bound to ``socket`` (in its network namespace)."""
    inodes = _unix_socket_inodes(socket, pid, access)
    return bool(inodes) and _holds_socket(pid, inodes, access)


def _argv(pid: int, access: Access = LOCAL) -> list[str] | None:
    raw = access.read_bytes(f"/proc/{pid}/cmdline", 1 << 16)
    if raw is None:
        return None
    return [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]


def _comm(pid: int, access: Access = LOCAL) -> bytes:
    """The process's name as the kernel keeps it (bytes: a name need not be UTF-8)."""
    if not access.local:
        return (access.read_bytes(f"/proc/{pid}/comm", 64) or b"").strip()
    try:
        fd = os.open(f"/proc/{pid}/comm", os.O_RDONLY)
    except OSError:
        return b""
    try:
        return os.read(fd, 64).strip()
    except OSError:
        return b""
    finally:
        os.close(fd)


def _pids(access: Access = LOCAL) -> list[int]:
    try:
        names = access.listdir("/proc", None if access.local else MAX_PROCESSES)
    except OSError:
        return []
    return sorted(int(p) for p in names if p.isdigit())


def processes(names: Iterable[str], access: Access = LOCAL) -> list[tuple[int, str]]:
    """(pid, name) of every process named one of ``names``, by pid."""
    wanted = {name.encode(): name for name in names}
    pids = _pids(access)
    if access.local:
        return [(pid, wanted[comm]) for pid in pids if (comm := _comm(pid)) in wanted]
    comms = access.read_bytes_many([f"/proc/{pid}/comm" for pid in pids], 64)
    return [
        (pid, wanted[comm])
        for pid, raw in zip(pids, comms, strict=True)
        if (comm := (raw or b"").strip()) in wanted
    ]


ENGINES = ("dockerd", "podman")


def _listener(socket: str) -> tuple[int, str] | None:
    """The engine process listening on the unix socket ``socket``, asked of the socket itself
    (SO_PEERCRED: the pid that called listen() on it), without reading every process's name.

    None when that cannot be asked (no permission, nothing listening, a full backlog), when
    the listener is outside this pid namespace, or when it is not an engine: a socket that
    systemd opens for dockerd (socket activation) is systemd's, and a proxy's is the proxy's.
    """
    try:
        with sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM) as s:
            s.setblocking(False)  # a full backlog fails at once instead of waiting
            s.connect(socket)
            creds = s.getsockopt(sockets.SOL_SOCKET, sockets.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    pid = struct.unpack("3i", creds)[0]
    name = _comm(pid) if pid > 0 else b""
    return next(((pid, engine) for engine in ENGINES if engine.encode() == name), None)


def find_daemon(socket: str | None = None, access: Access = LOCAL) -> dict[str, Any] | None:
    """The process serving ``socket`` (or the local dockerd): pid, program, argv, user.

    The socket's owner is found exactly: the engine listening on it, asked of the socket, else
    through the socket inodes a process holds; without either (no permission to connect to it
    nor to read other processes' descriptors), a single dockerd whose ``-H`` list names the
    socket (or the default socket) is taken. On another machine (``access``) the socket
    cannot be asked: the inodes tell.
    """
    listener = _listener(socket) if socket and access.local else None
    engines = [listener] if listener else processes(ENGINES, access)
    if not engines:
        return None
    chosen: tuple[int, str] | None = None
    if socket:
        chosen = listener or next((e for e in engines if _serves(e[0], socket, access)), None)
        if chosen is None:
            dockerds = [e for e in engines if e[1] == "dockerd"]
            for pid, comm in dockerds:
                hosts = parse_args(_argv(pid, access) or []).get("hosts") or []
                names = {h.removeprefix("unix://") for h in hosts}
                default = not hosts and socket in ("/var/run/docker.sock", "/run/docker.sock")
                if socket in names or default:
                    chosen = (pid, comm)
                    break
    else:
        chosen = next((e for e in engines if e[1] == "dockerd"), None)
    if chosen is None:
        return None
    pid, comm = chosen
    argv = _argv(pid, access)
    if argv is None:
        return None
    uid = None
    with contextlib.suppress(OSError):
        uid = access.stat(f"/proc/{pid}").uid
    started = _started(pid, access)
    return {"pid": pid, "program": comm, "argv": argv, "uid": uid, "started": started}


def _started(pid: int, access: Access = LOCAL) -> float | None:
    """The process's start time (seconds since the epoch)."""
    stat_line = access.read_live(f"/proc/{pid}/stat", 1 << 16)
    system = access.read_live("/proc/stat", MAX_TABLE)
    if stat_line is None or system is None:
        return None
    try:
        fields = stat_line.rpartition(")")[2].split()
        lines = system.splitlines()
        btime = next(int(line.split()[1]) for line in lines if line.startswith("btime "))
        return btime + int(fields[19]) / access.clock_ticks()
    except (OSError, StopIteration, IndexError, ValueError, ZeroDivisionError):
        return None


def _environ_value(pid: int, name: str, access: Access = LOCAL) -> str | None:
    """One variable of a process's environment (only HOME and XDG_CONFIG_HOME are asked)."""
    for item in (access.read_bytes(f"/proc/{pid}/environ", 1 << 16) or b"").split(b"\0"):
        key, _, value = item.partition(b"=")
        if key.decode("utf-8", "replace") == name:
            return value.decode("utf-8", "replace")
    return None


def _rootless(process: Mapping[str, Any], flags: Mapping[str, Any], access: Access = LOCAL) -> bool:
    """Whether dockerd runs in rootless mode, as dockerd itself decides it.

    dockerd honours the XDG folders when it runs under RootlessKit (ROOTLESSKIT_STATE_DIR
    in its environment, Docker Engine 20.10+) or with --rootless; a dockerd that is not
    root is rootless whatever its environment says.
    """
    if flags.get("rootless") or process.get("uid") not in (0, None):
        return True
    pid = process.get("pid")
    return bool(pid and _environ_value(int(pid), "ROOTLESSKIT_STATE_DIR", access))


def _xdg_home(
    process: Mapping[str, Any], variable: str, fallback: str, access: Access = LOCAL
) -> str | None:
    """$variable of the process, else $HOME/fallback (dockerd's homedir.Get*Home); when its
    environment cannot be read, the home folder of the user it runs as (/etc/passwd)."""
    pid = int(process["pid"])
    base = _environ_value(pid, variable, access)
    if base:
        return base
    home = _environ_value(pid, "HOME", access)
    if not home and not access.can_read(f"/proc/{pid}/environ"):
        with contextlib.suppress(TypeError, ValueError):
            home = access.home_of(int(process["uid"]))
    return f"{home}/{fallback}" if home else None


def config_path(
    process: Mapping[str, Any], flags: Mapping[str, Any], access: Access = LOCAL
) -> str:
    """The daemon.json dockerd reads: --config-file, else the rootless or system default.

    A rootless dockerd reads $XDG_CONFIG_HOME/docker/daemon.json (~/.config/docker/... when
    XDG_CONFIG_HOME is unset) of the user it runs as, taken from its own environment.
    """
    if "config-file" in flags:
        return str(flags["config-file"])
    if _rootless(process, flags, access):
        base = _xdg_home(process, "XDG_CONFIG_HOME", ".config", access)
        if base:
            return f"{base}/docker/daemon.json"
    return "/etc/docker/daemon.json"


def defaults_for(
    process: Mapping[str, Any], flags: Mapping[str, Any], access: Access = LOCAL
) -> dict[str, Any]:
    """dockerd's built-in defaults for this process: a rootless dockerd's data root is
    $XDG_DATA_HOME/docker (~/.local/share/docker), and it is rootless by default."""
    defaults = dict(DEFAULTS)
    if _rootless(process, flags, access):
        defaults["rootless"] = True
        data = _xdg_home(process, "XDG_DATA_HOME", ".local/share", access)
        if data:
            defaults["data-root"] = f"{data}/docker"
        else:
            del defaults["data-root"]  # unknown: never guessed
    return defaults


def _in_own_mount_namespace(pid: int, access: Access = LOCAL) -> bool:
    """Whether the process sees another file tree than the scanner (rootlesskit's copy-ups;
    over SSH, than the SFTP server)."""
    try:
        return access.readlink(f"/proc/{pid}/ns/mnt") != access.readlink("/proc/self/ns/mnt")
    except OSError:
        return False


def read_config(
    path: str, via: str | None = None, access: Access = LOCAL
) -> tuple[dict[str, Any] | None, str | None, float | None]:
    """daemon.json parsed (None when absent), an error naming the file and line, its mtime.

    ``via`` is the name to open when it differs from ``path`` (the file as another mount
    namespace sees it); errors name ``path``.
    """
    parsed, error, mtime, _digest = read_config_digest(path, via, access)
    return parsed, error, mtime


def read_config_digest(
    path: str, via: str | None = None, access: Access = LOCAL
) -> tuple[dict[str, Any] | None, str | None, float | None, str | None]:
    """:func:`read_config` and the sha256 of the bytes read (None when nothing was read)."""
    try:
        # never blocks: a FIFO or a device named as the config file is refused once open
        raw, st = access.read_file(via or path, MAX_CONFIG)
    except FileNotFoundError:
        return None, None, None, None
    except NotRegularFileError:
        return None, f"{path}: not a regular file", None, None
    except TooLargeError:
        return None, f"{path}: larger than {MAX_CONFIG} bytes", None, None
    except OSError as e:
        return None, f"{path}: {e.strerror}", None, None
    digest = hashlib.sha256(raw).hexdigest()
    parsed, error, mtime = _parse_config(path, raw, st.mtime)
    return parsed, error, mtime, digest


def _parse_config(
    path: str, raw: bytes, mtime: float
) -> tuple[dict[str, Any] | None, str | None, float | None]:
    """daemon.json's bytes parsed; an error naming the file (and line) instead."""
    if not raw.strip():
        return {}, None, mtime
    try:
        parsed = jsonsafe.loads(raw)
    except json.JSONDecodeError as e:
        return None, f"{path}:{e.lineno}: invalid JSON: {e.msg}", mtime
    except jsonsafe.JSONBoundError as e:
        return None, f"{path}: {e}", mtime
    except UnicodeDecodeError:
        return None, f"{path}: not UTF-8 text", mtime
    if not isinstance(parsed, dict):
        return None, f"{path}: not a JSON object", mtime
    return parsed, None, mtime


def local_daemon(socket: str | None, access: Access = LOCAL) -> dict[str, Any] | None:
    """The dockerd's process, flags and configuration file (of this machine, or of the one
    ``access`` reaches); None if none runs."""
    process = find_daemon(socket, access)
    if process is None:
        return None
    if process["program"] != "dockerd":
        return {"process": process}
    flags = parse_args(process["argv"])
    path = config_path(process, flags, access)
    pid = int(process["pid"])
    # the path as dockerd sees it: through its root when its mount namespace is not ours
    own = path.startswith("/") and _in_own_mount_namespace(pid, access)
    via = f"/proc/{pid}/root{path}" if own else None
    config, error, mtime, digest = read_config_digest(path, via, access)
    started = process.get("started")
    return {
        "process": process,
        "flags": flags,
        "rootless": _rootless(process, flags, access),
        "defaults": defaults_for(process, flags, access),
        "cmdline": f"/proc/{pid}/cmdline",
        "config_file": path,
        "config_read_via": via,
        "config_sha256": digest,
        "daemon_json": config,
        "daemon_json_error": error,
        "daemon_json_changed_since_start": bool(mtime and started and mtime > started + 1),
    }


TLS_DEFAULTS = {"tlscacert": "ca.pem", "tlscert": "cert.pem", "tlskey": "key.pem"}


def tls_paths(config: Mapping[str, Any], home: str = "/root") -> dict[str, str]:
    """The TLS files dockerd reads: the configured paths, or ~/.docker's when TLS is on."""
    paths: dict[str, str] = {}
    tls_on = bool(config.get("tls") or config.get("tlsverify"))
    for key, default in TLS_DEFAULTS.items():
        value = config.get(key)
        if isinstance(value, str) and value.startswith("/"):
            paths[key] = value
        elif tls_on:
            paths[key] = f"{home}/.docker/{default}"
    return paths
