"""Python evaluators of containers and engines, for checks a condition tree cannot hold.

A rule names one with ``check: {function: NAME, args: {...}}``; the table of every function
by name is ``assessor.extensions.FUNCTIONS`` (this module's, and those of assessor.evaluate's
host, image, openscap and registry modules). Each takes the evidence document's ``data`` and
the rule's ``args`` and returns an Outcome; it raises EvaluationError when the evidence it
needs is absent. No inline code ever comes from YAML.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from assessor.errors import EvaluationError
from assessor.vocab import Status


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Status  # one of vocab.STORED_STATUSES
    message: str
    # the severity of this one result, when the evidence carries its own (an imported OpenSCAP
    # rule's); None: the rule's
    severity: str | None = None


Evaluator = Callable[[Any, Mapping[str, Any]], Outcome]


def _mounts(data: Any) -> list[dict[str, Any]]:
    mounts = data.get("Mounts") if isinstance(data, dict) else None
    if mounts is None:
        raise EvaluationError("evidence 'Mounts' is absent")
    return [m for m in mounts if isinstance(m, dict)]


def _norm(path: str) -> str:
    path = "/" + path.strip("/")
    while "//" in path:
        path = path.replace("//", "/")
    return path


# CIS 5.6 description: "sensitive host system directories such as those listed below ... /
# /boot /dev /etc /lib /lib64 /proc /sys /usr". "Such as": /bin and /sbin (the same binaries
# where /usr is not merged) and the engine's own state give the same power, so they count too.
CIS_SENSITIVE_PATHS = ("/", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/sys", "/usr")
SENSITIVE_HOST_PATHS = (
    *CIS_SENSITIVE_PATHS,
    "/bin",
    "/sbin",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/run/containerd",
    "/root",
)


def _resolved_sources(data: Any) -> tuple[dict[str, str], str]:
    """The collector's real path of each bind source, and a note on how sources were read."""
    observed = data.get("Assessor") if isinstance(data, dict) else None
    sources = observed.get("MountSources") if isinstance(observed, dict) else None
    if not isinstance(sources, dict):
        raise EvaluationError("evidence 'Assessor.MountSources' is absent")
    if not sources.get("resolved"):
        reason = sources.get("reason") or "not resolved"
        return {}, f"sources as the engine names them ({reason})"
    paths = sources.get("paths")
    resolved = {str(k): _norm(str(v)) for k, v in (paths or {}).items() if v}
    return resolved, "sources resolved on the engine's host"


def _under(path: str, directory: str) -> bool:
    """``path`` is ``directory`` or lies below it (``/`` only matches itself)."""
    return path == directory or (directory != "/" and path.startswith(directory + "/"))


def container_sensitive_mounts(data: Any, args: Mapping[str, Any]) -> Outcome:
    """Fail when a bind mount's host source is a sensitive directory or lies below one (CIS 5.6).

    The source is matched as the engine names it and as the collector resolved it on the
    engine's host (symlinks followed: /lib64 -> /usr/lib64 on a merged-/usr host, a link to
    /etc anywhere). ``args.paths`` replaces the default list. Read-write mounts come first:
    the benchmark calls them the worse case.
    """
    paths = [_norm(p) for p in args.get("paths", SENSITIVE_HOST_PATHS)]
    resolved, how = _resolved_sources(data)
    found: list[tuple[bool, str]] = []
    for m in _mounts(data):
        if m.get("Type") != "bind":
            continue
        given = str(m.get("Source", ""))
        src = _norm(given)
        real = resolved.get(given, src)
        match = next((p for p in paths if _under(src, p)), None)
        via = ""
        if match is None:
            match = next((p for p in paths if _under(real, p)), None)
            via = f"resolves to {real}, "
        if match is None:
            continue
        rw = bool(m.get("RW", True))
        where = "is" if (real if via else src) == match else "below"
        found.append(
            (
                rw,
                f"{src} -> {m.get('Destination')} ({'rw' if rw else 'ro'}; {via}{where} {match})",
            )
        )
    if found:
        found.sort(key=lambda f: not f[0])
        writable = sum(1 for rw, _ in found if rw)
        return Outcome(
            Status.FAIL,
            f"sensitive host paths mounted ({writable} read-write, {len(found) - writable} "
            f"read-only; {how}): " + ", ".join(text for _, text in found),
        )
    return Outcome(Status.PASS, f"no sensitive host path is mounted ({how})")


