"""Registered Python evaluators, for checks a condition tree cannot hold.

A rule names one with ``check: {function: NAME, args: {...}}``. Each takes the evidence
document's ``data`` and the rule's ``args`` and returns an Outcome; it raises
EvaluationError when the evidence it needs is absent. No inline code ever comes from YAML.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from assessor.errors import EvaluationError


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # pass | fail | not_applicable | error | manual
    message: str
    # the severity of this one result, when the evidence carries its own (an imported OpenSCAP
    # rule's); None: the rule's
    severity: str | None = None


Evaluator = Callable[[Any, Mapping[str, Any]], Outcome]
FUNCTIONS: dict[str, Evaluator] = {}


def register(name: str) -> Callable[[Evaluator], Evaluator]:
    def wrap(fn: Evaluator) -> Evaluator:
        FUNCTIONS[name] = fn
        return fn

    return wrap


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


# Host directories CIS 5.6 names, plus the ones that give the same power.
SENSITIVE_HOST_PATHS = (
    "/",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/proc",
    "/sys",
    "/usr",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/run/containerd",
    "/root",
)


@register("container_sensitive_mounts")
def container_sensitive_mounts(data: Any, args: Mapping[str, Any]) -> Outcome:
    """Fail when a bind mount's host source is a sensitive directory or inside one.

    ``args.paths`` replaces the default list; ``/`` only matches itself (not everything),
    the others match themselves and any path below them.
    """
    paths = [_norm(p) for p in args.get("paths", SENSITIVE_HOST_PATHS)]
    found: list[str] = []
    for m in _mounts(data):
        if m.get("Type") != "bind":
            continue
        src = _norm(str(m.get("Source", "")))
        for p in paths:
            if src == p or (p != "/" and src.startswith(p + "/")):
                mode = "rw" if m.get("RW", True) else "ro"
                found.append(f"{src} -> {m.get('Destination')} ({mode})")
                break
    if found:
        return Outcome("fail", "sensitive host paths mounted: " + ", ".join(found))
    return Outcome("pass", "no sensitive host path is mounted")


DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock", "/var/run", "/run")


@register("container_docker_socket_mounted")
def container_docker_socket_mounted(data: Any, args: Mapping[str, Any]) -> Outcome:
    """Fail when the Docker socket (or the directory holding it) is mounted into the container."""
    sockets = [_norm(p) for p in args.get("paths", DOCKER_SOCKETS)]
    found = [
        f"{_norm(str(m.get('Source', '')))} -> {m.get('Destination')}"
        for m in _mounts(data)
        if m.get("Type") == "bind" and _norm(str(m.get("Source", ""))) in sockets
    ]
    if found:
        return Outcome("fail", "Docker socket mounted: " + ", ".join(found))
    return Outcome("pass", "the Docker socket is not mounted")


@register("container_ports_on_all_interfaces")
def container_ports_on_all_interfaces(data: Any, args: Mapping[str, Any]) -> Outcome:
    """Fail when a published port is bound to every host interface (0.0.0.0, :: or empty)."""
    host_config = data.get("HostConfig") if isinstance(data, dict) else None
    if not isinstance(host_config, dict) or "PortBindings" not in host_config:
        raise EvaluationError("evidence 'HostConfig.PortBindings' is absent")
    bindings = host_config.get("PortBindings") or {}
    wide: list[str] = []
    for container_port, binds in sorted(bindings.items()):
        for b in binds or []:
            ip = (b or {}).get("HostIp", "")
            if ip in ("", "0.0.0.0", "::"):  # noqa: S104 - the values we look for
                host_port = (b or {}).get("HostPort", "")
                wide.append(f"{ip or '0.0.0.0'}:{host_port}->{container_port}")  # noqa: S104
    if wide:
        return Outcome("fail", "ports bound to all host interfaces: " + ", ".join(wide))
    if not bindings:
        return Outcome("pass", "no published ports")
    return Outcome("pass", "every published port is bound to a specific interface")


@register("container_mount_propagation_shared")
def container_mount_propagation_shared(data: Any, args: Mapping[str, Any]) -> Outcome:
    """Fail when a mount propagates to the host: ``shared`` or ``rshared``."""
    shared = [
        f"{m.get('Source') or m.get('Name')} -> {m.get('Destination')} ({m.get('Propagation')})"
        for m in _mounts(data)
        if str(m.get("Propagation", "")).lower() in ("shared", "rshared")
    ]
    if shared:
        return Outcome("fail", "mounts with shared propagation: " + ", ".join(shared))
    return Outcome("pass", "no mount uses shared propagation")


@register("container_privileged_ports_mapped")
def container_privileged_ports_mapped(data: Any, args: Mapping[str, Any]) -> Outcome:
    """Fail when a published host port is below 1024 (``args.below`` changes the bound)."""
    below = int(args.get("below", 1024))
    host_config = data.get("HostConfig") if isinstance(data, dict) else None
    if not isinstance(host_config, dict) or "PortBindings" not in host_config:
        raise EvaluationError("evidence 'HostConfig.PortBindings' is absent")
    low: list[str] = []
    for container_port, binds in sorted((host_config.get("PortBindings") or {}).items()):
        for b in binds or []:
            port = str((b or {}).get("HostPort", "")).split("-")[0]
            if port.isdigit() and 0 < int(port) < below:
                ip = (b or {}).get("HostIp") or "0.0.0.0"  # noqa: S104 - docker's "all"
                low.append(f"{ip}:{port}->{container_port}")
    if low:
        return Outcome("fail", f"host ports below {below} mapped: " + ", ".join(low))
    return Outcome("pass", f"no host port below {below} is mapped")


@register("container_execs")
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
            "not_applicable", f"the engine holds no exec session for this container{aside}"
        )
    bad = []
    for e in execs:
        user = str(e.get("User") or "")
        if args.get("privileged") and e.get("Privileged"):
            bad.append(f"exec {e.get('ID')} ({e.get('Program')}) ran --privileged")
        if args.get("root") and user.split(":")[0] in ("", "root", "0"):
            who = user or "the image's default user (root unless the image sets USER)"
            bad.append(f"exec {e.get('ID')} ({e.get('Program')}) ran as {who}")
    if bad:
        return Outcome("fail", "; ".join(bad))
    return Outcome("pass", f"{len(execs)} exec session(s), none as flagged{aside}")


@register("engine_overlay_networks_encrypted")
def engine_overlay_networks_encrypted(data: Any, args: Mapping[str, Any]) -> Outcome:
    """Every overlay network sets the ``encrypted`` option."""
    networks = data.get("networks") if isinstance(data, dict) else None
    if not isinstance(networks, list):
        raise EvaluationError("evidence 'networks' is absent")
    overlay = [n for n in networks if isinstance(n, dict) and n.get("Driver") == "overlay"]
    if not overlay:
        return Outcome("not_applicable", "no overlay network")
    plain = [str(n.get("Name")) for n in overlay if "encrypted" not in (n.get("Options") or {})]
    if plain:
        return Outcome("fail", "overlay networks not encrypted: " + ", ".join(plain))
    return Outcome(
        "pass",
        "every overlay network is encrypted: " + ", ".join(str(n.get("Name")) for n in overlay),
    )


@register("host_port_bound_to_interface")
def host_port_bound_to_interface(data: Any, args: Mapping[str, Any]) -> Outcome:
    """A listener on ``port`` must not bind every interface (0.0.0.0 or ::)."""
    listening = data.get("listening") if isinstance(data, dict) else None
    if listening is None:
        raise EvaluationError("evidence 'listening' is absent (only a live host shows it)")
    port = int(args["port"])
    found = [s for s in listening if isinstance(s, dict) and s.get("port") == port]
    if not found:
        return Outcome("not_applicable", f"nothing listens on port {port}")
    wide = [str(s.get("address")) for s in found if s.get("address") in ("0.0.0.0", "::")]  # noqa: S104
    if wide:
        return Outcome("fail", f"port {port} listens on every interface ({', '.join(wide)})")
    return Outcome("pass", f"port {port} listens on " + ", ".join(str(s["address"]) for s in found))


# evaluators of other evidence kinds register themselves on import
from assessor.evaluate import host as _host  # noqa: E402, F401
from assessor.evaluate import image as _image  # noqa: E402, F401
from assessor.evaluate import openscap as _openscap  # noqa: E402, F401
from assessor.evaluate import registry as _registry  # noqa: E402, F401
