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
import pwd
import re
import socket as sockets
import struct
from collections.abc import Iterable, Mapping
from typing import Any

from assessor import jsonsafe
from assessor.regularfile import NotRegularFileError, TooLargeError, read_regular

MAX_CONFIG = 1 << 20

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


def _unix_socket_inodes(path: str, pid: int | str = "self") -> set[str]:
    """The inodes of the unix sockets bound to ``path`` in ``pid``'s network namespace.

    /proc/PID/net/unix lists the sockets of that process's network namespace only: a
    daemon in a namespace of its own (rootless dockerd under rootlesskit, a dockerd run with
    nsenter) is found through its own table, not the scanner's.
    """
    inodes: set[str] = set()
    try:
        with open(f"/proc/{pid}/net/unix") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 8 and parts[7] == path:
                    inodes.add(parts[6])
    except OSError:
        pass
    return inodes


def _holds_socket(pid: int, inodes: set[str]) -> bool:
    wanted = {f"socket:[{i}]" for i in inodes}
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


def _serves(pid: int, socket: str) -> bool:
    """Whether process ``pid`` holds a socket bound to ``socket`` (in its network namespace)."""
    inodes = _unix_socket_inodes(socket, pid)
    return bool(inodes) and _holds_socket(pid, inodes)


def _argv(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode("utf-8", "replace") for a in f.read(1 << 16).split(b"\0") if a]
    except OSError:
        return None


def _comm(pid: int) -> bytes:
    """The process's name as the kernel keeps it (bytes: a name need not be UTF-8)."""
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


def _pids() -> list[int]:
    try:
        return sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    except OSError:
        return []


def processes(names: Iterable[str]) -> list[tuple[int, str]]:
    """(pid, name) of every process named one of ``names``, by pid."""
    wanted = {name.encode(): name for name in names}
    return [(pid, wanted[comm]) for pid in _pids() if (comm := _comm(pid)) in wanted]


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


def find_daemon(socket: str | None = None) -> dict[str, Any] | None:
    """The process serving ``socket`` (or the local dockerd): pid, program, argv, user.

    The socket's owner is found exactly: the engine listening on it, asked of the socket, else
    through the socket inodes a process holds; without either (no permission to connect to it
    nor to read other processes' descriptors), a single dockerd whose ``-H`` list names the
    socket (or the default socket) is taken.
    """
    listener = _listener(socket) if socket else None
    engines = [listener] if listener else processes(ENGINES)
    if not engines:
        return None
    chosen: tuple[int, str] | None = None
    if socket:
        chosen = listener or next((e for e in engines if _serves(e[0], socket)), None)
        if chosen is None:
            dockerds = [e for e in engines if e[1] == "dockerd"]
            for pid, comm in dockerds:
                hosts = parse_args(_argv(pid) or []).get("hosts") or []
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
    argv = _argv(pid)
    if argv is None:
        return None
    uid = None
    with contextlib.suppress(OSError):
        uid = os.stat(f"/proc/{pid}").st_uid
    return {"pid": pid, "program": comm, "argv": argv, "uid": uid, "started": _started(pid)}


def _started(pid: int) -> float | None:
    """The process's start time (seconds since the epoch)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        with open("/proc/stat") as f:
            btime = next(int(line.split()[1]) for line in f if line.startswith("btime "))
        return btime + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, IndexError, ValueError):
        return None


def _environ_value(pid: int, name: str) -> str | None:
    """One variable of a process's environment (only HOME and XDG_CONFIG_HOME are asked)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            for item in f.read(1 << 16).split(b"\0"):
                key, _, value = item.partition(b"=")
                if key.decode("utf-8", "replace") == name:
                    return value.decode("utf-8", "replace")
    except OSError:
        pass
    return None


def _rootless(process: Mapping[str, Any], flags: Mapping[str, Any]) -> bool:
    """Whether dockerd runs in rootless mode, as dockerd itself decides it.

    dockerd honours the XDG folders when it runs under RootlessKit (ROOTLESSKIT_STATE_DIR
    in its environment, Docker Engine 20.10+) or with --rootless; a dockerd that is not
    root is rootless whatever its environment says.
    """
    if flags.get("rootless") or process.get("uid") not in (0, None):
        return True
    pid = process.get("pid")
    return bool(pid and _environ_value(int(pid), "ROOTLESSKIT_STATE_DIR"))


