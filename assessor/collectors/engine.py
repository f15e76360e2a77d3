"""The engine collector: the Docker Engine API (info, version, every container's inspect).

When the engine is local (a unix socket), the dockerd process's command line and its
daemon.json are read too, and merged into ``daemon.effective``: the settings dockerd runs
with, under daemon.json's key names, whichever place set them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from assessor import jsonsafe
from assessor.collectors import _dockerd
from assessor.collectors.base import Collector, in_daemon_thread, read_live
from assessor.collectors.engine_api import TunnelClient, connection, engine_client
from assessor.collectors.image import EngineImages, engine_export, engine_images
from assessor.collectors.image.cache import ImageCache
from assessor.collectors.options import CollectOptions
from assessor.errors import CollectorError, TargetUnreachableError
from assessor.evidence import Evidence, Redactor
from assessor.targets import Target, ssh_endpoint

if TYPE_CHECKING:
    from assessor.collectors.options import CollectOptions

MAX_RESPONSE = 32 << 20  # one API answer
MAX_CONTAINERS = 20_000
MAX_LIST = 10_000  # networks, images, processes
MAX_EXECS = 100
PARALLEL = 8  # API calls in flight to one engine
INFO = "info"  # the engine document's key (and redaction path) of GET /info


class EngineCollector(Collector):
    kinds = frozenset({"engine", "container", "image"})

    def __init__(self, options: CollectOptions | None = None) -> None:
        self._identity: dict[str, Any] = {}
        self._image_options = options

    def identity(self) -> dict[str, Any]:
        return self._identity

    def _get(self, client: httpx.Client, target: Target, path: str) -> Any:
        try:
            with client.stream("GET", path) as resp:
                chunks: list[bytes] = []
                size = 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > MAX_RESPONSE:
                        raise CollectorError(
                            f"{target}: {path} answered more than {MAX_RESPONSE} bytes"
                        )
                    chunks.append(chunk)
                if resp.status_code != 200:
                    detail = b"".join(chunks)[:200].decode("utf-8", "replace").strip()
                    raise CollectorError(
                        f"{target}: GET {path} returned {resp.status_code}: {detail}"
                    )
        except (httpx.TransportError, OSError) as e:
            raise TargetUnreachableError(f"{target}: cannot reach the engine: {e}") from e
        try:
            return jsonsafe.loads(b"".join(chunks))
        except jsonsafe.JSONBoundError as e:
            raise CollectorError(f"{target}: {path}: {e}") from None
        except ValueError:
            raise CollectorError(f"{target}: {path} did not answer JSON") from None

    def _try(self, client: httpx.Client, target: Target, path: str) -> Any:
        """An optional endpoint: None when the engine does not serve it (Podman, old API)."""
        try:
            return self._get(client, target, path)
        except TargetUnreachableError:
            raise
        except CollectorError:
            return None

    def collect(self, target: Target) -> Iterator[Evidence]:
        with (
            engine_client(target, (self._image_options or CollectOptions()).ssh) as client,
            ThreadPoolExecutor(PARALLEL) as pool,
        ):
            try:
                yield from self._collect(target, client, pool)
            except BaseException:  # an error, Ctrl-C, or the caller stopped: no more reads
                pool.shutdown(wait=False, cancel_futures=True)
                raise  # and the client closes, which ends the export's thread

    def _collect(
        self, target: Target, client: httpx.Client, pool: ThreadPoolExecutor
    ) -> Iterator[Evidence]:
        version, info, listing, networks, images = self._first_reads(target, client, pool)
        # every local image, streamed from one export (CIS section 4 on what is here): the
        # engine takes a while to write it, so it starts now, beside the container reads
        # (those read before, by image ID, are not exported again: image.cache)
        options = self._image_options or CollectOptions()
        known = EngineImages(images, ImageCache.open(options.image_cache_days, options.limits))
        exported = in_daemon_thread(
            engine_export, client, str(target), known.unread, options, name="engine-export"
        )
        engine = self._engine_evidence(target, client, version, info, listing, networks, images)
        yield engine
        shared = _shared_observations(target, info, engine.data, networks)
        product = engine.data["product"]

        def fetch(cid: str) -> dict[str, Any] | None:
            return self._container(client, target, cid, product, shared)

        # the engine answers several containers at once (its top runs ps per container);
        # results keep the listing's order
        for doc in pool.map(fetch, [str(c["Id"]) for c in listing]):
            if doc is not None:
                yield _container_evidence(target, doc)
        yield from engine_images(client, str(target), known, options, exported.result())

    def _first_reads(
        self, target: Target, client: httpx.Client, pool: ThreadPoolExecutor
    ) -> tuple[dict[str, Any], dict[str, Any], list[Any], list[Any], list[Any]]:
        """Version, info, containers, networks and images: in flight together, their errors
        raised in this order."""
        first = [
            pool.submit(read, client, target, path)
            for read, path in (
                (self._get, "/version"),
                (self._get, "/info"),
                (self._get, "/containers/json?all=1"),
                (self._try, "/networks"),
                (self._try, "/images/json"),
            )
        ]
        version, info, listing = (f.result() for f in first[:3])
        if (
            not isinstance(info, dict)
            or not isinstance(version, dict)
            or not isinstance(listing, list)
        ):
            raise CollectorError(f"{target}: the engine's answers are not Engine API objects")
        listing = [c for c in listing[:MAX_CONTAINERS] if isinstance(c, dict) and c.get("Id")]
        networks = [n for n in first[3].result() or [] if isinstance(n, dict)][:MAX_LIST]
        images = [i for i in first[4].result() or [] if isinstance(i, dict)][:MAX_LIST]
        return version, info, listing, networks, images

    def _engine_evidence(
        self,
        target: Target,
        client: httpx.Client,
        version: dict[str, Any],
        info: dict[str, Any],
        listing: list[Any],
        networks: list[Any],
        images: list[Any],
    ) -> Evidence:
        """The engine's own document (its settings, swarm, networks, image and container
        counts); records the engine's identity."""
        red = Redactor()
        swarm = self._swarm(client, target, info)
        engine_data: dict[str, Any] = {
            "version": version,
            "product": _product(version),
            "connection": connection(client, target),
            INFO: red.tree(info, INFO),
            "daemon": _daemon(target, info, networks, red, client),
            "swarm": swarm,
            "networks": [_network(n) for n in networks],
            "images": _images(images, listing),
            "containers": {
                "total": len(listing),
                "running": sum(1 for c in listing if c.get("State") == "running"),
                "stopped": sum(1 for c in listing if c.get("State") != "running"),
            },
        }
        self._identity = {
            "engine_id": info.get("ID"),
            "name": info.get("Name"),
            "product": engine_data["product"],
            "server_version": version.get("Version"),
            "api_version": version.get("ApiVersion"),
            "os": info.get("OperatingSystem"),
            "kernel": info.get("KernelVersion"),
        }
        name = str(info.get("Name") or target.location)
        return Evidence("engine", str(target), name, engine_data, redactions=tuple(red.found))

    def _container(
        self,
        client: httpx.Client,
        target: Target,
        cid: str,
        product: str,
        shared: dict[str, Any],
    ) -> dict[str, Any] | None:
        """One container's inspect document with what assessor observed of it; None when it
        was removed while we were scanning."""
        try:
            inspect = self._get(client, target, f"/containers/{quote(cid, safe='')}/json")
        except CollectorError as e:
            if "returned 404" in e.message:  # removed while we were scanning
                return None
            raise
        if not isinstance(inspect, dict):
            raise CollectorError(f"{target}: container {cid[:12]} is not an object")
        observed = self._observed(client, target, inspect, product)
        observed["Self"] = cid in shared["own"]
        observed["EngineSecurity"] = shared["security"]
        # what the container rules judge against the daemon and the host (CIS 5.3,
        # 5.6, 5.26, 5.32): read once, shown on each container
        observed["HostSELinux"] = shared["selinux"]
        observed["DaemonSockets"] = shared["sockets"]
        observed["DaemonNoNewPrivileges"] = shared["no_new_privileges"]
        observed["MountSources"] = _mount_sources(inspect, shared["local"])
        observed["DefaultBindIP"] = _default_bind_ip(inspect, shared["binding"])
        return {**inspect, "Assessor": observed}

    def _swarm(self, client: httpx.Client, target: Target, info: dict[str, Any]) -> dict[str, Any]:
        """Swarm state; the cluster settings when this node is a manager (tokens dropped)."""
        swarm = info.get("Swarm")
        node: dict[str, Any] = swarm if isinstance(swarm, dict) else {}
        state = str(node.get("LocalNodeState") or "inactive")
        out: dict[str, Any] = {
            "state": state,
            "active": state == "active",
            "manager": bool(node.get("ControlAvailable")),
            "managers": node.get("Managers"),
            "nodes": node.get("Nodes"),
            "node_addr": node.get("NodeAddr"),
            "read": ["GET /info (Swarm)"],
        }
        if out["active"] and out["manager"]:
            out["read"].append("GET /swarm (JoinTokens dropped)")
            cluster = self._try(client, target, "/swarm")
            if isinstance(cluster, dict):
                cluster = {k: v for k, v in cluster.items() if k != "JoinTokens"}
                spec = cluster.get("Spec") or {}
                out["cluster"] = cluster
                out["autolock"] = bool((spec.get("EncryptionConfig") or {}).get("AutoLockManagers"))
                out["node_cert_expiry_hours"] = _hours(
                    (spec.get("CAConfig") or {}).get("NodeCertExpiry")
                )
        return out

    def _observed(
        self, client: httpx.Client, target: Target, inspect: dict[str, Any], product: str
    ) -> dict[str, Any]:
        """What inspect does not show: a running container's processes and its exec sessions."""
        cid = quote(str(inspect.get("Id", "")), safe="")
        observed: dict[str, Any] = {"Processes": None, "Execs": []}
        # dockerd runs the host's ps on the container's processes: the kernel's process names
        # (comm), never their arguments. Podman is not asked: for ps options it cannot serve
        # itself it runs ps inside the container, and nothing may execute in a target.
        if (inspect.get("State") or {}).get("Running") and product == "docker":
            top = self._try(client, target, f"/containers/{cid}/top?ps_args=-eo%20pid,comm")
            if isinstance(top, dict):
                titles = [str(t) for t in top.get("Titles") or []]
                col = next(
                    (titles.index(t) for t in ("COMMAND", "CMD") if t in titles), len(titles) - 1
                )
                observed["Processes"] = [
                    _process_name(str(row[col]))
                    for row in (top.get("Processes") or [])[:MAX_LIST]
                    if isinstance(row, list) and len(row) > col >= 0
                ]
        probe = _health_probe(inspect)
        for exec_id in (inspect.get("ExecIDs") or [])[:MAX_EXECS]:
            detail = self._try(client, target, f"/exec/{quote(str(exec_id), safe='')}/json")
            if not isinstance(detail, dict):
                continue
            process = detail.get("ProcessConfig") or {}
            privileged = bool(process.get("privileged") or detail.get("Privileged"))
            user = str(process.get("user") or "")
            arguments = [str(a) for a in process.get("arguments") or []]
            command = [str(process.get("entrypoint") or ""), *arguments]
            observed["Execs"].append(
                {
                    "ID": str(detail.get("ID", exec_id))[:12],
                    "Privileged": privileged,
                    "User": user,
                    "Running": bool(detail.get("Running")),
                    "Program": _process_name(command[0]),
                    # dockerd runs each HEALTHCHECK probe as an exec session while it lasts
                    "HealthCheck": probe is not None
                    and command == probe[0]
                    and user == probe[1]
                    and not privileged,
                }
            )
        return observed


