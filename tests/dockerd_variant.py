"""A second dockerd, started for a test with a daemon.json of its own.

The system's dockerd (other tests scan it) is never touched: the variant has its own data
root, exec root (and so its own supervised containerd), pid file, API socket and config
file, all under one short temporary folder, and, by default, a network namespace of its own
(its docker0, iptables chains and listening ports are there). Usage::

    with dockerd_variant({"icc": False}) as d:
        run_cli("scan", f"engine:unix://{d.socket}")
        d.docker("create", ...)

(module-scoped fixtures wrap it: ``with dockerd_variant(...) as d: yield d``). On exit the
daemon's containers are removed, dockerd is stopped (SIGTERM, then SIGKILL after 30 s),
anything left mounted under the folder is unmounted and the folder is removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import busybox_rootfs_tar, docker_cli, missing

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def api_get(sock: str, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """One GET on a unix-socket Engine API: the status code and the body."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(sock)
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, body


def wait_for_api(
    sock: str, process: subprocess.Popen[bytes] | None, timeout: float, log: Path
) -> None:
    """Until ``/info`` answers 200; fails with the daemon's log when it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"dockerd exited with {process.returncode}:\n{_tail(log)}")
        with contextlib.suppress(OSError, ValueError, IndexError):
            if os.path.exists(sock) and api_get(sock, "/info")[0] == 200:
                return
        time.sleep(0.2)
    raise AssertionError(
        f"dockerd did not answer /info on {sock} in {timeout:.0f} s:\n{_tail(log)}"
    )


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def unmount_below(folder: Path) -> None:
    """Unmount (lazily, deepest first) whatever is still mounted under ``folder``."""
    prefix = str(folder.resolve()) + "/"
    points = []
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4:
                point = fields[4].replace("\\040", " ")
                if point.startswith(prefix):
                    points.append(point)
    for point in sorted(set(points), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


@dataclass
class Daemon:
    """A running variant dockerd: its socket, folders and process."""

    socket: str
    folder: Path
    config_file: Path
    data_root: Path
    exec_root: Path
    pidfile: Path
    log: Path
    pid: int
    argv: list[str]
    netns: str = ""
    label: str = field(default_factory=lambda: secrets.token_hex(16))
    image: str = ""

    @property
    def target(self) -> str:
        return f"engine:unix://{self.socket}"

    def docker(self, *args: str, check: bool = True, input: bytes | None = None) -> str:
        """The docker CLI against this daemon (never the system's)."""
        cli = docker_cli()
        if cli is None:
            missing("the docker CLI (docker.io)")
        assert cli is not None
        env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
        proc = subprocess.run(
            [cli, "-H", f"unix://{self.socket}", *args],
            capture_output=True,
            input=input,
            timeout=120,
            check=False,
            env=env,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: {proc.stderr.decode()}")
        return proc.stdout.decode().strip()

    def info(self) -> dict[str, Any]:
        status, body = api_get(self.socket, "/info")
        assert status == 200, body[:200]
        result: dict[str, Any] = json.loads(body)
        return result

    def busybox(self) -> str:
        """A busybox image imported into this daemon (once), labelled with this daemon's label."""
        if not self.image:
            image = f"assessor-test/busybox:{self.label[:12]}"
            self.docker(
                "import", "--change", f"LABEL assessor.test={self.label}", "-", image,
                input=busybox_rootfs_tar(),
            )  # fmt: skip
            self.image = image
        return self.image

    def create(self, name: str, *flags: str, start: bool = False) -> str:
        """A labelled container running (or created for) ``sleep 600`` on this daemon."""
        cid = self.docker(
            "create", "--label", f"assessor.test={self.label}", "--name",
            f"{name}-{self.label[:8]}", *flags, self.busybox(), "sleep", "600",
        )  # fmt: skip
        if start:
            self.docker("start", cid)
        return cid


def _need_root_and_dockerd() -> str:
    if os.geteuid() != 0:
        missing("root, to start a second dockerd")
    dockerd = shutil.which("dockerd") or (
        "/usr/sbin/dockerd" if os.path.exists("/usr/sbin/dockerd") else None
    )
    if dockerd is None:
        missing("dockerd (docker.io)")
    assert dockerd is not None
    return dockerd


def _free_subnet() -> str:
    """A /24 in 10.213.0.0/16 no interface of this host uses."""
    used = subprocess.run(
        ["ip", "-o", "-4", "addr"], capture_output=True, text=True, check=False
    ).stdout
    for _ in range(64):
        third = secrets.randbelow(250) + 2
        if f" 10.213.{third}." not in used:
            return f"10.213.{third}"
    raise AssertionError("no free 10.213.x.0/24 subnet for the variant's bridge")


@contextlib.contextmanager
def _own_bridge() -> Iterator[tuple[str, str]]:
    """A Linux bridge for the variant's default bridge network: (name, gateway CIDR)."""
    name = f"asd{secrets.token_hex(4)}"  # interface names are at most 15 characters
    cidr = f"{_free_subnet()}.1/24"
    for cmd in (
        ["ip", "link", "add", "name", name, "type", "bridge"],
        ["ip", "addr", "add", cidr, "dev", name],
        ["ip", "link", "set", name, "up"],
    ):
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)
            raise AssertionError(f"{' '.join(cmd)}: {proc.stderr}")
    try:
        yield name, cidr
    finally:
        subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)