def _daemon_sockets(data: Any) -> tuple[list[str], str]:
    observed = data.get("Assessor") if isinstance(data, dict) else None
    sockets = observed.get("DaemonSockets") if isinstance(observed, dict) else None
    if not isinstance(sockets, dict) or not isinstance(sockets.get("paths"), list):
        raise EvaluationError("evidence 'Assessor.DaemonSockets' is absent")
    paths = [_norm(str(p)) for p in sockets["paths"]]
    return paths, "the daemon's sockets: " + ", ".join(paths)


def container_docker_socket_mounted(data: Any, args: Mapping[str, Any]) -> Outcome:
    """Fail when a bind mount gives the container the daemon's socket (CIS 5.32).

    CIS 5.32 audit: ``docker inspect ... | grep docker.sock``: any mount whose source names a
    docker.sock file. Besides, any mount of a socket the daemon serves (its ``-H``/``hosts``,
    as the collector read them), or of a folder holding one (``-v /var/run:/host/run``),
    by the path the engine names or its resolved path on the engine's host.
    """
    resolved, how = _resolved_sources(data)
    sockets, named = _daemon_sockets(data)
    found: list[str] = []
    for m in _mounts(data):
        if m.get("Type") != "bind":
            continue
        given = str(m.get("Source", ""))
        candidates = [_norm(given), resolved.get(given, _norm(given))]
        why = ""
        sock = next((s for c in candidates for s in sockets if c == s), None)
        held = next(
            (s for c in candidates for s in sockets if c == "/" or s.startswith(c + "/")),
            None,
        )
        if sock:
            why = f"the daemon's socket {sock}"
        elif held:
            why = f"a folder holding the daemon's socket {held}"
        elif any(c.rsplit("/", 1)[-1] == "docker.sock" for c in candidates):
            why = "a file named docker.sock (CIS 5.32 audit)"
        if why:
            found.append(f"{_norm(given)} -> {m.get('Destination')} ({why})")
    if found:
        return Outcome(Status.FAIL, "Docker socket mounted: " + "; ".join(found))
    return Outcome(Status.PASS, f"no mount gives the Docker socket (checked {named}; {how})")


def _observed(data: Any, key: str) -> Any:
    observed = data.get("Assessor") if isinstance(data, dict) else None
    return observed.get(key) if isinstance(observed, dict) else None


_ALL_INTERFACES = ("", "0.0.0.0", "::")  # noqa: S104 - the values we look for


def _port_bindings(data: Any) -> tuple[dict[str, Any], str]:
    """What is bound: NetworkSettings.Ports of a running container (what dockerd bound, ``-P``
    included); a stopped one's requested HostConfig.PortBindings, plus its exposed ports when
    it publishes all (``-P``: each on every interface, a host port chosen at start)."""
    if not isinstance(data, dict):
        raise EvaluationError("evidence is not a container inspect document")
    host_config = data.get("HostConfig")
    if not isinstance(host_config, dict) or "PortBindings" not in host_config:
        raise EvaluationError("evidence 'HostConfig.PortBindings' is absent")
    if "PublishAllPorts" not in host_config:
        raise EvaluationError("evidence 'HostConfig.PublishAllPorts' is absent")
    state = data.get("State")
    if not isinstance(state, dict) or "Running" not in state:
        raise EvaluationError("evidence 'State.Running' is absent")
    network = data.get("NetworkSettings")
    if not isinstance(network, dict) or "Ports" not in network:
        raise EvaluationError("evidence 'NetworkSettings.Ports' is absent")
    if state.get("Running"):
        return dict(network.get("Ports") or {}), "bound, NetworkSettings.Ports"
    bindings = dict(host_config.get("PortBindings") or {})
    if host_config.get("PublishAllPorts"):
        exposed = (data.get("Config") or {}).get("ExposedPorts") or {}
        for port in exposed:
            bindings.setdefault(str(port), [{"HostIp": "", "HostPort": ""}])
    source = "requested, HostConfig.PortBindings: the container is not running"
    # an empty HostIp is bound where the container's network says (the daemon's --ip on the
    # default bridge); without that evidence it stays "every interface", dockerd's default
    default = _observed(data, "DefaultBindIP")
    address = str(default.get("address") or "") if isinstance(default, dict) else ""
    if address and address not in _ALL_INTERFACES:
        bindings = {
            port: [
                {**b, "HostIp": address} if isinstance(b, dict) and not b.get("HostIp") else b
                for b in binds or []
            ]
            for port, binds in bindings.items()
        }
        source += f"; no HostIp binds {address} ({default.get('from')})"
    return bindings, source