def _shared_observations(
    target: Target, info: dict[str, Any], engine_data: dict[str, Any], networks: list[Any]
) -> dict[str, Any]:
    """What every container's document shows of the daemon and the host, read once."""
    own = own_container_ids() if target.scheme == "unix" else set()
    daemon = engine_data["daemon"]
    # paths are resolved on this machine's filesystem only when it is the engine's host
    local = target.scheme == "unix" and not own
    return {
        "own": own,
        "security": sorted(_dockerd.security_options(info)),
        "local": local,
        "sockets": _daemon_sockets(target, daemon, local),
        "no_new_privileges": _daemon_setting(daemon, "no-new-privileges"),
        "selinux": _host_selinux() if local else None,
        "binding": {
            str(n.get("Name")): (n.get("Options") or {}).get(BIND_OPTION)
            for n in networks
            if isinstance(n.get("Options"), dict)
        },
    }


def _container_evidence(target: Target, inspect: dict[str, Any]) -> Evidence:
    red = Redactor()
    config = inspect.get("Config") or {}
    if isinstance(config, dict):
        config = dict(config)
        if isinstance(config.get("Env"), list):
            config["Env"] = red.env([str(e) for e in config["Env"]], "Config.Env")
        entrypoint = config.get("Entrypoint")
        # Cmd is the arguments of the Entrypoint's program when there is one
        program = str(entrypoint[0]) if isinstance(entrypoint, list) and entrypoint else None
        if isinstance(config.get("Cmd"), list):
            config["Cmd"] = red.args([str(a) for a in config["Cmd"]], "Config.Cmd", program)
        if isinstance(entrypoint, list):
            config["Entrypoint"] = red.args([str(a) for a in entrypoint], "Config.Entrypoint")
        if isinstance(config.get("Labels"), dict):
            config["Labels"] = red.mapping(config["Labels"], "Config.Labels")
        health = config.get("Healthcheck")
        if isinstance(health, dict) and isinstance(health.get("Test"), list):
            test = [str(t) for t in health["Test"]]
            config["Healthcheck"] = {
                **health,
                "Test": red.healthcheck(test, "Config.Healthcheck.Test"),
            }
        inspect = {**inspect, "Config": config}
    if isinstance(inspect.get("Args"), list):
        path = inspect.get("Path")
        inspect["Args"] = red.args(
            [str(a) for a in inspect["Args"]], "Args", str(path) if path else None
        )
    host_config = inspect.get("HostConfig")
    if isinstance(host_config, dict) and isinstance(host_config.get("LogConfig"), dict):
        log = host_config["LogConfig"]
        inspect["HostConfig"] = {
            **host_config,
            "LogConfig": {
                **log,
                "Config": red.mapping(log.get("Config") or {}, "HostConfig.LogConfig.Config"),
            },
        }
    name = str(inspect.get("Name", "")).lstrip("/") or "?"
    resource = f"{name} ({str(inspect.get('Id', ''))[:12]})"
    return Evidence("container", str(target), resource, inspect, redactions=tuple(red.found))