@contextlib.contextmanager
def dockerd_variant(
    daemon_json: Mapping[str, Any],
    *,
    netns: bool = True,
    bridge: bool = False,
    iptables: bool | None = None,
    args: Sequence[str] = (),
    timeout: float = START_TIMEOUT,
) -> Iterator[Daemon]:
    """A dockerd of its own with ``daemon_json`` as its --config-file; yields a :class:`Daemon`.

    ``netns`` (the default) runs it in a network namespace of its own (``ip netns``): its
    docker0, iptables chains and swarm ports are there, so it runs with dockerd's network
    defaults (iptables on, ``icc`` enforceable) without touching the system daemon's chains
    (a second dockerd with iptables on in the same namespace would rewrite them). Without
    ``netns``, it runs beside the system daemon on a Linux bridge created for it and with
    ``--iptables=false`` unless ``iptables`` is set. Never ``--bridge=none`` there: dockerd
    then deletes the host's docker0 interface (the system daemon's default bridge). ``bridge``
    is kept for callers and means the same.
    """
    dockerd = _need_root_and_dockerd()
    # short: a unix socket path is limited to 107 bytes, and containerd's sockets nest deeper
    folder = Path(tempfile.mkdtemp(prefix="asd-", dir="/tmp"))
    folder.chmod(0o711)  # a userns-remap daemon's remapped root must traverse it
    paths = {
        n: folder / n
        for n in ("data", "exec", "docker.sock", "daemon.json", "dockerd.pid", "dockerd.log")
    }
    paths["data"].mkdir()
    paths["exec"].mkdir()
    paths["daemon.json"].write_text(json.dumps(dict(daemon_json), indent=2))
    process: subprocess.Popen[bytes] | None = None
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        stack.callback(unmount_below, folder)
        argv = [
            dockerd,
            "--data-root", str(paths["data"]),
            "--exec-root", str(paths["exec"]),
            "--pidfile", str(paths["dockerd.pid"]),
            "-H", f"unix://{paths['docker.sock']}",
            "--config-file", str(paths["daemon.json"]),
        ]  # fmt: skip
        prefix: list[str] = []
        namespace = ""
        if netns:
            namespace = stack.enter_context(_own_netns())
            # nsenter enters the network namespace only; `ip netns exec` would also remount
            # /sys in a mount namespace of its own, hiding the cgroup mounts dockerd needs
            prefix = ["nsenter", f"--net=/run/netns/{namespace}", "--"]
            if iptables is False:
                argv += ["--iptables=false"]
        else:
            # a bridge of its own: "--bridge none" would delete the host's docker0
            name, _cidr = stack.enter_context(_own_bridge())
            argv += ["--bridge", name]
            if not iptables:
                argv += ["--iptables=false"]
        argv += list(args)
        log = paths["dockerd.log"]
        env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "NOTIFY_SOCKET")}
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [*prefix, *argv], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env=env,
            )  # fmt: skip
        stack.callback(_stop, process, str(paths["docker.sock"]))
        wait_for_api(str(paths["docker.sock"]), process, timeout, log)
        yield Daemon(
            socket=str(paths["docker.sock"]),
            folder=folder,
            config_file=paths["daemon.json"],
            data_root=paths["data"],
            exec_root=paths["exec"],
            pidfile=paths["dockerd.pid"],
            log=log,
            pid=_dockerd_pid(paths["dockerd.pid"], process),
            argv=argv,
            netns=namespace,
        )