def container_ports_on_all_interfaces(data: Any, args: Mapping[str, Any]) -> Outcome:
    """Fail when a published port is bound to every host interface (0.0.0.0, :: or empty).

    CIS 5.14 audit reads ``.NetworkSettings.Ports``: what is bound, which ``-P`` fills without
    any requested binding; a stopped container has only its requested bindings."""
    bindings, source = _port_bindings(data)
    wide: list[str] = []
    bound: list[str] = []
    for container_port, binds in sorted(bindings.items()):
        for b in binds or []:
            ip = str((b or {}).get("HostIp") or "")
            host_port = str((b or {}).get("HostPort") or "") or "(chosen at start)"
            if ip in _ALL_INTERFACES:
                wide.append(f"{ip or '0.0.0.0'}:{host_port}->{container_port}")  # noqa: S104
            else:
                bound.append(f"{ip}:{host_port}->{container_port}")
    if wide:
        return Outcome(
            Status.FAIL, f"ports bound to all host interfaces ({source}): " + ", ".join(wide)
        )
    if not bound:
        return Outcome(Status.PASS, f"no published ports ({source})")
    return Outcome(
        Status.PASS, f"every published port is bound to one address ({source}): " + ", ".join(bound)
    )


def container_mount_propagation_shared(data: Any, args: Mapping[str, Any]) -> Outcome:
    """Fail when a mount propagates to the host: ``shared`` or ``rshared``."""
    shared = [
        f"{m.get('Source') or m.get('Name')} -> {m.get('Destination')} ({m.get('Propagation')})"
        for m in _mounts(data)
        if str(m.get("Propagation", "")).lower() in ("shared", "rshared")
    ]
    if shared:
        return Outcome(Status.FAIL, "mounts with shared propagation: " + ", ".join(shared))
    return Outcome(Status.PASS, "no mount uses shared propagation")


def container_privileged_ports_mapped(data: Any, args: Mapping[str, Any]) -> Outcome:
    """Fail when a published host port is below 1024 (``args.below`` changes the bound); the
    ports bound to a running container, the requested ones of a stopped one."""
    below = int(args.get("below", 1024))
    bindings, source = _port_bindings(data)
    low: list[str] = []
    for container_port, binds in sorted(bindings.items()):
        for b in binds or []:
            port = str((b or {}).get("HostPort", "")).split("-")[0]
            if port.isdigit() and 0 < int(port) < below:
                ip = (b or {}).get("HostIp") or "0.0.0.0"  # noqa: S104 - docker's "all"
                low.append(f"{ip}:{port}->{container_port}")
    if low:
        return Outcome(
            Status.FAIL, f"host ports below {below} mapped ({source}): " + ", ".join(low)
        )
    return Outcome(Status.PASS, f"no host port below {below} is mapped ({source})")


def _is_root(user: str) -> bool:
    """A Docker ``--user`` value (``name|uid[:group|gid]``) that runs as root: empty, ``root``
    or uid 0 (``0``, ``00``, ``0:0``); the group does not make a user root."""
    name = user.split(":", 1)[0].strip()
    return name in ("", "root") or (name.isdigit() and int(name) == 0)