DEFAULT_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")


def _daemon_sockets(target: Target, daemon: dict[str, Any], local: bool) -> dict[str, Any]:
    """The unix sockets the daemon serves: the scanned one, its ``hosts`` (``-H`` or
    daemon.json), dockerd's default when it names none; each also as its resolved path on
    this machine when the engine is local (CIS 5.32)."""
    effective = daemon.get("effective") if isinstance(daemon.get("effective"), dict) else {}
    hosts = effective.get("hosts") if isinstance(effective, dict) else None
    listed = [str(h) for h in hosts] if isinstance(hosts, list) else []
    paths = {h.removeprefix("unix://") for h in listed if h.startswith("unix://")}
    if "" in paths or any(h.startswith("fd://") for h in listed) or not listed:
        # no -H or a bare unix://: dockerd's default socket; fd://: systemd's docker.socket
        paths.update(DEFAULT_SOCKETS)
    if target.scheme == "unix":
        paths.add(target.location)
    if target.scheme == "ssh":
        paths.add(ssh_endpoint(target).socket)
    if local:
        paths.update({os.path.realpath(p) for p in paths})
    origin = (daemon.get("origin") or {}).get("hosts") if isinstance(daemon, dict) else None
    return {
        "paths": sorted(p for p in paths if p.startswith("/")),
        "hosts": listed,
        "hosts_from": origin or ("default" if daemon.get("found") else "not observed"),
        "resolved": local,
    }


