"""The engine collector: the Docker Engine API (info, version, every container's inspect).

When the engine is local (a unix socket), the dockerd process's command line and its
daemon.json are read too, and merged into ``daemon.effective``: the settings dockerd runs
with, under daemon.json's key names, whichever place set them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from assessor.collectors.base import Collector
from assessor.errors import CollectorError, TargetUnreachableError
from assessor.evidence import Evidence, Redactor
from assessor.targets import Target

if TYPE_CHECKING:
    import httpx

MAX_RESPONSE = 32 << 20  # one API answer
MAX_CONTAINERS = 20_000
TIMEOUT = 20.0  # seconds per API call; ASSESSOR_ENGINE_TIMEOUT overrides


def _timeout() -> float:
    try:
        return float(os.environ.get("ASSESSOR_ENGINE_TIMEOUT", TIMEOUT))
    except ValueError:
        return TIMEOUT


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


def parse_dockerd_args(argv: list[str]) -> dict[str, Any]:
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
            if key == "log-opts":
                k, _, v = value.partition("=")
                flags.setdefault(key, {})[k] = v
            else:
                flags.setdefault(key, []).append(value)
        elif name in BOOL_FLAGS:
            flags[name] = value.lower() in ("true", "1", "yes")
        else:
            flags[name] = value
    return flags


def _find_dockerd() -> tuple[int, list[str]] | None:
    """The dockerd process on this machine (its pid and argv), when one runs."""
    found: list[tuple[int, list[str]]] = []
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return None
    for pid in pids:
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "dockerd":
                    continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = [a.decode("utf-8", "replace") for a in f.read(1 << 16).split(b"\0") if a]
        except OSError:
            continue
        found.append((pid, argv))
    return min(found) if found else None


class EngineCollector(Collector):
    kinds: ClassVar[frozenset[str]] = frozenset({"engine", "container"})

    def __init__(self) -> None:
        self._identity: dict[str, Any] = {}

    def identity(self) -> dict[str, Any]:
        return self._identity

    def _client(self, target: Target) -> httpx.Client:
        import httpx

        if target.scheme == "unix":
            if not os.path.exists(target.location):
                raise TargetUnreachableError(f"{target}: socket {target.location} does not exist")
            transport = httpx.HTTPTransport(uds=target.location)
            return httpx.Client(transport=transport, base_url="http://docker", timeout=_timeout())
        cert_path = os.environ.get("DOCKER_CERT_PATH")
        if os.environ.get("DOCKER_TLS_VERIFY") and cert_path:
            import ssl

            ctx = ssl.create_default_context(cafile=os.path.join(cert_path, "ca.pem"))
            ctx.load_cert_chain(
                os.path.join(cert_path, "cert.pem"), os.path.join(cert_path, "key.pem")
            )
            return httpx.Client(
                base_url=f"https://{target.location}", verify=ctx, timeout=_timeout()
            )
        return httpx.Client(base_url=f"http://{target.location}", timeout=_timeout())

    def _get(self, client: httpx.Client, target: Target, path: str) -> Any:
        import httpx

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
            return json.loads(b"".join(chunks))
        except ValueError as e:
            raise CollectorError(f"{target}: {path} did not answer JSON") from e

    def collect(self, target: Target) -> Iterator[Evidence]:
        with self._client(target) as client:
            version = self._get(client, target, "/version")
            info = self._get(client, target, "/info")
            listing = self._get(client, target, "/containers/json?all=1")
            if (
                not isinstance(info, dict)
                or not isinstance(version, dict)
                or not isinstance(listing, list)
            ):
                raise CollectorError(f"{target}: the engine's answers are not Engine API objects")
            red = Redactor()
            engine_data: dict[str, Any] = {
                "version": version,
                "info": red.tree(info, "info"),
                "daemon": _daemon(target, red),
                "containers": len(listing),
            }
            name = str(info.get("Name") or target.location)
            self._identity = {
                "engine_id": info.get("ID"),
                "name": info.get("Name"),
                "server_version": version.get("Version"),
                "api_version": version.get("ApiVersion"),
                "os": info.get("OperatingSystem"),
                "kernel": info.get("KernelVersion"),
            }
            yield Evidence("engine", str(target), name, engine_data, redactions=tuple(red.found))
            for summary in listing[:MAX_CONTAINERS]:
                cid = str(summary.get("Id", "")) if isinstance(summary, dict) else ""
                if not cid:
                    continue
                try:
                    inspect = self._get(client, target, f"/containers/{quote(cid, safe='')}/json")
                except CollectorError as e:
                    if "returned 404" in e.message:  # removed while we were scanning
                        continue
                    raise
                yield _container_evidence(target, inspect)


def _container_evidence(target: Target, inspect: dict[str, Any]) -> Evidence:
    red = Redactor()
    config = inspect.get("Config") or {}
    if isinstance(config, dict):
        config = dict(config)
        if isinstance(config.get("Env"), list):
            config["Env"] = red.env([str(e) for e in config["Env"]], "Config.Env")
        for key in ("Cmd", "Entrypoint"):
            if isinstance(config.get(key), list):
                config[key] = red.args([str(a) for a in config[key]], f"Config.{key}")
        if isinstance(config.get("Labels"), dict):
            config["Labels"] = red.mapping(config["Labels"], "Config.Labels")
        inspect = {**inspect, "Config": config}
    if isinstance(inspect.get("Args"), list):
        inspect["Args"] = red.args([str(a) for a in inspect["Args"]], "Args")
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


def _daemon(target: Target, red: Redactor) -> dict[str, Any] | None:
    """The local dockerd's flags and daemon.json, merged; None for a remote engine."""
    if target.scheme != "unix":
        return None
    proc = _find_dockerd()
    if proc is None:
        return {"found": False}
    pid, argv = proc
    flags = parse_dockerd_args(argv)
    config_file = str(flags.get("config-file", "/etc/docker/daemon.json"))
    daemon_json: Any = None
    error: str | None = None
    try:
        with open(config_file, "rb") as f:
            raw = f.read(1 << 20)
        daemon_json = json.loads(raw) if raw.strip() else {}
    except FileNotFoundError:
        daemon_json = None
    except OSError as e:
        error = f"{config_file}: {e.strerror}"
    except ValueError as e:
        error = f"{config_file}: invalid JSON: {e}"
    effective: dict[str, Any] = dict(daemon_json) if isinstance(daemon_json, dict) else {}
    conflicts = []
    for key, value in flags.items():
        if key in effective and effective[key] != value:
            conflicts.append({"key": key, "flag": value, "daemon_json": effective[key]})
        effective[key] = value
    return {
        "found": True,
        "pid": pid,
        "argv": red.args(argv, "daemon.argv"),
        "flags": red.tree(flags, "daemon.flags"),
        "config_file": config_file,
        "daemon_json": red.tree(daemon_json, "daemon.daemon_json"),
        "daemon_json_error": error,
        "effective": red.tree(effective, "daemon.effective"),
        "conflicts": red.tree(conflicts, "daemon.conflicts"),
    }