def container_execs(data: Any, args: Mapping[str, Any]) -> Outcome:
    """Fail when an exec session the engine still knows ran privileged (``privileged: true``)
    or as root (``root: true``). Not applicable when the engine remembers none."""
    observed = data.get("Assessor") if isinstance(data, dict) else None
    if not isinstance(observed, dict) or "Execs" not in observed:
        raise EvaluationError("evidence 'Assessor.Execs' is absent")
    sessions = [e for e in observed.get("Execs") or [] if isinstance(e, dict)]
    # a HEALTHCHECK probe is dockerd's own exec, with the container's user and no privilege
    execs = [e for e in sessions if not e.get("HealthCheck")]
    probes = len(sessions) - len(execs)
    aside = f" ({probes} health-check probe(s) set aside)" if probes else ""
    if not execs:
        return Outcome(
            Status.NOT_APPLICABLE, f"the engine holds no exec session for this container{aside}"
        )
    config = data.get("Config")
    if not isinstance(config, dict) or "User" not in config:
        raise EvaluationError("evidence 'Config.User' is absent (the user an exec defaults to)")
    container_user = str(config.get("User") or "")
    bad = []
    for e in execs:
        # CIS 5.24: an exec without --user runs as the container's user (Config.User, which
        # holds the image's USER unless the run overrode it); both empty is root
        user = str(e.get("User") or "")
        if user:
            who = user
        elif container_user:
            who = f"{container_user} (no --user: the container's user)"
        else:
            who = "root (no --user, and the container sets no user)"
        if args.get("privileged") and e.get("Privileged"):
            bad.append(f"exec {e.get('ID')} ({e.get('Program')}) ran --privileged")
        if args.get("root") and _is_root(user or container_user):
            bad.append(f"exec {e.get('ID')} ({e.get('Program')}) ran as {who}")
    if bad:
        return Outcome(Status.FAIL, "; ".join(bad))
    users = sorted({str(e.get("User") or "") or f"{container_user} (default)" for e in execs})
    return Outcome(
        Status.PASS, f"{len(execs)} exec session(s), none as flagged, as {', '.join(users)}{aside}"
    )


_TRUE = ("1", "t", "T", "TRUE", "true", "True")  # Go's strconv.ParseBool, which dockerd uses
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def container_no_new_privileges(data: Any, args: Mapping[str, Any]) -> Outcome:
    """The container runs with no_new_privs: its own ``--security-opt no-new-privileges[=B]``
    when it sets one (the last one wins, as dockerd parses them), else the daemon's
    ``no-new-privileges`` (CIS 2.15), which dockerd gives every container that does not opt
    out. CIS 5.26 audit notes SecurityOpt stays empty when daemon.json sets it."""
    host_config = data.get("HostConfig") if isinstance(data, dict) else None
    if not isinstance(host_config, dict) or "SecurityOpt" not in host_config:
        raise EvaluationError("evidence 'HostConfig.SecurityOpt' is absent")
    daemon = _observed(data, "DaemonNoNewPrivileges")
    if not isinstance(daemon, dict):
        raise EvaluationError("evidence 'Assessor.DaemonNoNewPrivileges' is absent")
    own: bool | None = None
    said = ""
    for opt in host_config.get("SecurityOpt") or []:
        text = str(opt)
        if text == "no-new-privileges":
            own, said = True, text
            continue
        key, sep, value = text.replace(":", "=", 1).partition("=")
        if key == "no-new-privileges" and sep:
            if value in _TRUE:
                own, said = True, text
            elif value in _FALSE:
                own, said = False, text
            else:
                raise EvaluationError(f"SecurityOpt {text!r}: dockerd would refuse this value")
    if own is not None:
        state = "restricted" if own else "may acquire new privileges"
        return Outcome(
            Status.PASS if own else Status.FAIL,
            f"{state}: the container's own SecurityOpt {said!r} (overrides the daemon's default)",
        )
    default, origin = daemon.get("value"), daemon.get("origin") or "not observed"
    if default is True:
        return Outcome(
            Status.PASS,
            f"restricted by the daemon's default (CIS 2.15: no-new-privileges true, from "
            f"{origin}); the container does not opt out",
        )
    if default is False:
        return Outcome(
            Status.FAIL,
            f"may acquire new privileges: no no-new-privileges in SecurityOpt, and the daemon's "
            f"default is false (from {origin})",
        )
    return Outcome(
        Status.FAIL,
        "no no-new-privileges in SecurityOpt, and the daemon's default could not be read "
        "(not a local dockerd): CIS 5.26 audit requires it in SecurityOpt",
    )


# added capabilities that administer the kernel, its network stack or other processes
DANGEROUS_CAPABILITIES = (
    "ALL", "SYS_ADMIN", "SYS_MODULE", "SYS_RAWIO", "SYS_PTRACE", "SYS_BOOT", "SYS_TIME",
    "NET_ADMIN", "DAC_READ_SEARCH", "MAC_ADMIN", "MAC_OVERRIDE", "BPF", "PERFMON", "SYSLOG",
    "LINUX_IMMUTABLE",
)  # fmt: skip