# the address a bridge network publishes a port on when the binding names none: the daemon's
# --ip ("ip" in daemon.json) on the default bridge, or the network's own option
BIND_OPTION = "com.docker.network.bridge.host_binding_ipv4"


def _default_bind_ip(inspect: dict[str, Any], binding: dict[str, Any]) -> dict[str, Any] | None:
    """Where an empty HostIp of this container's port bindings is bound (CIS 5.14), read from
    its networks' options (GET /networks); None when no network of the container says."""
    settings = inspect.get("NetworkSettings")
    attached = settings.get("Networks") if isinstance(settings, dict) else None
    names = [str(n) for n in attached] if isinstance(attached, dict) else []
    mode = str((inspect.get("HostConfig") or {}).get("NetworkMode") or "")
    if not names and mode:
        names = ["bridge" if mode == "default" else mode]
    found = {binding[n] for n in names if binding.get(n)}
    if len(found) != 1:
        return None
    name = next(n for n in names if binding.get(n))
    return {"address": str(found.pop()), "from": f"network {name}: option {BIND_OPTION}"}


def _daemon_setting(daemon: dict[str, Any], key: str) -> dict[str, Any]:
    """One effective daemon setting and where it came from (None: not observed)."""
    effective = daemon.get("effective")
    value = effective.get(key) if isinstance(effective, dict) else None
    origin = daemon.get("origin")
    return {
        "key": key,
        "value": value,
        "origin": (origin.get(key) if isinstance(origin, dict) else None) or "not observed",
    }


