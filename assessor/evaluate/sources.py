"""What a result's rule read, named so an auditor can read it again by hand.

Each evidence kind has a table from evidence paths to the source a collector read them from:
an Engine API endpoint, a file under the host root (with its sha256 when the collector
recorded one), a command, an image's config blob or layers, an HTTP request to a registry.
:func:`sources` turns a rule's declared ``evidence:`` paths and one stored evidence document
into lines such as::

    read: Engine API unix:///var/run/docker.sock GET /containers/3f2a1b4c5d6e/json,
    field HostConfig.Privileged = false

It is computed from the rule and the stored evidence alone (pure, at read time), so every
stored result gets it without a migration, and a rule whose path has no source in the table
fails ``tests/unit/test_sources.py``. Values are shown as the evidence holds them (secrets
were redacted before the evidence existed), cut to :data:`VALUE_CHARS`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assessor.evaluate.paths import MISSING, parse_path, resolve

VALUE_CHARS = 160  # a value longer than this is cut, ending in "…"


@dataclass(frozen=True, slots=True)
class Doc:
    """One evidence document as the source table sees it."""

    kind: str
    target: str
    resource: str
    data: Mapping[str, Any]

    def get(self, path: str) -> Any:
        found = resolve(self.data, parse_path(path))
        return None if found is MISSING else found


Describe = Callable[[Doc, tuple[str | int, ...]], str]


def _d(d: Mapping[str, Any] | None, *keys: str) -> Any:
    node: Any = d
    for key in keys:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def _endpoint(doc: Doc) -> str:
    return doc.target.removeprefix("engine:") or "the engine"


def _short_sha(value: Any) -> str:
    text = str(value or "")
    return text.removeprefix("sha256:")[:16] + "…" if text else ""


def _api(call: str) -> Describe:
    return lambda doc, _parts: f"Engine API {_endpoint(doc)} {call}"


# --- container: one `docker inspect` document plus what assessor observed beside it ------


def _cid(doc: Doc) -> str:
    cid = doc.get("Id")
    return str(cid)[:12] if cid else doc.resource


def _inspect(doc: Doc, _parts: tuple[str | int, ...]) -> str:
    return f"Engine API {_endpoint(doc)} GET /containers/{_cid(doc)}/json"


def _execs(doc: Doc, _parts: tuple[str | int, ...]) -> str:
    ids = [str(e.get("ID")) for e in doc.get("Assessor.Execs") or [] if isinstance(e, Mapping)]
    shown = ", ".join(f"GET /exec/{i}/json" for i in ids[:3]) or "GET /exec/{id}/json"
    more = f" and {len(ids) - 3} more" if len(ids) > 3 else ""
    return (
        f"Engine API {_endpoint(doc)} GET /containers/{_cid(doc)}/json (ExecIDs), "
        f"then {shown}{more}"
    )


# the top-level keys of GET /containers/{id}/json
INSPECT_KEYS = [
    "AppArmorProfile",
    "Args",
    "Config",
    "Created",
    "Driver",
    "ExecIDs",
    "GraphDriver",
    "HostConfig",
    "HostnamePath",
    "HostsPath",
    "Id",
    "Image",
    "LogPath",
    "MountLabel",
    "Mounts",
    "Name",
    "NetworkSettings",
    "Path",
    "Platform",
    "ProcessLabel",
    "ResolvConfPath",
    "RestartCount",
    "SizeRootFs",
    "SizeRw",
    "State",
]

CONTAINER: dict[tuple[str | int, ...], Describe] = {
    **{(key,): _inspect for key in INSPECT_KEYS},
    ("Assessor", "Processes"): lambda doc, _p: (
        f"Engine API {_endpoint(doc)} GET /containers/{_cid(doc)}/top (process names)"
    ),
    ("Assessor", "Execs"): _execs,
    ("Assessor", "EngineSecurity"): _api("GET /info (SecurityOptions)"),
    ("Assessor", "Self"): lambda doc, _p: (
        "the scanner's own container id (/proc/self/cgroup and /proc/self/mountinfo)"
    ),
    ("Assessor", "HostSELinux"): lambda doc, _p: "/sys/fs/selinux of the engine's host",
    ("Assessor", "DaemonSockets"): lambda doc, _p: (
        f"dockerd's API sockets: -H on its command line and hosts in daemon.json "
        f"(the engine evidence of {_endpoint(doc)})"
    ),
    ("Assessor", "DaemonNoNewPrivileges"): lambda doc, _p: (
        f"dockerd's no-new-privileges: its command line and daemon.json "
        f"(the engine evidence of {_endpoint(doc)})"
    ),
    ("Assessor", "MountSources"): lambda doc, _p: (
        f"the real path of each bind mount's Source (Mounts of GET /containers/{_cid(doc)}/json) "
        "on the engine's host"
    ),
}


# --- engine: GET /info, /version, the daemon's process and configuration -----------------


def _daemon_read(doc: Doc) -> tuple[str, str, str]:
    """(command line, configuration file with its sha256, pid) as the collector read them."""
    pid = doc.get("daemon.pid")
    read = doc.get("daemon.read") or {}
    cmdline = str(_d(read, "cmdline") or (f"/proc/{pid}/cmdline" if pid else "/proc/PID/cmdline"))
    config = str(_d(read, "config_file") or doc.get("daemon.config_file") or "daemon.json")
    sha = _d(read, "config_sha256")
    if sha:
        config += f" (sha256 {sha})"
    return cmdline, config, str(pid or "?")


def _effective(doc: Doc, parts: tuple[str | int, ...]) -> str:
    cmdline, config, pid = _daemon_read(doc)
    if len(parts) < 3:
        return (
            f"dockerd's effective configuration: its command line ({cmdline}), {config} "
            f"and Engine API {_endpoint(doc)} GET /info"
        )
    key = str(parts[2])
    origin = _d(doc.get("daemon.origin"), key)
    if origin == "daemon.json":
        return f"{config}, key {key!r}"
    if origin == "flag":
        return f"dockerd's command line {cmdline} (pid {pid}), flag --{key}"
    if origin == "running":
        return f"Engine API {_endpoint(doc)} GET /info (the running daemon's value of {key})"
    if origin == "default":
        return f"dockerd's built-in default: no --{key} in {cmdline}, no {key!r} in {config}"
    return (
        f"dockerd's effective {key}: Engine API {_endpoint(doc)} GET /info, {cmdline} and {config}"
    )


def _daemon(doc: Doc, _parts: tuple[str | int, ...]) -> str:
    cmdline, config, pid = _daemon_read(doc)
    return f"dockerd (pid {pid}): its command line {cmdline} and {config}"


def _changed(doc: Doc, _parts: tuple[str | int, ...]) -> str:
    _, config, pid = _daemon_read(doc)
    return f"the modification time of {config} against dockerd's start (/proc/{pid}/stat)"


ENGINE: dict[tuple[str | int, ...], Describe] = {
    ("info",): lambda doc, parts: f"Engine API {_endpoint(doc)} GET /info",
    ("version",): _api("GET /version"),
    ("product",): _api("GET /version (Components and Platform.Name: Docker or Podman)"),
    ("connection",): lambda doc, _p: f"the target address {doc.target}",
    ("containers",): _api("GET /containers/json?all=1 (counted by State)"),
    ("images",): _api("GET /images/json and GET /containers/json?all=1 (images no container uses)"),
    ("networks",): _api("GET /networks"),
    ("swarm",): _api("GET /info (Swarm), GET /swarm and GET /nodes on a manager"),
    ("daemon",): _daemon,
    ("daemon", "effective"): _effective,
    ("daemon", "conflicts"): lambda doc, _p: (
        "dockerd's command line, daemon.json and GET /info compared: "
        + "; ".join(_daemon_read(doc)[:2])
    ),
    ("daemon", "daemon_json_changed_since_start"): _changed,
}


# --- host: files and commands under the host root -----------------------------------------


def _root(doc: Doc) -> str:
    return str(doc.get("root") or "/")


def _under(doc: Doc, path: str) -> str:
    root = _root(doc).rstrip("/")
    return f"{root}{path}" if root else path


def _file(doc: Doc, parts: tuple[str | int, ...]) -> str:
    if len(parts) == 1:
        names = sorted(str(k) for k in (doc.get("files") or {}))
        listed = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        return f"lstat of each path under the host root {_root(doc)}: {listed or '(none)'}"
    entry = _d(doc.data, "files", str(parts[1]))
    text = f"lstat of {_under(doc, str(parts[1]))}"
    sha = _d(entry, "sha256")
    return f"{text} (sha256 {sha})" if sha else text


def _unit(doc: Doc, parts: tuple[str | int, ...]) -> str:
    units = doc.get("systemd.units") or {}
    if len(parts) < 3:
        found = ", ".join(str(_d(u, "path")) for u in units.values() if _d(u, "path"))
        return f"the Docker and containerd unit files under {_root(doc)}: {found or '(none found)'}"
    path = _d(units, str(parts[2]), "path")
    if not path:
        return (
            f"the unit {parts[2]} looked for under {_root(doc)} in /etc/systemd/system, "
            "/lib/systemd/system and /usr/lib/systemd/system (not found)"
        )
    return f"lstat and ExecStart lines of the unit file {_under(doc, str(path))}"


def _rules_files(doc: Doc) -> str:
    files = [f for f in doc.get("audit.files") or [] if isinstance(f, Mapping)]
    named = ", ".join(
        f"{f.get('path')}" + (f" (sha256 {f.get('sha256')})" if f.get("sha256") else "")
        for f in files[:6]
    )
    more = f" and {len(files) - 6} more" if len(files) > 6 else ""
    return f"the audit rules files under {_root(doc)}: {named or '(none found)'}{more}"


def _audit(doc: Doc, parts: tuple[str | int, ...]) -> str:
    key = str(parts[1]) if len(parts) > 1 else ""
    source = doc.get("audit.source")
    if key in ("files", "file_rules"):
        return _rules_files(doc)
    if key == "auditd":
        return "the auditd process (/proc/PID/comm) and auditctl or auditd on PATH"
    if key == "status":
        return "auditctl -s"
    if key == "real_paths":
        return f"the real path (symlinks followed) of each audited path under {_root(doc)}"
    if source == "kernel":
        read = doc.get("audit.loaded.read") or "auditctl -l"
        return f"the rules loaded in the kernel: {read}"
    if source == "files":
        return _rules_files(doc) + " (an offline root: whether they are loaded cannot be seen)"
    return f"the audit rules (source {source or 'unknown'}): auditctl -l and " + _rules_files(doc)


def _mounts(doc: Doc, _parts: tuple[str | int, ...]) -> str:
    source = str(doc.get("mounts.source") or "")
    if "fstab" in source:
        return f"{_under(doc, '/etc/fstab')} (an offline root has no mount table)"
    return f"{source or '/proc/self/mountinfo'} (the mount table)"


def _docker_host(doc: Doc, parts: tuple[str | int, ...]) -> str:
    key = str(parts[1]) if len(parts) > 1 else ""
    if key == "registry_certs":
        return f"lstat of each file under {_under(doc, '/etc/docker/certs.d')}"
    if key == "tls_files":
        return (
            f"dockerd's --tlscacert, --tlscert and --tlskey: the ExecStart of docker.service and "
            f"{_under(doc, '/etc/docker/daemon.json')}"
        )
    if key.startswith("data_root"):
        return (
            f"the data root from {doc.get('docker.data_root_from') or 'daemon.json or the default'}"
            f" ({_under(doc, '/etc/docker/daemon.json')}), located in the mount table "
            f"({_mounts(doc, parts)})"
        )
    return f"Docker's configuration under the host root: {_under(doc, '/etc/docker/daemon.json')}"


HOST: dict[tuple[str | int, ...], Describe] = {
    ("files",): _file,
    ("systemd",): _unit,
    ("audit",): _audit,
    ("mounts",): _mounts,
    ("docker",): _docker_host,
    ("listening",): lambda doc, _p: "/proc/net/tcp, tcp6, udp and udp6 (listening sockets)",
    ("kernel",): lambda doc, _p: (
        "the running kernel: /proc/version, /sys/kernel/security/lsm, /sys/fs/selinux, "
        "/sys/fs/cgroup"
    ),
    ("sysctl",): lambda doc, _p: "/proc/sys (kernel parameters)",
    ("groups",): lambda doc, _p: _under(doc, "/etc/group"),
    ("system",): lambda doc, _p: (
        f"{_under(doc, '/etc/os-release')}, /etc/hostname and /etc/machine-id under the root"
    ),
    ("root",): lambda doc, _p: f"the target {doc.target}",
    ("live",): lambda doc, _p: f"the target {doc.target} (a live host or an offline root)",
}


# --- image: its config blob, manifest and layers -----------------------------------------


def _config_blob(doc: Doc, _parts: tuple[str | int, ...]) -> str:
    ref = doc.get("reference") or doc.resource
    return f"the image config blob {doc.get('id') or '(no id)'} of {ref}"


def _layers(doc: Doc, _parts: tuple[str | int, ...]) -> str:
    layers = [entry for entry in doc.get("layers") or [] if isinstance(entry, Mapping)]
    digests = ", ".join(_short_sha(entry.get("diff_id")) for entry in layers[:4])
    more = f" and {len(layers) - 4} more" if len(layers) > 4 else ""
    ref = doc.get("reference") or doc.resource
    return (
        f"the tar headers and scanned file contents of layers 1-{len(layers)} of {ref}"
        f" (diff_ids {digests or 'none'}{more})"
    )


def _signatures(doc: Doc, _parts: tuple[str | int, ...]) -> str:
    ref = doc.get("reference") or doc.resource
    digest = doc.get("digest")
    if not digest:
        return f"the image {ref} (signatures are looked up only in a registry, by digest)"
    return f"the registry of {ref}: cosign signature tags and OCI referrers of {digest}"


IMAGE: dict[tuple[str | int, ...], Describe] = {
    **{
        (key,): _config_blob
        for key in [
            "config",
            "history",
            "created",
            "age_days",
            "architecture",
            "os",
            "variant",
            "platform",
            "author",
            "id",
            "remote_shell_ports",
        ]
    },
    **{(key,): _layers for key in ("files", "secrets", "ssh_server", "packages")},
    ("layers",): lambda doc, _p: f"the image manifest of {doc.get('reference') or doc.resource}",
    ("signatures",): _signatures,
    ("digest",): lambda doc, _p: f"the image manifest of {doc.get('reference') or doc.resource}",
    ("repo_tags",): _config_blob,
    ("reference",): lambda doc, _p: f"the target {doc.target}",
    ("transport",): lambda doc, _p: f"the target {doc.target}",
}


# --- registry: HTTP requests to the distribution API ------------------------------------


def _url(doc: Doc) -> str:
    return str(doc.get("url") or doc.resource)


def _anonymous(doc: Doc, parts: tuple[str | int, ...]) -> str:
    what = str(parts[1]) if len(parts) > 1 else ""
    repo = doc.get(f"anonymous.{what}.repository") or "<repository>"
    calls = {
        "catalog": f"GET {_url(doc)}/v2/_catalog",
        "pull": f"GET {_url(doc)}/v2/{repo}/manifests/{doc.get('anonymous.pull.tag') or '<tag>'}",
        "push": f"POST {_url(doc)}/v2/{repo}/blobs/uploads/",
    }
    shown = calls.get(what) or "; ".join(calls.values())
    return f"HTTP {shown} without credentials"


def _transport(doc: Doc, parts: tuple[str | int, ...]) -> str:
    if len(parts) > 1 and parts[1] in ("http", "plain_http"):
        url = doc.get("transport.http.url") or f"http://{doc.get('endpoint')}/v2/"
        return f"HTTP GET {url} (plain HTTP probe)"
    return f"the TLS handshake with {doc.get('endpoint') or _url(doc)} (certificate as presented)"


REGISTRY: dict[tuple[str | int, ...], Describe] = {
    ("api",): lambda doc, _p: f"HTTP GET {_url(doc)}/v2/ without credentials",
    ("anonymous",): _anonymous,
    ("transport",): _transport,
    ("content",): lambda doc, _p: (
        f"HTTP GET {_url(doc)}/v2/_catalog, /v2/<repository>/tags/list and each tag's manifest "
        "and config blob"
    ),
    ("daemon",): lambda doc, _p: (
        f"the local engine's settings for {doc.get('endpoint')}: GET /info (RegistryConfig) "
        "and /etc/docker/daemon.json insecure-registries"
    ),
    ("docker",): lambda doc, _p: (
        f"lstat of each file under {doc.get('docker.certs_dir') or '/etc/docker/certs.d'}"
    ),
    ("files",): lambda doc, _p: (
        f"lstat of each file under {doc.get('docker.certs_dir') or '/etc/docker/certs.d'}"
    ),
    ("credentials",): lambda doc, _p: (
        "the credentials given to the scan (their value is never stored)"
    ),
    **{(key,): (lambda doc, _p: f"the target {doc.target}") for key in ("scheme", "url")},
    ("endpoint",): lambda doc, _p: f"the target {doc.target}",
}


# --- xccdf-rule: one rule-result of an imported OpenSCAP ARF ------------------------------


def _arf(doc: Doc, _parts: tuple[str | int, ...]) -> str:
    run = doc.get("test_result.id") or "(unnamed TestResult)"
    return (
        f"the imported OpenSCAP ARF of {doc.target}: TestResult {run}, rule-result {doc.resource}"
    )


XCCDF: dict[tuple[str | int, ...], Describe] = {
    (key,): _arf
    for key in [
        "result",
        "severity",
        "title",
        "idents",
        "rule",
        "description",
        "weight",
        "time",
        "references",
        "checks",
        "messages",
        "fix_available",
        "defined",
        "profile",
        "benchmark",
        "test_result",
        "target",
    ]
}


TABLE: dict[str, dict[tuple[str | int, ...], Describe]] = {
    "container": CONTAINER,
    "engine": ENGINE,
    "host": HOST,
    "image": IMAGE,
    "registry": REGISTRY,
    "xccdf-rule": XCCDF,
}


def describer(kind: str, path: str) -> Describe | None:
    """The source of ``path`` in evidence of ``kind``: the longest matching table prefix."""
    table = TABLE.get(kind, {})
    parts = parse_path(path)
    for n in range(len(parts), 0, -1):
        found = table.get(parts[:n])
        if found is not None:
            return found
    return None


def show(value: Any) -> str:
    """A value as the source line shows it: compact JSON, cut to VALUE_CHARS."""
    if value is MISSING:
        return "(absent)"
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def sources(evidence_paths: Sequence[str], doc: Mapping[str, Any] | None) -> list[str]:
    """One line per declared evidence path: where it was read, the field and its value.

    ``doc`` is a stored evidence document (``{kind, target, resource, data}``); without one
    (a target-wide result, or evidence no longer stored) there is nothing to name.
    """
    if not doc or not isinstance(doc.get("data"), Mapping):
        return []
    d = Doc(
        str(doc.get("kind", "")),
        str(doc.get("target", "")),
        str(doc.get("resource", "")),
        doc["data"],
    )
    lines = []
    for path in evidence_paths:
        describe = describer(d.kind, path)
        where = describe(d, parse_path(path)) if describe else "(no source known for this path)"
        value = resolve(d.data, parse_path(path))
        lines.append(f"read: {where}, field {path} = {show(value)}")
    return lines