def _caps(value: Any) -> list[str]:
    items = value if isinstance(value, list) else []
    return [str(c).upper().removeprefix("CAP_") for c in items]


def container_capabilities(data: Any, args: Mapping[str, Any]) -> Outcome:
    """CIS 5.4 audit: "Verify that the added and deleted Linux kernel capabilities are in line
    with the ones needed ... Specifically, ensure that the NET_RAW capability is removed if not
    required." Fails on a dangerous added capability and on NET_RAW kept (Docker's default set
    has it: removed only by ``--cap-drop NET_RAW`` or ``ALL`` without adding it back); whether
    the remaining ones are needed is the reviewer's judgement, which the message says."""
    host_config = data.get("HostConfig") if isinstance(data, dict) else None
    if not isinstance(host_config, dict) or "CapAdd" not in host_config:
        raise EvaluationError("evidence 'HostConfig.CapAdd' is absent")
    if "CapDrop" not in host_config:
        raise EvaluationError("evidence 'HostConfig.CapDrop' is absent")
    added, dropped = _caps(host_config.get("CapAdd")), _caps(host_config.get("CapDrop"))
    problems = []
    dangerous = [c for c in added if c in DANGEROUS_CAPABILITIES]
    if dangerous:
        problems.append("adds dangerous capabilities: " + ", ".join(dangerous))
    if host_config.get("Privileged"):
        problems.append("runs --privileged (every capability, NET_RAW included)")
    elif "NET_RAW" in added or "ALL" in added:
        problems.append("adds NET_RAW back")
    elif "NET_RAW" not in dropped and "ALL" not in dropped:
        problems.append("keeps NET_RAW (in Docker's default set; not in CapDrop)")
    shown = f"CapAdd={added or 'none'} CapDrop={dropped or 'none'}"
    if problems:
        return Outcome(
            Status.FAIL,
            "; ".join(problems) + f" ({shown}); CIS 5.4: remove NET_RAW unless required "
            "(waive with the reason when it is)",
        )
    return Outcome(
        Status.PASS,
        f"no dangerous capability added and NET_RAW removed ({shown}); whether the remaining "
        "capabilities are needed is for the reviewer (CIS 5.4 audit)",
    )


def container_selinux(data: Any, args: Mapping[str, Any]) -> Outcome:
    """CIS 5.3 ("if applicable"): on a host with SELinux, dockerd must run with selinux-enabled
    and the container must have a label, not ``label=disable``. Not applicable where neither
    the host nor the engine has SELinux."""
    host_config = data.get("HostConfig") if isinstance(data, dict) else None
    if not isinstance(host_config, dict) or "SecurityOpt" not in host_config:
        raise EvaluationError("evidence 'HostConfig.SecurityOpt' is absent")
    engine = _observed(data, "EngineSecurity")
    if not isinstance(engine, list):
        raise EvaluationError("evidence 'Assessor.EngineSecurity' is absent")
    observed = data.get("Assessor")
    if not isinstance(observed, dict) or "HostSELinux" not in observed:
        raise EvaluationError("evidence 'Assessor.HostSELinux' is absent")
    host = observed["HostSELinux"]
    if "ProcessLabel" not in data:
        raise EvaluationError("evidence 'ProcessLabel' is absent")
    if "selinux" not in [str(e) for e in engine]:
        if host is True:
            return Outcome(
                Status.FAIL,
                "the host has SELinux enabled (/sys/fs/selinux/enforce) but dockerd runs "
                "without selinux-enabled (info.SecurityOptions has no selinux): containers get "
                "no SELinux label",
            )
        if host is False:
            return Outcome(
                Status.NOT_APPLICABLE,
                "neither the host (no /sys/fs/selinux) nor dockerd uses SELinux",
            )
        return Outcome(
            Status.NOT_APPLICABLE,
            "dockerd does not run with SELinux; whether its host has SELinux was not observed "
            "(the engine is not local)",
        )
    options = [str(o) for o in host_config.get("SecurityOpt") or []]
    disabled = [o for o in options if o.replace(":", "=", 1) == "label=disable"]
    if disabled:
        return Outcome(
            Status.FAIL, f"SELinux labelling disabled for this container ({disabled[0]})"
        )
    label = str(data.get("ProcessLabel") or "")
    labels = [o for o in options if o.replace(":", "=", 1).startswith("label=")]
    if not label and not labels:
        return Outcome(
            Status.FAIL, "dockerd runs with SELinux but the container has no SELinux label"
        )
    return Outcome(
        Status.PASS, "SELinux label: " + ", ".join([*([label] if label else []), *labels])
    )