def _host_selinux() -> bool:
    """Whether the kernel of this machine enforces or audits SELinux (selinuxfs mounted)."""
    return os.path.exists("/sys/fs/selinux/enforce")


def _mount_sources(inspect: dict[str, Any], local: bool) -> dict[str, Any]:
    """Each bind mount's host source resolved to its real path (symlinks followed, e.g.
    /lib -> /usr/lib on a merged-/usr host), when the engine runs on this machine."""
    mounts = inspect.get("Mounts")
    sources = sorted(
        {
            str(m.get("Source"))
            for m in (mounts if isinstance(mounts, list) else [])
            if isinstance(m, dict) and m.get("Type") == "bind" and m.get("Source")
        }
    )
    if not local:
        return {
            "resolved": False,
            "reason": "the engine's host is not this machine (a remote engine, or assessor runs "
            "in a container): the sources are judged as the engine names them",
        }
    return {
        "resolved": True,
        "root": "/",
        "paths": {s: os.path.realpath(s) for s in sources[:MAX_LIST]},
    }


def _product(version: dict[str, Any]) -> str:
    """docker or podman (Podman's compatible API names its component "Podman Engine")."""
    names = [str(c.get("Name", "")) for c in version.get("Components") or [] if isinstance(c, dict)]
    platform = str((version.get("Platform") or {}).get("Name", ""))
    if any("podman" in n.lower() for n in names) or "podman" in platform.lower():
        return "podman"
    return "docker"


def _hours(nanoseconds: Any) -> float | None:
    return round(nanoseconds / 3.6e12, 2) if isinstance(nanoseconds, int) else None


def _health_probe(inspect: dict[str, Any]) -> tuple[list[str], str] | None:
    """The command and user dockerd gives the exec session of a health probe (daemon/health.go):
    ``CMD-SHELL x`` runs ``/bin/sh -c x``, ``CMD a b`` runs ``a b``, as the container's user."""
    config = inspect.get("Config") or {}
    test = (config.get("Healthcheck") or {}).get("Test") if isinstance(config, dict) else None
    if not isinstance(test, list) or len(test) < 2:
        return None
    words = [str(t) for t in test]
    if words[0] == "CMD-SHELL":
        command = ["/bin/sh", "-c", words[1]]
    elif words[0] == "CMD":
        command = words[1:]
    else:
        return None
    return command, str(config.get("User") or "")


def _process_name(cmd: str) -> str:
    """The program of a command line, without its arguments (which may hold secrets)."""
    first = cmd.strip().split(" ", 1)[0] if cmd.strip() else ""
    return first.rsplit("/", 1)[-1][:200]


def _network(n: dict[str, Any]) -> dict[str, Any]:
    return {
        "Name": n.get("Name"),
        "Id": str(n.get("Id", ""))[:12],
        "Driver": n.get("Driver"),
        "Scope": n.get("Scope"),
        "Internal": n.get("Internal"),
        "Options": n.get("Options") or {},
    }


def _images(images: list[dict[str, Any]], containers: list[dict[str, Any]]) -> dict[str, Any]:
    used = {str(c.get("ImageID", "")) for c in containers}
    unused = [
        ", ".join(i.get("RepoTags") or []) or str(i.get("Id", ""))[:19]
        for i in images
        if str(i.get("Id", "")) not in used
    ]
    return {
        "total": len(images),
        "in_use": len(images) - len(unused),
        "unused": sorted(unused)[:1000],
        "unused_count": len(unused),
    }