@contextlib.contextmanager
def _own_netns() -> Iterator[str]:
    """A named network namespace (``ip netns``) with its loopback up."""
    name = f"asd-{secrets.token_hex(4)}"
    proc = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        missing(f"a network namespace (ip netns add: {proc.stderr.strip()})")
    try:
        subprocess.run(
            ["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"],
            check=True, capture_output=True,
        )  # fmt: skip
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def _dockerd_pid(pidfile: Path, process: subprocess.Popen[bytes]) -> int:
    """dockerd's own pid (``ip netns exec`` execs it, so it is normally the child's pid)."""
    with contextlib.suppress(OSError, ValueError):
        return int(pidfile.read_text().strip())
    return process.pid


def _stop(process: subprocess.Popen[bytes], sock: str, *, group: bool = False) -> None:
    """Remove the daemon's containers (all ours: the daemon is), then stop dockerd."""
    if process.poll() is None:
        cli = docker_cli()
        if cli is not None:
            ids = subprocess.run(
                [cli, "-H", f"unix://{sock}", "ps", "-aq"], capture_output=True, text=True,
                timeout=60, check=False,
            ).stdout.split()  # fmt: skip
            if ids:
                subprocess.run(
                    [cli, "-H", f"unix://{sock}", "rm", "-f", *ids], capture_output=True,
                    timeout=120, check=False,
                )  # fmt: skip
        if group:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        else:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def rootless_user(name: str = "assessor-rootless") -> tuple[int, int, str]:
    """A system user with /etc/subuid and /etc/subgid ranges (created once): uid, gid, home."""
    import pwd

    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--create-home", "--shell", "/bin/sh", name],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(name)
    for path in ("/etc/subuid", "/etc/subgid"):
        text = Path(path).read_text() if os.path.exists(path) else ""
        if not any(line.split(":")[0] == name for line in text.splitlines()):
            # ranges above what `useradd` hands out by default (100000 + 65536 per user)
            subprocess.run(
                ["usermod", "--add-subuids" if path.endswith("uid") else "--add-subgids",
                 "400000-465535", name],
                check=True, capture_output=True,
            )  # fmt: skip
    return entry.pw_uid, entry.pw_gid, entry.pw_dir


ROOTLESS_SCRIPT = "/usr/share/docker.io/contrib/dockerd-rootless.sh"
ROOTLESS_TIMEOUT = 90.0


@dataclass
class RootlessDaemon(Daemon):
    """A rootless dockerd: run by ``user`` through rootlesskit, configured from its home."""

    user: str = ""
    uid: int = 0
    home: Path = Path("/")


