"""The evidence model: what each collector can produce, typed, with the invariants a real
collector (and the daemon or host behind it) guarantees.

Only tests and tools import this module (pydantic costs 0.1 s of start-up; no CLI path loads
it). It answers one question about an evidence document: *could a collector have written
this?* A golden fixture that states something no collector could observe (a running
container without a process, ``Privileged: "yes"``, a missing file with a mode) would prove a
verdict on a state that never occurs, so :func:`validate_document` rejects it.

Two readings of a document:

- **complete** (``complete=True``): a document as a collector wrote it. Every field the
  collector always writes must be there (fields it writes only sometimes are marked
  ``sometimes``). Captured fixtures are read this way.
- **projection** (the default): a hand-made fixture may leave out fields its rule does not
  read, but what it keeps must have the collector's types and satisfy the invariants between
  the fields that are present, and it must keep every key its rule declares under
  ``evidence:`` (checked by the test with the rule at hand: :func:`missing_paths`).

Where a collector passes an API object through (the Engine API's inspect and info), the
models allow extra keys; every key a rule reads is typed here.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "KINDS",
    "ContainerData",
    "EngineData",
    "EvidenceDocument",
    "HostData",
    "ImageData",
    "RegistryData",
    "ValidationError",
    "absent_fields",
    "missing_paths",
    "validate_document",
]

ZERO_TIME = "0001-01-01T00:00:00Z"
_PORT_KEY = re.compile(r"^\d{1,5}(-\d{1,5})?/(tcp|udp|sctp)$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_MODE = re.compile(r"^[0-7]{4}$")
_ERROR_FIELD = "error"  # the field naming why a file could not be read


def absent() -> Any:
    """The default of a field that may be left out of a projection (see the module's doc).

    A field declared with it is typed as the collector writes it; ``None`` is accepted only
    where the type says so. Whether it was given is read from ``model_fields_set``."""
    return Field(default=None)


def named(key: str) -> Any:
    """:func:`sometimes`, for a key that is not a Python name (``no-new-privileges``)."""
    return Field(default=None, alias=key, json_schema_extra={"sometimes": True})


def sometimes() -> Any:
    """A field the collector writes only in some states (``State.Health``, ``swarm.cluster``)."""
    return Field(default=None, json_schema_extra={"sometimes": True})


class _Open(BaseModel):
    """An object the collector passes through from an API: unknown keys are kept."""

    model_config = ConfigDict(extra="allow", strict=True)

    def has(self, *names: str) -> bool:
        return all(n in self.model_fields_set for n in names)


class _Closed(BaseModel):
    """An object the collector builds itself: every key is known."""

    model_config = ConfigDict(extra="forbid", strict=True)

    def has(self, *names: str) -> bool:
        return all(n in self.model_fields_set for n in names)


def absent_fields(model: BaseModel, prefix: str = "") -> list[str]:
    """Fields a collector always writes that ``model`` (recursively) leaves out."""
    out: list[str] = []
    for name, info in type(model).model_fields.items():
        key = info.alias or name
        path = f"{prefix}{key}"
        extra = info.json_schema_extra
        optional = isinstance(extra, dict) and extra.get("sometimes")
        if name not in model.model_fields_set:
            if not optional:
                out.append(path)
            continue
        value = getattr(model, name)
        children = value.values() if isinstance(value, dict) else value
        if isinstance(value, BaseModel):
            out.extend(absent_fields(value, path + "."))
        elif isinstance(children, list | type({}.values())):
            for i, child in enumerate(children):
                if isinstance(child, BaseModel):
                    out.extend(absent_fields(child, f"{path}[{i}]."))
    return out


# --------------------------------------------------------------------------- container


ContainerStatus = Literal[
    "created", "running", "paused", "restarting", "removing", "exited", "dead"
]
MIN_MEMORY = 6 * 1024 * 1024  # dockerd refuses a smaller memory limit
IPC_MODES = ("", "none", "private", "shareable", "host")
RUNNING_STATES = frozenset({"running", "paused", "restarting"})


class HealthState(_Open):
    # Podman answers "" for a check that has not run yet
    Status: Literal["starting", "healthy", "unhealthy", "none", ""]
    FailingStreak: Annotated[int, Field(ge=0)] = absent()
    Log: list[dict[str, Any]] | None = absent()


class ContainerState(_Open):
    Status: ContainerStatus
    Running: bool
    Paused: bool = absent()
    Restarting: bool = absent()
    OOMKilled: bool = absent()
    Dead: bool = absent()
    Pid: Annotated[int, Field(ge=0)]
    ExitCode: int = absent()
    Error: str = absent()
    StartedAt: str = absent()
    FinishedAt: str = absent()
    Health: HealthState | None = sometimes()

    @model_validator(mode="after")
    def _consistent(self) -> ContainerState:
        running = self.Status in RUNNING_STATES
        if self.Running != running:
            raise ValueError(f"State.Running is {self.Running} with State.Status {self.Status!r}")
        if self.has("Paused") and self.Paused != (self.Status == "paused"):
            raise ValueError(f"State.Paused is {self.Paused} with State.Status {self.Status!r}")
        if self.has("Restarting") and self.Restarting != (self.Status == "restarting"):
            raise ValueError(
                f"State.Restarting is {self.Restarting} with State.Status {self.Status!r}"
            )
        if self.Status in ("running", "paused") and self.Pid <= 0:
            raise ValueError(f"a {self.Status} container has State.Pid {self.Pid}")
        if not running and self.Pid != 0:
            raise ValueError(f"a {self.Status} container has State.Pid {self.Pid}, not 0")
        if self.Status == "created":
            if self.has("StartedAt") and self.StartedAt != ZERO_TIME:
                raise ValueError("a created container that never started has a StartedAt")
            if self.Health is not None:
                raise ValueError("a created container has no health state yet")
        if running and self.has("StartedAt") and self.StartedAt == ZERO_TIME:
            raise ValueError(f"a {self.Status} container has never started (StartedAt)")
        if self.Status == "exited" and self.has("FinishedAt") and self.FinishedAt == ZERO_TIME:
            raise ValueError("an exited container has no FinishedAt")
        return self


class HealthcheckConfig(_Open):
    Test: list[str] | None = absent()
    Interval: int = sometimes()
    Timeout: int = sometimes()
    Retries: int = sometimes()
    StartPeriod: int = sometimes()

    @model_validator(mode="after")
    def _test(self) -> HealthcheckConfig:
        test = self.Test or []
        if test and test[0] not in ("NONE", "CMD", "CMD-SHELL"):
            raise ValueError(f"Healthcheck.Test starts with {test[0]!r}")
        if test and test[0] != "NONE" and len(test) < 2:
            raise ValueError("Healthcheck.Test names no command")
        return self


class ContainerConfig(_Open):
    Hostname: str = absent()
    User: str = absent()
    Image: str = absent()
    Env: list[str] | None = absent()
    Cmd: list[str] | None = absent()
    Entrypoint: list[str] | None = absent()
    Labels: dict[str, str] | None = absent()
    ExposedPorts: dict[str, dict[str, Any]] | None = sometimes()
    Healthcheck: HealthcheckConfig | None = sometimes()
    WorkingDir: str = absent()

    @model_validator(mode="after")
    def _ports(self) -> ContainerConfig:
        for key in self.ExposedPorts or {}:
            if not _PORT_KEY.match(key):
                raise ValueError(f"Config.ExposedPorts key {key!r} is not PORT/PROTO")
        return self


class PortBinding(_Closed):
    HostIp: str
    HostPort: str

    @model_validator(mode="after")
    def _port(self) -> PortBinding:
        if self.HostPort and not re.fullmatch(r"\d{1,5}(-\d{1,5})?", self.HostPort):
            raise ValueError(f"HostPort {self.HostPort!r} is not a port number")
        return self


PortMap = dict[str, list[PortBinding] | None]


def _check_port_keys(ports: PortMap | None, where: str) -> None:
    for key in ports or {}:
        if not _PORT_KEY.match(key):
            raise ValueError(f"{where} key {key!r} is not PORT/PROTO")


class RestartPolicyConfig(_Open):
    Name: Literal["", "no", "always", "unless-stopped", "on-failure"]
    MaximumRetryCount: Annotated[int, Field(ge=0)]

    @model_validator(mode="after")
    def _retries(self) -> RestartPolicyConfig:
        if self.MaximumRetryCount and self.Name != "on-failure":
            raise ValueError(
                f"RestartPolicy {self.Name!r} with MaximumRetryCount {self.MaximumRetryCount}"
                " (dockerd accepts a count only with on-failure)"
            )
        return self


class Device(_Open):
    PathOnHost: str
    PathInContainer: str
    CgroupPermissions: str


class Ulimit(_Closed):
    Name: str
    Soft: int
    Hard: int


class LogConfigModel(_Open):
    Type: str
    Config: dict[str, str]


class HostConfigModel(_Open):
    Binds: list[str] | None = absent()
    NetworkMode: str = absent()
    PortBindings: PortMap | None = absent()
    RestartPolicy: RestartPolicyConfig = absent()
    CapAdd: list[str] | None = absent()
    CapDrop: list[str] | None = absent()
    CgroupParent: str = absent()
    CpuShares: Annotated[int, Field(ge=0)] = absent()
    Memory: Annotated[int, Field(ge=0)] = absent()
    PidsLimit: int | None = absent()
    Devices: list[Device] | None = absent()
    Ulimits: list[Ulimit] | None = absent()
    IpcMode: str = absent()
    PidMode: str = absent()
    UTSMode: str = absent()
    UsernsMode: str = absent()
    Privileged: bool = absent()
    PublishAllPorts: bool = absent()
    ReadonlyRootfs: bool = absent()
    SecurityOpt: list[str] | None = absent()
    LogConfig: LogConfigModel = absent()
    Mounts: list[dict[str, Any]] | None = sometimes()

    @model_validator(mode="after")
    def _values(self) -> HostConfigModel:
        _check_port_keys(self.PortBindings, "HostConfig.PortBindings")
        # Podman writes "private" where dockerd leaves the field empty
        if self.has("UsernsMode") and self.UsernsMode not in ("", "host", "private"):
            raise ValueError(f"HostConfig.UsernsMode {self.UsernsMode!r}")
        if self.has("UTSMode") and self.UTSMode not in ("", "host", "private"):
            raise ValueError(f"HostConfig.UTSMode {self.UTSMode!r}")
        pid_mode = self.PidMode if self.has("PidMode") else ""
        if pid_mode not in ("", "host", "private") and not pid_mode.startswith("container:"):
            raise ValueError(f"HostConfig.PidMode {self.PidMode!r}")
        ipc_mode = self.IpcMode if self.has("IpcMode") else ""
        if ipc_mode not in IPC_MODES and not ipc_mode.startswith("container:"):
            raise ValueError(f"HostConfig.IpcMode {self.IpcMode!r}")
        if self.has("NetworkMode") and not self.NetworkMode:
            raise ValueError("HostConfig.NetworkMode is empty (dockerd writes 'default')")
        if self.has("Memory") and 0 < self.Memory < MIN_MEMORY:
            raise ValueError(f"HostConfig.Memory {self.Memory} (dockerd's minimum is 6 MiB)")
        for limit in self.Ulimits or []:
            if limit.Hard >= 0 and limit.Soft > limit.Hard:
                raise ValueError(f"ulimit {limit.Name}: soft {limit.Soft} above hard {limit.Hard}")
        if self.has("Privileged") and self.Privileged:
            # dockerd unmasks /proc and /sys paths for a privileged container
            for key in ("MaskedPaths", "ReadonlyPaths"):
                if (self.model_extra or {}).get(key):
                    raise ValueError(f"a privileged container with HostConfig.{key}")
        auto_remove = (self.model_extra or {}).get("AutoRemove")
        policy = self.RestartPolicy.Name if self.has("RestartPolicy") else ""
        if auto_remove is True and policy not in ("", "no"):
            raise ValueError("--rm with a restart policy (dockerd refuses the pair)")
        for opt in self.SecurityOpt or []:
            if not re.fullmatch(r"[a-z-]+([=:].*)?", opt):
                raise ValueError(f"HostConfig.SecurityOpt entry {opt!r} is not KEY[=VALUE]")
        return self


class Mount(_Open):
    Type: Literal["bind", "volume", "tmpfs", "npipe", "cluster", "image"]
    Source: str
    Destination: str
    RW: bool
    Mode: str = absent()
    Propagation: str = absent()
    Name: str = sometimes()
    Driver: str = sometimes()

    @model_validator(mode="after")
    def _shape(self) -> Mount:
        if not self.Destination.startswith("/"):
            raise ValueError(f"mount destination {self.Destination!r} is not absolute")
        if self.Type == "bind":
            if not self.Source.startswith("/"):
                raise ValueError(f"a bind mount's Source {self.Source!r} is not a host path")
            if self.has("Propagation") and self.Propagation not in (
                "",
                "private",
                "rprivate",
                "shared",
                "rshared",
                "slave",
                "rslave",
            ):
                raise ValueError(f"bind propagation {self.Propagation!r}")
        if self.Type == "bind" and self.has("Mode"):
            words = set(self.Mode.split(","))
            if ("ro" in words and self.RW) or ("rw" in words and not self.RW):
                raise ValueError(f"mount mode {self.Mode!r} with RW {self.RW}")
            given = words & {"private", "rprivate", "shared", "rshared", "slave", "rslave"}
            if given and self.has("Propagation") and {self.Propagation} != given:
                raise ValueError(f"mount mode {self.Mode!r} with propagation {self.Propagation}")
        if self.Type == "volume" and not self.Name:
            raise ValueError("a volume mount has no Name")
        if self.Type == "tmpfs" and self.Source:
            raise ValueError("a tmpfs mount has a Source")
        return self


class NetworkSettingsModel(_Open):
    Ports: PortMap | None = absent()
    Networks: dict[str, dict[str, Any]] | None = absent()


class Exec(_Closed):
    ID: str
    Privileged: bool
    User: str
    Running: bool
    Program: str
    HealthCheck: bool = absent()


class DaemonSocketsSeen(_Closed):
    """The unix sockets the daemon serves (CIS 5.32), from its ``hosts`` or the defaults."""

    paths: list[str]
    hosts: list[str]
    hosts_from: str
    resolved: bool

    @model_validator(mode="after")
    def _absolute(self) -> DaemonSocketsSeen:
        relative = [p for p in self.paths if not p.startswith("/")]
        if relative:
            raise ValueError(f"daemon socket paths that are not absolute: {relative}")
        return self


class DaemonSetting(_Closed):
    """One effective daemon setting shown on each container, and where it came from."""

    key: str
    value: bool | str | int | list[Any] | dict[str, Any] | None
    origin: str

    @model_validator(mode="after")
    def _observed(self) -> DaemonSetting:
        if self.origin == "not observed" and self.value is not None:
            raise ValueError(f"daemon setting {self.key} has a value but was not observed")
        return self


class MountSourcesSeen(_Closed):
    """Each bind mount's host source resolved on the engine's machine (CIS 5.6)."""

    resolved: bool
    root: str = sometimes()
    paths: dict[str, str] = sometimes()
    reason: str = sometimes()

    @model_validator(mode="after")
    def _consistent(self) -> MountSourcesSeen:
        if self.resolved != self.has("paths") or self.resolved == self.has("reason"):
            raise ValueError("resolved mount sources have paths; unresolved ones a reason")
        return self


class BindIP(_Closed):
    """Where an empty HostIp of a port binding is bound, and which network option says so."""

    address: str
    from_: str = Field(alias="from")

    @model_validator(mode="after")
    def _address(self) -> BindIP:
        try:
            ipaddress.ip_address(self.address)
        except ValueError:
            raise ValueError(f"DefaultBindIP {self.address!r} is not an IP address") from None
        return self


class AssessorObserved(_Open):
    """What the engine collector adds to an inspect under ``Assessor``."""

    Self: bool
    EngineSecurity: list[str]
    Processes: list[str] | None
    Execs: list[Exec]
    HostSELinux: bool | None = absent()
    DaemonSockets: DaemonSocketsSeen = absent()
    DaemonNoNewPrivileges: DaemonSetting = absent()
    MountSources: MountSourcesSeen = absent()
    DefaultBindIP: BindIP | None = absent()


class ContainerData(_Open):
    Id: str
    Name: str = absent()
    Created: str = absent()
    Path: str = absent()
    Args: list[str] = absent()
    State: ContainerState
    Image: str = absent()
    AppArmorProfile: str = absent()
    ProcessLabel: str = absent()
    MountLabel: str = absent()
    ExecIDs: list[str] | None = absent()
    HostConfig: HostConfigModel
    Mounts: list[Mount] = absent()
    Config: ContainerConfig
    NetworkSettings: NetworkSettingsModel = absent()
    Assessor: AssessorObserved = absent()

    @model_validator(mode="after")
    def _consistent(self) -> ContainerData:
        if not _HEX64.match(self.Id):
            raise ValueError(f"container Id {self.Id!r} is not 64 hex digits")
        if self.has("Name") and not self.Name.startswith("/"):
            raise ValueError(f"container Name {self.Name!r} does not start with '/'")
        if self.has("Image") and not self.Image.startswith("sha256:"):
            raise ValueError(f"Image {self.Image!r} is not an image id (sha256:...)")
        state, host = self.State, self.HostConfig
        exposed = set((self.Config.ExposedPorts or {}).keys())
        if self.Config.has("ExposedPorts"):
            for key in host.PortBindings or {}:
                if key not in exposed:
                    raise ValueError(f"port {key} is bound but not in Config.ExposedPorts")
        if self.has("NetworkSettings") and self.NetworkSettings.has("Ports"):
            self._ports_consistent(exposed)
        if state.Health is not None and self.Config.has("Healthcheck"):
            test = (self.Config.Healthcheck.Test if self.Config.Healthcheck else None) or []
            if not test or test[0] == "NONE":
                raise ValueError("State.Health without a health check in Config.Healthcheck")
        if self.has("Mounts") and host.has("Binds"):
            dests = {m.Destination for m in self.Mounts if m.Type == "bind"}
            for bind in host.Binds or []:
                parts = bind.split(":")
                if len(parts) >= 2 and parts[0].startswith("/") and parts[1] not in dests:
                    raise ValueError(f"bind {bind!r} has no Mounts entry")
        if self.has("Assessor"):
            self._assessor_consistent()
        return self

    def _ports_consistent(self, exposed: set[str]) -> None:
        """The ports dockerd bound: only exposed ones, only while running, each with a host
        address and port."""
        state, host = self.State, self.HostConfig
        running = state.Running
        ports = self.NetworkSettings.Ports
        _check_port_keys(ports, "NetworkSettings.Ports")
        if running and state.Status != "restarting" and not isinstance(ports, dict):
            raise ValueError("a running container's NetworkSettings.Ports is not a dict")
        if not running and ports:
            raise ValueError(f"a {state.Status} container has bound ports {sorted(ports)}")
        if host.has("NetworkMode") and host.NetworkMode in ("host", "none") and ports:
            raise ValueError(f"NetworkMode {host.NetworkMode} with bound ports")
        if self.Config.has("ExposedPorts"):
            for key in ports or {}:
                if key not in exposed:
                    raise ValueError(f"port {key} is bound but not in Config.ExposedPorts")
        for key, bindings in (ports or {}).items():
            for b in bindings or []:
                if not b.HostPort or not b.HostIp:
                    raise ValueError(
                        f"an actual binding of {key} has no host address or port "
                        "(dockerd fills both in when it binds)"
                    )

    def _assessor_consistent(self) -> None:
        """What assessor observed beside the inspect document agrees with it."""
        state = self.State
        running = state.Running
        seen = self.Assessor
        if not running and seen.Processes is not None:
            raise ValueError(f"a {state.Status} container has processes listed")
        if seen.Processes is not None and not seen.Processes and state.Status == "running":
            raise ValueError("a running container has no process at all")
        if self.has("ExecIDs"):
            ids = self.ExecIDs or []
            for e in seen.Execs:
                if not any(i.startswith(e.ID) for i in ids):
                    raise ValueError(f"exec session {e.ID} is not one of ExecIDs")
        sources = seen.MountSources if seen.has("MountSources") else None
        if sources is not None and sources.resolved and self.has("Mounts"):
            binds = {m.Source for m in self.Mounts if m.Type == "bind"}
            if set(sources.paths) != binds:
                raise ValueError("Assessor.MountSources does not resolve the bind sources")
        if not running and any(e.Running for e in seen.Execs):
            raise ValueError(f"a {state.Status} container has a running exec session")


# --------------------------------------------------------------------------- host


class FileStat(_Closed):
    """One path as ``RootFS.stat`` describes it."""

    path: str
    exists: bool | None
    error: str = sometimes()
    dangling_link: bool = sometimes()
    type: Literal[
        "file", "directory", "symlink", "socket", "fifo", "char-device", "block-device", "other"
    ] = sometimes()
    mode: str = sometimes()
    uid: Annotated[int, Field(ge=0)] = sometimes()
    gid: Annotated[int, Field(ge=0)] = sometimes()
    user: str | None = sometimes()
    group: str | None = sometimes()
    size: Annotated[int, Field(ge=0)] = sometimes()
    link_target: str | None = sometimes()

    @model_validator(mode="after")
    def _consistent(self) -> FileStat:
        stat_fields = ("type", "mode", "uid", "gid", "user", "group", "size", "link_target")
        given = [f for f in stat_fields if f in self.model_fields_set]
        if self.exists is True:
            needed = [f for f in ("type", "mode", "uid", "gid") if f not in self.model_fields_set]
            if needed:
                raise ValueError(f"{self.path}: exists but has no {', '.join(needed)}")
            if not _MODE.match(self.mode):
                raise ValueError(f"{self.path}: mode {self.mode!r} is not four octal digits")
            if _ERROR_FIELD in self.model_fields_set:
                raise ValueError(f"{self.path}: exists and has an error")
        else:
            if given:
                raise ValueError(
                    f"{self.path}: exists is {self.exists} but it has {', '.join(given)}"
                )
            if self.exists is None and _ERROR_FIELD not in self.model_fields_set:
                raise ValueError(f"{self.path}: exists is unknown without an error")
            if self.exists is False and _ERROR_FIELD in self.model_fields_set:
                raise ValueError(f"{self.path}: absent, with an error")
        if "dangling_link" in self.model_fields_set and self.exists is not False:
            raise ValueError(f"{self.path}: a dangling link that exists")
        if self.type == "symlink":
            raise ValueError(f"{self.path}: stat follows links; its type is never 'symlink'")
        return self


class HostSystem(_Open):
    hostname: str | None
    machine_id: str | None
    os: dict[str, str]
    arch: str | None


class MountEntry(_Closed):
    """One mount as the host collector reads it (mountinfo, or an offline root's fstab)."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    point: str
    device: str | None
    fstype: str | None
    dev: str | None  # major:minor (mountinfo only)
    root: str | None  # the directory of the filesystem mounted there (mountinfo only)
    options: str | None
    origin: str | None = Field(default=None, alias="from", json_schema_extra={"sometimes": True})

    @model_validator(mode="after")
    def _point(self) -> MountEntry:
        if not self.point.startswith("/"):
            raise ValueError(f"mount point {self.point!r} is not absolute")
        return self


def _holds(point: str, path: str) -> bool:
    return path == point or path.startswith(point.rstrip("/") + "/")


class HostDocker(_Open):
    daemon_json: dict[str, Any] | None
    daemon_json_error: str | None
    tls_files: dict[str, str]
    registry_certs: list[FileStat]
    data_root: str = absent()
    data_root_from: str = absent()
    data_root_real: str | None = absent()
    data_root_mount: MountEntry | None = absent()
    data_root_parent_mount: MountEntry | None = absent()

    @model_validator(mode="after")
    def _consistent(self) -> HostDocker:
        if self.daemon_json is not None and self.daemon_json_error is not None:
            raise ValueError("daemon.json both read and unreadable")
        real, mount = self.data_root_real, self.data_root_mount
        if self.has("data_root_real", "data_root_mount"):
            if (real is None) != (mount is None):
                raise ValueError("a data root mount without a data root, or the reverse")
            if real is not None and mount is not None and not _holds(mount.point, real):
                raise ValueError(f"data_root_mount {mount.point} does not hold {real}")
        parent = self.data_root_parent_mount
        if (
            real is not None
            and parent is not None
            and (parent.point == real or not _holds(parent.point, real))
        ):
            raise ValueError(f"data_root_parent_mount {parent.point} is not above {real}")
        return self


class HostMounts(_Closed):
    source: str
    points: list[str]
    entries: list[MountEntry]

    @model_validator(mode="after")
    def _consistent(self) -> HostMounts:
        if not (self.source == "/proc/self/mountinfo" or self.source.startswith("/etc/fstab")):
            raise ValueError(f"mounts read from {self.source!r}, which no collector reads")
        if sorted({e.point for e in self.entries}) != self.points:
            raise ValueError("mount points that are not the entries' points")
        return self


class Unit(_Closed):
    path: str
    file: FileStat
    exec_start: list[str]

    @model_validator(mode="after")
    def _found(self) -> Unit:
        if self.file.exists is False:
            raise ValueError(f"unit {self.path} was found, but its file does not exist")
        return self


class HostSystemd(_Closed):
    units: dict[str, Unit]


class AuditRule(_Closed):
    """One audit rule (assessor/collectors/_audit.py ``Rule.to_json`` plus the resolved path)."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    text: str
    origin: str
    list_name: str = Field(alias="list")
    action: Literal["always", "never", "possible"] | str
    watch: Literal["path", "dir"] | None
    path: str | None
    perms: str | None
    key: str | None
    syscalls: Literal["all", "listed"]
    filters: list[str]
    resolved: str | None

    @model_validator(mode="after")
    def _consistent(self) -> AuditRule:
        if (self.path is None) != (self.resolved is None):
            raise ValueError("an audit rule's path and resolved path go together")
        if self.perms is not None and set(self.perms) - set("rwxa"):
            raise ValueError(f"audit permissions {self.perms!r} (only r, w, x, a)")
        return self


class AuditFile(_Closed):
    path: str
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    size: Annotated[int, Field(ge=0)]
    loaded_by_auditd: bool


class Auditd(_Closed):
    installed: bool
    running: bool
    pids: list[int]

    @model_validator(mode="after")
    def _consistent(self) -> Auditd:
        if self.running and not self.installed:
            raise ValueError("auditd runs but is not installed")
        if self.running != bool(self.pids):
            raise ValueError("auditd running without a process id, or the reverse")
        return self


class AuditLoaded(_Closed):
    command: Literal["auditctl -l"]
    returncode: int | None
    output: list[str]
    stderr: str | None = sometimes()
    read: str


class AuditStatus(_Closed):
    command: Literal["auditctl -s"]
    enabled: int | None


class Audit(_Closed):
    live: bool
    source: Literal["kernel", "files", "none"]
    files: list[AuditFile]
    file_rules: list[AuditRule]
    rules: list[AuditRule]
    real_paths: dict[str, str | None]
    errors: list[str]
    auditd: Auditd | None  # None on an offline root, as loaded and status
    loaded: AuditLoaded | None
    status: AuditStatus | None

    @model_validator(mode="after")
    def _consistent(self) -> Audit:
        live_keys = [k for k in ("auditd", "loaded", "status") if getattr(self, k) is not None]
        if self.live and len(live_keys) != 3:
            raise ValueError("live audit evidence without auditd, loaded and status")
        if not self.live:
            if live_keys:
                raise ValueError(f"an offline root has no {', '.join(live_keys)} to read")
            if self.source == "kernel":
                raise ValueError("an offline root has no kernel rules to read")
            if self.rules != self.file_rules:
                raise ValueError("an offline root's rules are its rules files' rules")
            if self.source == "files" and not self.files:
                raise ValueError("audit rules read from files, but no file is named")
        if self.source == "none" and self.rules:
            raise ValueError("no audit rules source, yet rules are listed")
        if self.live and self.source == "kernel" and self.auditd and not self.auditd.installed:
            raise ValueError("kernel rules listed with auditctl, but auditd is not installed")
        return self


class Kernel(_Open):
    release: str
    cgroup_version: Literal[1, 2]
    lsm: list[str] | None
    apparmor_enabled: bool
    selinux_enabled: bool
    seccomp_available: bool
    user_namespaces: bool

    @model_validator(mode="after")
    def _lsm(self) -> Kernel:
        if self.lsm is not None:
            if self.apparmor_enabled and "apparmor" not in self.lsm:
                raise ValueError("AppArmor enabled but not among the kernel's LSMs")
            if self.selinux_enabled and "selinux" not in self.lsm:
                raise ValueError("SELinux enabled but not among the kernel's LSMs")
        return self


class Listening(_Closed):
    address: str
    port: Annotated[int, Field(ge=0, le=65535)]
    protocol: Literal["tcp", "udp"] = absent()


class HostData(_Open):
    root: str
    live: bool
    system: HostSystem = absent()
    files: dict[str, FileStat]
    docker: HostDocker = absent()
    mounts: HostMounts = absent()
    groups: dict[str, list[str] | None] = absent()
    listening: list[Listening] | None = absent()
    systemd: HostSystemd = absent()
    audit: Audit = absent()
    sysctl: dict[str, int | str] | None = absent()
    kernel: Kernel | None = absent()

    @model_validator(mode="after")
    def _consistent(self) -> HostData:
        if self.live != (self.root.rstrip("/") == ""):
            raise ValueError(f"live is {self.live} for root {self.root!r} (live means host:/)")
        for key, entry in self.files.items():
            if entry.path != key:
                raise ValueError(f"files[{key!r}] describes {entry.path!r}")
        if not self.live:
            if self.has("kernel") and self.kernel is not None:
                raise ValueError("an offline root has no running kernel to read")
            if self.has("sysctl") and self.sysctl is not None:
                raise ValueError("an offline root has no sysctls to read")
            if self.has("listening") and self.listening is not None:
                raise ValueError("an offline root has no listening sockets")
            if self.has("mounts") and not self.mounts.source.startswith("/etc/fstab"):
                raise ValueError("an offline root's mounts come from its fstab")
        else:
            if self.has("kernel") and self.kernel is None:
                raise ValueError("a live host without kernel facts")
            if self.has("mounts") and self.mounts.source != "/proc/self/mountinfo":
                raise ValueError("a live host's mounts come from its mount table")
        if self.has("audit") and self.audit.live != self.live:
            raise ValueError(f"audit.live is {self.audit.live} on a host with live {self.live}")
        if self.has("mounts", "docker") and self.docker.has("data_root_mount"):
            mount = self.docker.data_root_mount
            if mount is not None and mount.point != "/" and mount.point not in self.mounts.points:
                raise ValueError(f"data_root_mount {mount.point} is not a mount point")
        return self


# --------------------------------------------------------------------------- engine


SwarmState = Literal["inactive", "pending", "active", "error", "locked"]


class Swarm(_Open):
    state: SwarmState
    active: bool
    manager: bool
    managers: int | None = absent()
    nodes: int | None = absent()
    node_addr: str | None = absent()
    cluster: dict[str, Any] = sometimes()
    autolock: bool = sometimes()
    node_cert_expiry_hours: float | None = sometimes()
    read: list[str] = absent()  # the API calls the swarm state came from

    @model_validator(mode="after")
    def _consistent(self) -> Swarm:
        if self.active != (self.state == "active"):
            raise ValueError(f"swarm.active is {self.active} with state {self.state!r}")
        if self.manager and not self.active:
            raise ValueError("a swarm manager on an inactive node")
        given = [f for f in ("cluster", "autolock") if f in self.model_fields_set]
        if given and not (self.active and self.manager):
            raise ValueError(f"swarm {', '.join(given)} read on a node that is not a manager")
        if "cluster" in self.model_fields_set and "JoinTokens" in self.cluster:
            raise ValueError("swarm join tokens are dropped by the collector")
        return self


class Effective(_Open):
    """``daemon.effective``: dockerd's settings under daemon.json's key names (each one only
    when a source showed it: a remote engine's unobserved settings stay absent)."""

    model_config = ConfigDict(extra="allow", strict=True, populate_by_name=True)

    icc: bool = sometimes()
    iptables: bool = sometimes()
    ip_forward: bool = named("ip-forward")
    ip_masq: bool = named("ip-masq")
    live_restore: bool = named("live-restore")
    userland_proxy: bool = named("userland-proxy")
    no_new_privileges: bool = named("no-new-privileges")
    experimental: bool = sometimes()
    debug: bool = sometimes()
    tls: bool = sometimes()
    tlsverify: bool = sometimes()
    rootless: bool = sometimes()
    selinux_enabled: bool = named("selinux-enabled")
    userns_remap: bool | str = named("userns-remap")
    log_driver: str = named("log-driver")
    log_level: str = named("log-level")
    storage_driver: str = named("storage-driver")
    storage_opts: list[str] = named("storage-opts")
    seccomp_profile: str = named("seccomp-profile")
    cgroup_parent: str = named("cgroup-parent")
    data_root: str = named("data-root")
    insecure_registries: list[str] = named("insecure-registries")
    authorization_plugins: list[str] = named("authorization-plugins")
    default_ulimits: dict[str, Any] = named("default-ulimits")
    hosts: list[str] = sometimes()


class Daemon(_Open):
    found: bool
    source: Literal["api", "process"] = absent()
    running: dict[str, Any] = absent()
    pid: int = sometimes()
    argv: list[str] = sometimes()
    flags: dict[str, Any] = sometimes()
    config_file: str | None = sometimes()
    daemon_json: dict[str, Any] | None = sometimes()
    daemon_json_error: str | None = sometimes()
    daemon_json_changed_since_start: bool | None = sometimes()
    process: dict[str, Any] = sometimes()
    effective: Effective = absent()
    origin: dict[str, str] = absent()
    conflicts: list[dict[str, Any]] = absent()
    rootless: bool = sometimes()  # written when dockerd's process was read
    read: dict[str, Any] = absent()  # what was read: API calls, command line, config file

    @model_validator(mode="after")
    def _consistent(self) -> Daemon:
        if self.has("source") and self.found != (self.source == "process"):
            raise ValueError(f"daemon.found {self.found} with source {self.source!r}")
        read = [f for f in ("pid", "argv", "flags") if f in self.model_fields_set]
        if not self.found and read:
            raise ValueError(f"daemon not found, yet its {', '.join(read)} were read")
        if "rootless" in self.model_fields_set and not self.found:
            raise ValueError("rootless said of a daemon whose process was not read")
        if self.has("read"):
            api = self.read.get("api")
            if not isinstance(api, list) or not all(isinstance(a, str) for a in api):
                raise ValueError("daemon.read.api is not a list of API calls")
            local = [k for k in ("cmdline", "config_sha256") if k in self.read]
            if local and not self.found:
                raise ValueError(f"daemon.read names {', '.join(local)} of a process not read")
        if self.found and "pid" in self.model_fields_set and self.pid <= 0:
            raise ValueError(f"daemon pid {self.pid}")
        if self.has("origin"):
            for key, where in self.origin.items():
                if where not in ("daemon.json", "flag", "running", "default"):
                    raise ValueError(f"daemon.origin[{key!r}] is {where!r}")
                if where in ("flag", "default") and not self.found:
                    raise ValueError(f"daemon.origin[{key!r}] is {where!r} without the process")
        return self


class EngineInfo(_Open):
    ID: str = absent()
    Name: str = absent()
    Driver: str = absent()
    DockerRootDir: str = absent()
    ExperimentalBuild: bool = absent()
    LiveRestoreEnabled: bool = absent()
    SecurityOptions: list[str] = absent()
    RegistryConfig: dict[str, Any] = absent()
    Swarm: dict[str, Any] = absent()
    Containers: int = absent()
    ContainersRunning: int = absent()
    ContainersPaused: int = absent()
    ContainersStopped: int = absent()

    @model_validator(mode="after")
    def _consistent(self) -> EngineInfo:
        if self.has("RegistryConfig"):
            cidrs = self.RegistryConfig.get("InsecureRegistryCIDRs")
            if not isinstance(cidrs, list | None):
                raise ValueError("info.RegistryConfig.InsecureRegistryCIDRs is not a list")
        if self.has("Containers", "ContainersRunning", "ContainersPaused", "ContainersStopped"):
            parts = self.ContainersRunning + self.ContainersPaused + self.ContainersStopped
            if parts != self.Containers:
                raise ValueError("info.Containers is not running + paused + stopped")
        return self


class ContainerCounts(_Closed):
    total: Annotated[int, Field(ge=0)]
    running: Annotated[int, Field(ge=0)]
    stopped: Annotated[int, Field(ge=0)]

    @model_validator(mode="after")
    def _sum(self) -> ContainerCounts:
        if self.running + self.stopped != self.total:
            raise ValueError("containers.running + containers.stopped != containers.total")
        return self


class ImageCounts(_Closed):
    total: Annotated[int, Field(ge=0)]
    in_use: Annotated[int, Field(ge=0)]
    unused: list[str]
    unused_count: Annotated[int, Field(ge=0)]

    @model_validator(mode="after")
    def _sum(self) -> ImageCounts:
        if self.in_use + self.unused_count != self.total:
            raise ValueError("images.in_use + images.unused_count != images.total")
        if len(self.unused) > self.unused_count:
            raise ValueError("more unused images listed than counted")
        return self


class EngineData(_Open):
    version: dict[str, Any]
    product: Literal["docker", "podman"]
    connection: dict[str, Any] = absent()
    info: EngineInfo
    daemon: Daemon
    swarm: Swarm = absent()
    networks: list[dict[str, Any]] = absent()
    images: ImageCounts = absent()
    containers: ContainerCounts = absent()

    @model_validator(mode="after")
    def _consistent(self) -> EngineData:
        if self.has("swarm") and self.info.has("Swarm"):
            state = self.info.Swarm.get("LocalNodeState") or "inactive"
            if state != self.swarm.state:
                raise ValueError(f"swarm.state {self.swarm.state!r}, info says {state!r}")
        if self.has("connection"):
            scheme = self.connection.get("scheme")
            if scheme not in ("unix", "tcp", "ssh", "npipe"):
                raise ValueError(f"connection.scheme {scheme!r}")
            if scheme != "unix" and self.daemon.found:
                raise ValueError("dockerd's process read through a remote connection")
        effective = self.daemon.effective if self.daemon.has("effective") else None
        if (
            effective is not None
            and self.info.has("LiveRestoreEnabled")
            and effective.has("live_restore")
            and effective.live_restore != self.info.LiveRestoreEnabled
        ):
            raise ValueError("daemon.effective live-restore differs from what the engine reports")
        if (
            effective is not None
            and self.info.has("Driver")
            and effective.has("storage_driver")
            and effective.storage_driver != self.info.Driver
        ):
            raise ValueError("daemon.effective storage-driver differs from info.Driver")
        return self


# --------------------------------------------------------------------------- image


class FileItem(_Closed):
    """One file of the image's final filesystem (``fs._item``)."""

    path: str
    type: Literal["file", "directory", "hard link", "char device", "block device"]
    mode: str
    uid: Annotated[int, Field(ge=0)]
    gid: Annotated[int, Field(ge=0)]
    layer: str
    bits: str = sometimes()

    @model_validator(mode="after")
    def _shape(self) -> FileItem:
        if not self.path.startswith("/"):
            raise ValueError(f"image file {self.path!r} is not absolute")
        if not _MODE.match(self.mode):
            raise ValueError(f"{self.path}: mode {self.mode!r} is not four octal digits")
        return self

    @property
    def bits_set(self) -> int:
        return int(self.mode, 8)


class FileList(_Closed):
    count: Annotated[int, Field(ge=0)]
    items: list[FileItem]
    truncated: bool

    @model_validator(mode="after")
    def _count(self) -> FileList:
        if len(self.items) > self.count:
            raise ValueError("more items listed than counted")
        if self.truncated != (len(self.items) < self.count):
            raise ValueError("truncated must say whether items holds fewer than count")
        return self


class ImageFiles(_Open):
    entries: Annotated[int, Field(ge=0)] = absent()
    bytes: Annotated[int, Field(ge=0)] = absent()
    setuid: FileList
    world_writable: FileList
    devices: FileList

    @model_validator(mode="after")
    def _kinds(self) -> ImageFiles:
        for item in self.setuid.items:
            mode = item.bits_set
            bits = "+".join(b for b, m in (("setuid", 0o4000), ("setgid", 0o2000)) if mode & m)
            if not bits or item.type not in ("file", "hard link") or item.bits != bits:
                raise ValueError(f"{item.path} ({item.type} {item.mode}) listed as setuid/setgid")
        for item in self.world_writable.items:
            mode = item.bits_set
            sticky_dir = item.type == "directory" and mode & 0o1000
            if not mode & 0o002 or sticky_dir or item.type.endswith("device"):
                raise ValueError(f"{item.path} ({item.type} {item.mode}) listed as world-writable")
        for item in self.devices.items:
            if not item.type.endswith("device"):
                raise ValueError(f"{item.path} ({item.type}) listed as a device")
        if self.has("entries"):
            listed = {i.path for lst in (self.setuid, self.world_writable) for i in lst.items}
            if len(listed) > self.entries:
                raise ValueError("more files listed than the image holds")
        return self


class AddSource(_Open):
    source: Literal["base-rootfs", "local", "local-archive", "remote"]
    url: str = sometimes()


class HistoryStep(_Open):
    """One build step as the image collector describes it (``meta.history``)."""

    step: Annotated[int, Field(ge=1)] = absent()
    created_by: str
    instruction: str = absent()
    empty_layer: bool = absent()
    comment: str = sometimes()
    add: AddSource = sometimes()
    run: str = sometimes()

    @model_validator(mode="after")
    def _instruction(self) -> HistoryStep:
        if self.has("instruction"):
            if self.has("add") != (self.instruction == "ADD"):
                raise ValueError(f"step {self.created_by!r}: 'add' goes with ADD steps only")
            if self.has("run") != (self.instruction == "RUN"):
                raise ValueError(f"step {self.created_by!r}: 'run' goes with RUN steps only")
        return self


class ImageConfig(_Open):
    User: str
    Env: list[str]
    Cmd: list[str]
    Entrypoint: list[str]
    ExposedPorts: list[str]
    Volumes: list[str]
    Labels: dict[str, str]
    Healthcheck: dict[str, Any] | None
    WorkingDir: str = absent()
    OnBuild: list[str] = absent()

    @model_validator(mode="after")
    def _shape(self) -> ImageConfig:
        for port in self.ExposedPorts:
            if not _PORT_KEY.match(port):
                raise ValueError(f"config.ExposedPorts entry {port!r} is not PORT/PROTO")
        test = (self.Healthcheck or {}).get("Test")
        if self.Healthcheck is not None and not isinstance(test, list):
            raise ValueError("config.Healthcheck without a Test list")
        return self


class Secrets(_Closed):
    count: Annotated[int, Field(ge=0)]
    items: list[dict[str, Any]]

    @model_validator(mode="after")
    def _count(self) -> Secrets:
        if len(self.items) > self.count:
            raise ValueError("more secrets listed than counted")
        return self


class Signatures(_Open):
    checked: bool
    reason: str = sometimes()
    present: bool = sometimes()

    @model_validator(mode="after")
    def _consistent(self) -> Signatures:
        if not self.checked and "present" in self.model_fields_set:
            raise ValueError("signatures not checked, yet said present or not")
        if not self.checked and "reason" not in self.model_fields_set:
            raise ValueError("signatures not checked without a reason")
        return self


class ImageData(_Open):
    reference: str
    collection_error: str = sometimes()
    transport: Literal["docker-archive", "oci", "docker-daemon", "docker"] = absent()
    id: str = absent()
    digest: str | None = absent()
    repo_tags: list[str] = absent()
    # when the config and layers were read and checked against their digests (an engine's
    # image read within --image-cache-days is not read again: image.cache)
    read_at: str = absent()
    created: str | None = absent()
    age_days: int | None = absent()
    author: str = absent()
    os: str = absent()
    architecture: str = absent()
    variant: str = absent()
    platform: str = absent()
    config: ImageConfig = absent()
    history: list[HistoryStep] = absent()
    files: ImageFiles = absent()
    packages: dict[str, Any] = absent()
    ssh_server: list[Any] = absent()
    remote_shell_ports: list[Any] = absent()
    layers: list[dict[str, Any]] = absent()
    secrets: Secrets = absent()
    signatures: Signatures = absent()
    base_image: dict[str, Any] = absent()

    @model_validator(mode="after")
    def _consistent(self) -> ImageData:
        if "collection_error" in self.model_fields_set:
            others = self.model_fields_set - {"collection_error", "reference"}
            if others:
                raise ValueError(
                    f"an image that could not be read has facts: {', '.join(sorted(others))}"
                )
            return self
        if self.has("id") and not re.fullmatch(r"sha256:[0-9a-f]{64}", self.id):
            raise ValueError(f"image id {self.id!r} is not a sha256 digest")
        if self.has("read_at") and not re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", self.read_at
        ):
            raise ValueError(f"read_at {self.read_at!r} is not a UTC time")
        registry = self.has("transport") and self.transport == "docker"
        if self.has("transport", "signatures") and not registry and self.signatures.checked:
            raise ValueError("signatures are checked only for images read from a registry")
        if self.has("transport", "digest") and self.transport == "docker" and not self.digest:
            raise ValueError("an image read from a registry has no manifest digest")
        if self.has("history"):
            for i, h in enumerate(self.history):
                if h.has("step") and h.step != i + 1:
                    raise ValueError(f"history[{i}] is numbered {h.step}")
        if self.has("history", "layers"):
            layered = [h for h in self.history if not h.empty_layer]
            if len(layered) != len(self.layers):
                raise ValueError(
                    f"history has {len(layered)} non-empty steps for {len(self.layers)} layers"
                )
        return self


# --------------------------------------------------------------------------- registry


class Certificate(_Open):
    not_before: str
    not_after: str
    days_left: int
    expired: bool
    not_yet_valid: bool
    hostname_match: bool
    self_signed: bool

    @model_validator(mode="after")
    def _dates(self) -> Certificate:
        if self.expired and self.days_left >= 0:
            raise ValueError("an expired certificate with days left")
        if self.not_before > self.not_after:
            raise ValueError("a certificate whose validity ends before it starts")
        return self


class Tls(_Open):
    checked: bool
    reason: str = sometimes()
    protocol: str | None = sometimes()
    trusted: bool = sometimes()
    verify_error: str | None = sometimes()
    certificate: Certificate | None = sometimes()

    @model_validator(mode="after")
    def _consistent(self) -> Tls:
        if not self.checked and self.has("protocol") and self.protocol:
            raise ValueError("TLS not checked, yet a protocol was negotiated")
        if not self.checked and "reason" not in self.model_fields_set:
            raise ValueError("TLS not checked without a reason")
        if self.has("trusted", "verify_error") and self.trusted and self.verify_error:
            raise ValueError("a trusted certificate with a verification error")
        return self


class Transport(_Open):
    plain_http: bool
    http: dict[str, Any] | None = absent()
    tls: Tls


class Api(_Open):
    status: int
    anonymous_access: bool
    version: str | None = absent()

    @model_validator(mode="after")
    def _anonymous(self) -> Api:
        if self.anonymous_access and self.status != 200:
            raise ValueError(f"anonymous access to /v2/ with status {self.status}")
        return self


class Probe(_Open):
    allowed: bool = sometimes()
    status: int | None = sometimes()
    error: str = sometimes()

    @model_validator(mode="after")
    def _allowed(self) -> Probe:
        if self.has("allowed", "status") and self.allowed and self.status in (401, 403):
            raise ValueError(f"allowed with status {self.status}")
        return self


class Anonymous(_Open):
    catalog: Probe
    pull: Probe
    push: Probe


class Content(_Open):
    stale_days: int
    tags: list[dict[str, Any]] = sometimes()
    latest: list[dict[str, Any]] = sometimes()
    error: str = sometimes()


class RegistryData(_Open):
    url: str = absent()
    endpoint: str = absent()
    scheme: Literal["https", "http"] = absent()
    collection_error: str = sometimes()
    transport: Transport = absent()
    api: Api = absent()
    anonymous: Anonymous = absent()
    content: Content = absent()
    daemon: dict[str, Any] = absent()
    docker: dict[str, Any] = absent()
    credentials: dict[str, Any] = absent()

    @model_validator(mode="after")
    def _consistent(self) -> RegistryData:
        if "collection_error" in self.model_fields_set:
            others = self.model_fields_set - {"collection_error"}
            if others:
                raise ValueError(
                    f"a registry that could not be read has facts: {', '.join(sorted(others))}"
                )
            return self
        if self.has("scheme", "url") and not self.url.startswith(f"{self.scheme}://"):
            raise ValueError(f"scheme {self.scheme} for url {self.url}")
        tls = self.transport.tls if self.has("transport") else None
        if self.has("scheme") and self.scheme == "http" and tls is not None and tls.protocol:
            raise ValueError("a plain-HTTP registry with a negotiated TLS protocol")
        return self


class XccdfData(_Open):
    rule: str
    # the importer keeps whatever the ARF file says (at most 32 characters); the rule judges it
    result: Annotated[str, Field(max_length=32)]


# --------------------------------------------------------------------------- documents


DATA_MODELS: dict[str, type[BaseModel]] = {
    "container": ContainerData,
    "host": HostData,
    "engine": EngineData,
    "image": ImageData,
    "registry": RegistryData,
    "xccdf-rule": XccdfData,
}
KINDS = tuple(DATA_MODELS)


class EvidenceDocument(_Closed):
    kind: Literal["container", "host", "engine", "image", "registry", "xccdf-rule"]
    target: str
    resource: str
    data: dict[str, Any]
    redactions: list[dict[str, Any]] = absent()

    @model_validator(mode="after")
    def _target(self) -> EvidenceDocument:
        prefix = {
            "container": ("engine:",),
            "engine": ("engine:",),
            "host": ("host:",),
            "image": ("image:", "engine:", "registry:"),
            "registry": ("registry:",),
            "xccdf-rule": ("openscap:",),
        }[self.kind]
        if not self.target.startswith(prefix):
            raise ValueError(f"a {self.kind} document from target {self.target!r}")
        return self


def validate_document(doc: dict[str, Any], *, complete: bool = False) -> BaseModel:
    """The typed data of an evidence document; raises ValidationError (pydantic's) or
    ValueError when no collector could have written it."""
    envelope = EvidenceDocument.model_validate(doc)
    model = DATA_MODELS[envelope.kind].model_validate(envelope.data)
    if envelope.kind == "container" and "Name" in envelope.data:
        name = str(envelope.data["Name"]).lstrip("/")
        if not envelope.resource.startswith(f"{name} ("):
            raise ValueError(f"resource {envelope.resource!r} does not name container {name!r}")
    if envelope.kind == "engine" and isinstance(envelope.data.get("connection"), dict):
        scheme = envelope.data["connection"].get("scheme")
        if not envelope.target.startswith(f"engine:{scheme}:"):
            raise ValueError(f"connection.scheme {scheme!r} for target {envelope.target!r}")
    if complete:
        missing = absent_fields(model)
        if missing:
            raise ValueError("fields a collector always writes are missing: " + ", ".join(missing))
    return model


def missing_paths(kind: str, data: dict[str, Any], paths: list[str]) -> list[str]:
    """The evidence paths a rule declares (dotted, ``files["/x"]`` included) that ``data``
    leaves out although a collector always writes them: a projection must keep what its rule
    reads. A path is followed while it names model fields; a field the collector writes only
    sometimes (``State.Health``), the key of a mapping (``systemd.units["docker.service"]``)
    and what lies below an API object's unknown keys may be absent."""
    out: list[str] = []
    if "collection_error" in data:  # the collector could not read the resource: nothing else
        return out
    for path in paths:
        node: Any = data
        model: type[BaseModel] | None = DATA_MODELS[kind]
        for part in _split(path):
            info = _field(model, part) if model is not None else None
            if info is None:
                break  # a mapping key or an unknown key: the collector may leave it out
            if not isinstance(node, dict) or part not in node:
                extra = info.json_schema_extra
                if not (isinstance(extra, dict) and extra.get("sometimes")):
                    out.append(path)
                break
            node = node[part]
            model = _model_of(info.annotation)
    return out


def _field(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if (info.alias or name) == key:
            return info
    return None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model class a field holds (through ``X | None`` and ``Annotated``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _split(path: str) -> list[str]:
    return [
        m.group(1) if m.group(1) is not None else m.group(2)
        for m in re.finditer(r'\["([^"]*)"\]|([^.\[\]]+)', path)
    ]