def _xdg_home(process: Mapping[str, Any], variable: str, fallback: str) -> str | None:
    """$variable of the process, else $HOME/fallback (dockerd's homedir.Get*Home); when its
    environment cannot be read, the home folder of the user it runs as (/etc/passwd)."""
    pid = int(process["pid"])
    base = _environ_value(pid, variable)
    if base:
        return base
    home = _environ_value(pid, "HOME")
    if not home and not os.access(f"/proc/{pid}/environ", os.R_OK):
        with contextlib.suppress(KeyError, TypeError, ValueError):
            home = pwd.getpwuid(int(process["uid"])).pw_dir
    return f"{home}/{fallback}" if home else None


def config_path(process: Mapping[str, Any], flags: Mapping[str, Any]) -> str:
    """The daemon.json dockerd reads: --config-file, else the rootless or system default.

    A rootless dockerd reads $XDG_CONFIG_HOME/docker/daemon.json (~/.config/docker/... when
    XDG_CONFIG_HOME is unset) of the user it runs as, taken from its own environment.
    """
    if "config-file" in flags:
        return str(flags["config-file"])
    if _rootless(process, flags):
        base = _xdg_home(process, "XDG_CONFIG_HOME", ".config")
        if base:
            return f"{base}/docker/daemon.json"
    return "/etc/docker/daemon.json"


def defaults_for(process: Mapping[str, Any], flags: Mapping[str, Any]) -> dict[str, Any]:
    """dockerd's built-in defaults for this process: a rootless dockerd's data root is
    $XDG_DATA_HOME/docker (~/.local/share/docker), and it is rootless by default."""
    defaults = dict(DEFAULTS)
    if _rootless(process, flags):
        defaults["rootless"] = True
        data = _xdg_home(process, "XDG_DATA_HOME", ".local/share")
        if data:
            defaults["data-root"] = f"{data}/docker"
        else:
            del defaults["data-root"]  # unknown: never guessed
    return defaults


def _in_own_mount_namespace(pid: int) -> bool:
    """Whether the process sees another file tree than the scanner (rootlesskit's copy-ups)."""
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
    except OSError:
        return False


def read_config(
    path: str, via: str | None = None
) -> tuple[dict[str, Any] | None, str | None, float | None]:
    """daemon.json parsed (None when absent), an error naming the file and line, its mtime.

    ``via`` is the name to open when it differs from ``path`` (the file as another mount
    namespace sees it); errors name ``path``.
    """
    parsed, error, mtime, _digest = read_config_digest(path, via)
    return parsed, error, mtime


def read_config_digest(
    path: str, via: str | None = None
) -> tuple[dict[str, Any] | None, str | None, float | None, str | None]:
    """:func:`read_config` and the sha256 of the bytes read (None when nothing was read)."""
    try:
        # never blocks: a FIFO or a device named as the config file is refused once open
        raw, st = read_regular(via or path, MAX_CONFIG)
    except FileNotFoundError:
        return None, None, None, None
    except NotRegularFileError:
        return None, f"{path}: not a regular file", None, None
    except TooLargeError:
        return None, f"{path}: larger than {MAX_CONFIG} bytes", None, None
    except OSError as e:
        return None, f"{path}: {e.strerror}", None, None
    digest = hashlib.sha256(raw).hexdigest()
    parsed, error, mtime = _parse_config(path, raw, st.st_mtime)
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


def local_daemon(socket: str | None) -> dict[str, Any] | None:
    """The local dockerd's process, flags and configuration file; None if none runs."""
    process = find_daemon(socket)
    if process is None:
        return None
    if process["program"] != "dockerd":
        return {"process": process}
    flags = parse_args(process["argv"])
    path = config_path(process, flags)
    pid = int(process["pid"])
    # the path as dockerd sees it: through its root when its mount namespace is not ours
    via = (
        f"/proc/{pid}/root{path}" if path.startswith("/") and _in_own_mount_namespace(pid) else None
    )
    config, error, mtime, digest = read_config_digest(path, via)
    started = process.get("started")
    return {
        "process": process,
        "flags": flags,
        "rootless": _rootless(process, flags),
        "defaults": defaults_for(process, flags),
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