def engine_overlay_networks_encrypted(data: Any, args: Mapping[str, Any]) -> Outcome:
    """Every overlay network sets the ``encrypted`` option."""
    networks = data.get("networks") if isinstance(data, dict) else None
    if not isinstance(networks, list):
        raise EvaluationError("evidence 'networks' is absent")
    overlay = [n for n in networks if isinstance(n, dict) and n.get("Driver") == "overlay"]
    if not overlay:
        return Outcome(Status.NOT_APPLICABLE, "the engine has no overlay network")
    plain = [str(n.get("Name")) for n in overlay if "encrypted" not in (n.get("Options") or {})]
    if plain:
        return Outcome(Status.FAIL, "overlay networks not encrypted: " + ", ".join(plain))
    return Outcome(
        Status.PASS,
        "every overlay network is encrypted: " + ", ".join(str(n.get("Name")) for n in overlay),
    )


def host_port_bound_to_interface(data: Any, args: Mapping[str, Any]) -> Outcome:
    """Listeners on the given ports must not bind every interface (0.0.0.0, ::).

    ``args.ports`` lists ``{port, protocol}`` (tcp or udp); ``args.port`` is one tcp port.
    CIS Docker Benchmark v1.8.0 7.2 audits ``ss -lp | grep -iE ':2377|:7946'``: the swarm
    manager's port (2377/tcp) and the node-to-node gossip port (7946, tcp and udp), which
    worker nodes open too. Not applicable when none of the ports is open.
    """
    listening = data.get("listening") if isinstance(data, dict) else None
    if listening is None:
        raise EvaluationError("evidence 'listening' is absent (only a live host shows it)")
    wanted = [
        (int(p["port"]), str(p.get("protocol", "tcp")).lower())
        for p in args.get("ports") or [{"port": args["port"]}]
    ]
    names = ", ".join(f"{port}/{proto}" for port, proto in wanted)
    found = [
        s
        for s in listening
        if isinstance(s, dict)
        # the collector lists tcp sockets without a protocol field in older evidence
        and (s.get("port"), str(s.get("protocol", "tcp"))) in wanted
    ]
    if not found:
        return Outcome(Status.NOT_APPLICABLE, f"nothing listens on {names}")
    sockets = [f"{s.get('address')}:{s['port']}/{s.get('protocol', 'tcp')}" for s in found]
    wide = [
        sock
        for s, sock in zip(found, sockets, strict=True)
        if s.get("address") in ("0.0.0.0", "::")  # noqa: S104
    ]
    if wide:
        return Outcome(Status.FAIL, f"listening on every interface: {', '.join(wide)}")
    return Outcome(Status.PASS, f"bound to specific addresses: {', '.join(sockets)}")


def engine_container_sprawl(data: Any, args: Mapping[str, Any]) -> Outcome:
    """CIS Docker Benchmark v1.8.0 6.2: compare the stopped and the running containers.

    The benchmark sets no threshold (its audit compares ``docker info``'s container count
    with ``docker ps -q | wc -l``); both numbers are reported, and the result fails only
    when more than ``args.max_stopped`` containers are stopped (the organisation's
    threshold; the rule documents its default and how to change it).
    """
    counts = data.get("containers") if isinstance(data, dict) else None
    if not isinstance(counts, dict) or not all(
        isinstance(counts.get(k), int) for k in ("total", "running", "stopped")
    ):
        raise EvaluationError("evidence 'containers' (total, running, stopped) is absent")
    limit = int(args["max_stopped"])
    total, running, stopped = counts["total"], counts["running"], counts["stopped"]
    numbers = f"{stopped} stopped and {running} running of {total} containers"
    if stopped > limit:
        return Outcome(Status.FAIL, f"{numbers}: more stopped than the threshold of {limit}")
    return Outcome(Status.PASS, f"{numbers} (threshold: more than {limit} stopped)")