@contextlib.contextmanager
def rootless_dockerd(
    daemon_json: Mapping[str, Any] | None = None, *, user: str = "assessor-rootless"
) -> Iterator[RootlessDaemon]:
    """Rootless Docker (``dockerd-rootless.sh`` as an unprivileged user with subuid ranges).

    Its configuration is where a rootless dockerd looks without ``--config-file``:
    ``$XDG_CONFIG_HOME/docker/daemon.json``, XDG_CONFIG_HOME being a folder of the test's
    under the user's home; its data root is rootless dockerd's default,
    ``$XDG_DATA_HOME/docker`` (here under the same folder). The socket is
    ``$XDG_RUNTIME_DIR/docker.sock``.
    """
    _need_root_and_dockerd()
    for tool in ("rootlesskit", "newuidmap", "slirp4netns"):
        if shutil.which(tool) is None:
            missing(f"{tool} (apt-get install rootlesskit uidmap slirp4netns)")
    if not os.path.exists(ROOTLESS_SCRIPT):
        missing(ROOTLESS_SCRIPT)
    uid, gid, home = rootless_user(user)
    # short paths: containerd's sockets nest under XDG_RUNTIME_DIR
    run = Path(tempfile.mkdtemp(prefix="asr-", dir="/tmp"))
    base = Path(home) / f".assessor-test-{secrets.token_hex(4)}"
    config = base / "config"
    data = base / "data"
    (config / "docker").mkdir(parents=True)
    data.mkdir(parents=True)
    config_file = config / "docker" / "daemon.json"
    config_file.write_text(json.dumps(dict(daemon_json or {}), indent=2))
    for path in (run, base, config, config / "docker", config_file, data):
        os.chown(path, uid, gid)
    run.chmod(0o700)
    log = run / "dockerd.log"
    sock = run / "docker.sock"
    env = {
        "HOME": home,
        "USER": user,
        "LOGNAME": user,
        "XDG_RUNTIME_DIR": str(run),
        "XDG_CONFIG_HOME": str(config),
        "XDG_DATA_HOME": str(data),
        "PATH": f"{Path(ROOTLESS_SCRIPT).parent}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    }
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, base, ignore_errors=True)
        stack.callback(shutil.rmtree, run, ignore_errors=True)
        stack.callback(unmount_below, run)
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [ROOTLESS_SCRIPT], stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, env=env, cwd=home,
                user=uid, group=gid, extra_groups=[],
            )  # fmt: skip
        stack.callback(_stop_rootless, process, str(sock))
        wait_for_api(str(sock), process, ROOTLESS_TIMEOUT, log)
        from assessor.collectors import _dockerd

        found = _dockerd.find_daemon(str(sock))
        yield RootlessDaemon(
            socket=str(sock),
            folder=run,
            config_file=config_file,
            data_root=data / "docker",
            exec_root=run / "docker",
            pidfile=run / "docker.pid",
            log=log,
            pid=int(found["pid"]) if found else process.pid,
            argv=list(found["argv"]) if found else [ROOTLESS_SCRIPT],
            user=user,
            uid=uid,
            home=Path(home),
        )


def _stop_rootless(process: subprocess.Popen[bytes], sock: str) -> None:
    """Remove its containers, then stop rootlesskit's process group (dockerd with it)."""
    if process.poll() is None:
        _stop(process, sock, group=True)


def engine_evidence(sock: str) -> dict[str, Any]:
    """The engine evidence document the real collector writes for this socket (the first
    document of a collection; containers and images are not read)."""
    from assessor.collectors import collector_for
    from assessor.targets import parse_target

    target = parse_target(f"engine:unix://{sock}")
    documents = collector_for(target).collect(target)
    try:
        return next(iter(documents)).document()
    finally:
        close = getattr(documents, "close", None)
        if close is not None:
            close()


def scan(
    *targets: str, db: str, netns: str = "", timeout: float = 180
) -> dict[str, dict[str, tuple[str, str]]]:
    """``assessor scan TARGETS --format json`` in a subprocess (inside the network namespace
    ``netns`` when given, as the host collector there must see that namespace's sockets):
    ``{resource: {rule: (status, message)}}``."""
    import sys

    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if k != "ASSESSOR_DB"}
    env["ASSESSOR_DB"] = db
    prefix = ["nsenter", f"--net=/run/netns/{netns}", "--"] if netns else []
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "assessor", "scan", *targets, "--format", "json"],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT, check=False,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    verdicts: dict[str, dict[str, tuple[str, str]]] = {}
    for r in json.loads(proc.stdout)["results"]:
        verdicts.setdefault(r["resource"], {})[r["rule"]] = (r["status"], r["message"])
    return verdicts


_FIRST_EVIDENCE = (
    "import json, sys; from assessor.collectors import collector_for; "
    "from assessor.targets import parse_target; t = parse_target(sys.argv[1]); "
    "print(json.dumps(next(iter(collector_for(t).collect(t))).document()))"
)