_OWN_CGROUP = re.compile(r"(?:docker|libpod)[-/]([0-9a-f]{64})")
_OWN_MOUNT = re.compile(r"/([0-9a-f]{64})/(?:userdata/)?(?:hostname|hosts|resolv\.conf)$")
_CONTAINER_FILES = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf")


def own_container_ids(cgroup: str | None = None, mountinfo: str | None = None) -> set[str]:
    """The ids of the container assessor itself runs in (empty on a plain host).

    Read from our cgroup path, and from the files an engine bind-mounts into each container
    (/etc/hostname, /etc/hosts, /etc/resolv.conf) whose source path names the container. A
    host's mount table also lists its containers' mounts, so only those three count.
    """
    if cgroup is None:
        cgroup = read_live("/proc/self/cgroup", 1 << 20) or ""
    if mountinfo is None:
        mountinfo = read_live("/proc/self/mountinfo", 1 << 20) or ""
    ids = {m.group(1) for m in _OWN_CGROUP.finditer(cgroup)}
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[4] in _CONTAINER_FILES:
            m = _OWN_MOUNT.search(fields[3])
            if m:
                ids.add(m.group(1))
    return ids


def _daemon_process(target: Target, client: httpx.Client) -> tuple[dict[str, Any] | None, str]:
    """The dockerd serving the engine, its flags and daemon.json: read here for a local
    socket, through SFTP over the same SSH connection for engine:ssh://; and how (for the
    evidence: "" here)."""
    if target.scheme == "unix":
        return _dockerd.local_daemon(target.location), ""
    if not isinstance(client, TunnelClient):
        return None, ""
    # asyncssh is loaded already: the engine is read through it
    from assessor.collectors.ssh_access import SshAccess

    tunnel = client.tunnel
    try:
        sudo = tunnel.settings.sudo or tunnel.target.sudo
        with SshAccess(tunnel.session, sudo, target).start() as access:
            return _dockerd.local_daemon(tunnel.endpoint.socket, access), access.via
    except TargetUnreachableError as e:  # the engine's own evidence is read all the same
        return None, f"not read over SSH: {e}"


def _daemon(
    target: Target,
    info: dict[str, Any],
    networks: list[dict[str, Any]],
    red: Redactor,
    client: httpx.Client,
) -> dict[str, Any]:
    """The daemon's effective settings: what the engine reports, merged with dockerd's
    flags and daemon.json when the engine's dockerd can be read (a local one, or over SSH).

    ``read`` names what each part came from, so an auditor can repeat it by hand: the API
    endpoints, the command line's /proc file, the configuration file and its sha256.
    """
    bridge = next(
        (n for n in networks if n.get("Name") == "bridge" and n.get("Driver") == "bridge"), None
    )
    running = _dockerd.running_from_info(info, (bridge or {}).get("Options"))
    local, via = _daemon_process(target, client)
    out: dict[str, Any] = {"found": False, "source": "api", "running": running}
    read: dict[str, Any] = {"api": ["GET /info", "GET /networks"] if bridge else ["GET /info"]}
    if via:  # the process and its files, read on another machine
        read["process_read"] = via
    flags = daemon_json = defaults = None
    if local is not None:
        process = local["process"]
        out["process"] = {k: process.get(k) for k in ("pid", "program", "uid")}
        if process["program"] == "dockerd":
            flags = local["flags"]
            daemon_json = local["daemon_json"] or {}
            defaults = local.get("defaults")
            read.update(
                cmdline=local.get("cmdline"),
                config_file=local["config_file"],
                config_read_via=local.get("config_read_via"),
                config_sha256=local.get("config_sha256"),
            )
            out.update(
                found=True,
                source="process",
                pid=process["pid"],
                rootless=local.get("rootless", False),
                argv=red.args(process["argv"], "daemon.argv"),
                flags=red.tree(flags, "daemon.flags"),
                config_file=local["config_file"],
                daemon_json=red.tree(local["daemon_json"], "daemon.daemon_json"),
                daemon_json_error=local["daemon_json_error"],
                daemon_json_changed_since_start=local["daemon_json_changed_since_start"],
            )
    out["read"] = read
    values, origin, conflicts = _dockerd.effective(daemon_json, flags, running, defaults)
    out["effective"] = red.tree(values, "daemon.effective")
    out["origin"] = origin
    out["conflicts"] = red.tree(conflicts, "daemon.conflicts")
    return out