def collected_in(netns: str, target: str) -> dict[str, Any]:
    """The first evidence document the real collector writes for ``target``, run inside the
    network namespace ``netns`` (a host's sockets, an engine's tcp:// address there)."""
    import sys

    from tests.conftest import ROOT

    prefix = ["nsenter", f"--net=/run/netns/{netns}", "--"] if netns else []
    proc = subprocess.run(
        [*prefix, sys.executable, "-c", _FIRST_EVIDENCE, target],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def host_evidence(netns: str = "") -> dict[str, Any]:
    """The host evidence document the real host collector writes, run inside ``netns``."""
    return collected_in(netns, "host:/")


def _link(a: Daemon, b: Daemon) -> str:
    """A veth pair between two variants' namespaces: the /24's first three octets."""
    subnet = f"10.214.{secrets.randbelow(250) + 2}"
    ea, eb = f"h3m{secrets.token_hex(3)}", f"h3w{secrets.token_hex(3)}"
    for cmd in (
        ["link", "add", ea, "netns", a.netns, "type", "veth", "peer", eb, "netns", b.netns],
        ["-n", a.netns, "addr", "add", f"{subnet}.1/24", "dev", ea],
        ["-n", b.netns, "addr", "add", f"{subnet}.2/24", "dev", eb],
        ["-n", a.netns, "link", "set", ea, "up"],
        ["-n", b.netns, "link", "set", eb, "up"],
    ):
        subprocess.run(["ip", *cmd], check=True, capture_output=True)
    return subnet


@contextlib.contextmanager
def swarm_pair(manager_json: Mapping[str, Any] | None = None) -> Iterator[tuple[Daemon, Daemon]]:
    """A swarm manager bound to one address (``--listen-addr``) and a worker joined with the
    default listen address (every interface), each in its own namespace, linked by a veth
    pair; both leave the swarm afterwards."""
    with dockerd_variant(manager_json or {}) as manager, dockerd_variant({}) as worker:
        subnet = _link(manager, worker)
        addr = f"{subnet}.1"
        manager.docker("swarm", "init", "--advertise-addr", addr, "--listen-addr", f"{addr}:2377")
        try:
            token = manager.docker("swarm", "join-token", "-q", "worker")
            worker.docker(
                "swarm", "join", "--token", token, "--advertise-addr", f"{subnet}.2",
                f"{addr}:2377",
            )  # fmt: skip
            yield manager, worker
        finally:
            worker.docker("swarm", "leave", "--force", check=False)
            manager.docker("swarm", "leave", "--force", check=False)


def capture(out: Path) -> list[Path]:
    """Stage the daemon states and write their evidence, as captured golden fixtures
    (``python -m tests.dockerd_variant capture [DIR]``, DIR defaulting to tests/rules)."""
    from assessor.catalog import load_catalog
    from assessor.evaluate import evaluate_rule
    from assessor.evidence import Evidence

    catalog = load_catalog()
    written: list[Path] = []

    def keep(rule: str, case: str, doc: dict[str, Any], expected: str) -> None:
        """Write the fixture named by ``expected``, the verdict the benchmark requires; a
        state the rule judges otherwise is a defect, never a fixture."""
        result = evaluate_rule(catalog.rules[rule], Evidence.from_document(doc))
        status = result.status.value
        if status != expected:
            raise AssertionError(f"{rule} on {case}: {status} ({result.message}), not {expected}")
        path = out / rule / f"{status}-captured-{case}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        written.append(path)

    with rootless_dockerd({"no-new-privileges": True}) as user_daemon:
        doc = engine_evidence(user_daemon.socket)
        for rule in ("engine-userns-remap-enabled", "engine-daemon-config-consistent"):
            keep(rule, "rootless", doc, "pass")
        keep("engine-daemon-rootless", "rootless", doc, "pass")
        keep("engine-userland-proxy-disabled", "rootless", doc, "not_applicable")
    with dockerd_variant({"userns-remap": "default", "no-new-privileges": True}) as remapped:
        doc = engine_evidence(remapped.socket)
        keep("engine-daemon-config-consistent", "userns-remap", doc, "pass")
        keep("engine-userns-remap-enabled", "userns-remap", doc, "pass")
    with dockerd_variant({}) as plain:
        plain.create("running", start=True)
        for i in range(26):
            plain.create(f"stopped{i}")
        keep(
            "engine-container-sprawl", "26-stopped-1-running", engine_evidence(plain.socket), "fail"
        )
        keep("host-swarm-port-bound", "no-swarm", host_evidence(plain.netns), "not_applicable")
    # a remote engine (tcp://): only what the API reports, collected inside the daemon's
    # namespace; without a default bridge (--bridge none is harmless there), so icc is unseen
    port = 2375
    tcp = ["--bridge", "none", "-H", f"tcp://127.0.0.1:{port}"]
    with dockerd_variant({}, args=tcp) as remote_daemon:
        remote = collected_in(remote_daemon.netns, f"engine:tcp://127.0.0.1:{port}")
        for rule in ("engine-userns-remap-enabled", "engine-daemon-rootless"):
            keep(rule, "remote-engine", remote, "fail")
        keep("engine-remote-logging", "remote-engine", remote, "fail")  # info.LoggingDriver
        keep("engine-seccomp-profile-not-unconfined", "remote-engine", remote, "pass")
        # CIS 2.8: the daemon answered the scanner over plain TCP
        keep("engine-tls-authentication", "remote-plain-tcp", remote, "fail")
        # what only the daemon's flags and daemon.json say cannot be judged from the API
        # (icc shows on the default bridge, which this daemon runs without)
        for rule in (
            "engine-icc-disabled",
            "engine-log-level-info",
            "engine-userland-proxy-disabled",
            "engine-no-new-privileges-enabled",
        ):
            keep(rule, "remote-engine", remote, "error")
    with tempfile.TemporaryDirectory() as root:
        from assessor.collectors import collector_for
        from assessor.targets import parse_target

        (Path(root) / "etc").mkdir()
        target = parse_target(f"host:{root}")
        offline = next(iter(collector_for(target).collect(target))).document()
        keep("host-swarm-port-bound", "offline-root", offline, "error")
    with swarm_pair() as (manager, worker):
        doc = engine_evidence(manager.socket)
        keep("engine-swarm-mode-disabled", "manager", doc, "fail")
        keep("engine-swarm-autolock", "manager-no-autolock", doc, "fail")
        # dockerd refuses live-restore in swarm mode
        keep("engine-live-restore-enabled", "swarm-manager", doc, "not_applicable")
        # every swarm has the "ingress" overlay network, unencrypted unless recreated (CIS 7.3
        # audits every overlay network)
        keep("engine-swarm-overlay-encrypted", "default-ingress", doc, "fail")
        worker_doc = engine_evidence(worker.socket)
        keep("engine-swarm-autolock", "worker", worker_doc, "not_applicable")
        keep("engine-swarm-mode-disabled", "worker", worker_doc, "fail")
        manager.docker("network", "rm", "ingress", input=b"y\n")
        for _ in range(100):  # the swarm removes it asynchronously
            if "ingress" not in manager.docker("network", "ls", "--format", "{{ .Name }}").split():
                break
            time.sleep(0.1)
        manager.docker(
            "network", "create", "-d", "overlay", "--ingress", "--opt", "encrypted", "sealed-ingress"
        )  # fmt: skip
        manager.docker("network", "create", "-d", "overlay", "--opt", "encrypted", "sealed")
        keep("engine-swarm-overlay-encrypted", "encrypted", engine_evidence(manager.socket), "pass")
        manager.docker("network", "create", "-d", "overlay", "plain")
        keep("engine-swarm-overlay-encrypted", "plain", engine_evidence(manager.socket), "fail")
        manager.docker("swarm", "update", "--autolock=true")
        keep("engine-swarm-autolock", "autolock", engine_evidence(manager.socket), "pass")
        keep("host-swarm-port-bound", "manager-bound", host_evidence(manager.netns), "pass")
        keep(
            "host-swarm-port-bound",
            "worker-gossip-every-interface",
            host_evidence(worker.netns),
            "fail",
        )
    return written


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] != ["capture"]:
        raise SystemExit("usage: python -m tests.dockerd_variant capture [DIR]")
    from tests.conftest import ROOT

    for path in capture(Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "tests" / "rules"):
        print(path)
