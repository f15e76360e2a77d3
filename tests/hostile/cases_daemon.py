"""Hostile daemon files on an offline root (``scan host:/some/root``), issue 17 items 4, 5, 9.

The host collector reads daemon.json, unit files, audit rules and a few /etc files from the
root. A daemon.json that is not JSON, or JSON past the parser's bounds (nesting, digits), is
recorded as ``daemon_json_error`` naming the file and the bound, the scan prints it as one
``assessor: warning: host:ROOT: ...`` line, and the rest of the host's evidence stands (as for any malformed daemon.json: dockerd itself would refuse to start, and
that is a finding, not a reason to lose the host). A FIFO or a device where a file is expected
never stalls the scan; file names that are not UTF-8 are stored with ``\\xHH`` escapes.
"""

from __future__ import annotations

import http.server
import json
import os
import socketserver
import sqlite3
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.hostile.corpus import Case, Ctx

DEEP = 100_000
DAEMON = "etc/docker/daemon.json"


def _root(ctx: Ctx, name: str = "root") -> Path:
    """A small offline root: passwd, group, hostname, a unit file and a valid daemon.json."""
    root = ctx.work / name
    (root / "etc/docker").mkdir(parents=True)
    (root / "lib/systemd/system").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc/group").write_text("root:x:0:\ndocker:x:999:\n")
    (root / "etc/hostname").write_text(f"{name}-host\n")
    (root / DAEMON).write_text(json.dumps({"icc": False}))
    (root / "lib/systemd/system/docker.service").write_text(
        "[Service]\nExecStart=/usr/bin/dockerd -H fd://\n"
    )
    return root


def _host(plant: Callable[[Path], None]) -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        root = _root(ctx)
        plant(root)
        return ["scan", f"host:{root}", "--format", "json"]

    return build


def _write(rel: str, data: bytes) -> Callable[[Path], None]:
    def plant(root: Path) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.unlink()
        path.write_bytes(data)

    return plant


def _fifo(rel: str) -> Callable[[Path], None]:
    def plant(root: Path) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.unlink()
        os.mkfifo(path)

    return plant


def _fifos(*rels: str) -> Callable[[Path], None]:
    def plant(root: Path) -> None:
        for rel in rels:
            _fifo(rel)(root)

    return plant


def _collected(ctx: Ctx, out: str, err: str) -> None:
    (host,) = _host_evidence(ctx)
    assert host["data"]["files"]["/etc/docker/daemon.json"]["exists"] is True


def _device(rel: str) -> Callable[[Path], None]:
    def plant(root: Path) -> None:
        path = root / rel
        path.unlink()
        os.mknod(path, 0o644 | 0o020000, os.makedev(1, 5))  # /dev/zero's numbers

    return plant


def _directory(rel: str) -> Callable[[Path], None]:
    def plant(root: Path) -> None:
        path = root / rel
        path.unlink()
        path.mkdir()

    return plant


def _host_evidence(ctx: Ctx) -> list[dict[str, Any]]:
    con = sqlite3.connect(ctx.db.removeprefix("sqlite:///"))
    try:
        rows = con.execute("SELECT body FROM evidence").fetchall()
    finally:
        con.close()
    docs = [json.loads(zlib.decompress(body)) for (body,) in rows]
    return [d for d in docs if d["kind"] == "host"]


def _daemon_error(want: str | None) -> Callable[[Ctx, str, str], None]:
    """The host was collected; daemon.json is None and its error says ``want``."""

    def check(ctx: Ctx, out: str, err: str) -> None:
        (host,) = _host_evidence(ctx)
        docker = host["data"]["docker"]
        assert docker["daemon_json"] is None, docker["daemon_json"]
        warnings = [ln for ln in err.splitlines() if ln.startswith("assessor: warning: host:")]
        if want is None:
            assert docker["daemon_json_error"] is None, docker["daemon_json_error"]
            assert not warnings, warnings
        else:
            assert want in (docker["daemon_json_error"] or ""), docker["daemon_json_error"]
            # and the person running the scan is told, in one line naming target and file
            assert len(warnings) == 1 and want in warnings[0], err
        # the rest of the host's evidence stands
        assert host["data"]["files"]["/etc/docker"]["exists"] is True
        assert host["data"]["systemd"]["units"]["docker.service"]["exec_start"]

    return check


def _names_escaped(ctx: Ctx, out: str, err: str) -> None:
    (host,) = _host_evidence(ctx)
    data = host["data"]
    certs = [c["path"] for c in data["docker"]["registry_certs"]]
    assert "/etc/docker/certs.d/reg\\xff:5000/ca\\xfe.crt" in certs, certs
    audit = data["audit"]
    assert "/etc/audit/rules.d/docker\\xff.rules" in [f["path"] for f in audit["files"]], audit
    assert "/var/lib/docker" in [r["path"] for r in audit["rules"]], audit


def _nonutf8_names(root: Path) -> None:
    certs = os.path.join(os.fsencode(root), b"etc/docker/certs.d/reg\xff:5000")
    os.makedirs(certs)
    with open(os.path.join(certs, b"ca\xfe.crt"), "wb") as f:
        f.write(b"-----BEGIN CERTIFICATE-----\n")
    rules = os.path.join(os.fsencode(root), b"etc/audit/rules.d")
    os.makedirs(rules)
    with open(os.path.join(rules, b"docker\xff.rules"), "wb") as f:
        f.write(b"-w /var/lib/docker -k docker\n")


def _nonutf8_link(root: Path) -> None:
    """daemon.json is a link to a file whose name is not UTF-8 (resolved inside the root)."""
    target = os.path.join(os.fsencode(root), b"etc/docker/\xffreal.json")
    with open(target, "wb") as f:
        f.write(b'{"icc": true}')
    (root / DAEMON).unlink()
    os.symlink(b"\xffreal.json", os.path.join(os.fsencode(root), DAEMON.encode()))


def _link_target_escaped(ctx: Ctx, out: str, err: str) -> None:
    (host,) = _host_evidence(ctx)
    data = host["data"]
    assert data["docker"]["daemon_json"] == {"icc": True}, data["docker"]
    assert data["files"]["/etc/docker/daemon.json"]["link_target"] == ("/etc/docker/\\xffreal.json")


def _surrogate_values(ctx: Ctx, out: str, err: str) -> None:
    (host,) = _host_evidence(ctx)
    assert host["data"]["docker"]["daemon_json"]["data-root"] == "/var/lib/\\xffdocker"


def _two_roots(ctx: Ctx) -> list[str]:
    bad = _root(ctx, "bad")
    (bad / DAEMON).write_bytes(b'{"a":' * DEEP + b"1" + b"}" * DEEP)
    good = _root(ctx, "good")
    return ["scan", f"host:{bad}", f"host:{good}", "--format", "json"]


def _both_roots_collected(ctx: Ctx, out: str, err: str) -> None:
    hosts = {h["resource"]: h["data"]["docker"] for h in _host_evidence(ctx)}
    assert set(hosts) == {"bad-host", "good-host"}, set(hosts)
    assert "nested deeper than 64 levels" in hosts["bad-host"]["daemon_json_error"]
    assert hosts["good-host"]["daemon_json"] == {"icc": False}


def _case(name: str, defect: str, plant: Callable[[Path], None], check: Any) -> Case:
    return Case(name, "daemon", defect, _host(plant), 0, None, timeout=30, check=check)


CASES = [
    _case(
        "daemon-json-deep-array",
        "daemon.json nests 100,000 arrays",
        _write(DAEMON, b'{"a":' + b"[" * DEEP + b"]" * DEEP + b"}"),
        _daemon_error("/etc/docker/daemon.json: JSON nested deeper than 64 levels"),
    ),
    _case(
        "daemon-json-deep-object",
        "daemon.json nests 100,000 objects",
        _write(DAEMON, b'{"a":' * DEEP + b"1" + b"}" * DEEP),
        _daemon_error("/etc/docker/daemon.json: JSON nested deeper than 64 levels"),
    ),
    _case(
        "daemon-json-huge-int",
        "daemon.json sets max-concurrent-downloads to an integer of 100,000 digits",
        _write(DAEMON, b'{"max-concurrent-downloads": ' + b"9" * DEEP + b"}"),
        _daemon_error("/etc/docker/daemon.json: JSON number of 100000 digits"),
    ),
    _case(
        "daemon-json-nan",
        "daemon.json holds NaN (canonical JSON cannot write it)",
        _write(DAEMON, b'{"shutdown-timeout": NaN}'),
        _daemon_error("JSON constant NaN"),
    ),
    _case(
        "daemon-json-inf",
        "daemon.json holds 1e999 (a float that overflows to infinity)",
        _write(DAEMON, b'{"shutdown-timeout": 1e999}'),
        _daemon_error("out of range"),
    ),
    _case(
        "daemon-json-fifo",
        "daemon.json is a FIFO nobody writes to",
        _fifo(DAEMON),
        _daemon_error(None),
    ),
    _case(
        "daemon-json-char-device",
        "daemon.json is a character device with /dev/zero's numbers",
        _device(DAEMON),
        _daemon_error(None),
    ),
    _case(
        "daemon-json-directory",
        "daemon.json is a directory",
        _directory(DAEMON),
        _daemon_error(None),
    ),
    _case(
        "daemon-json-binary-garbage",
        "daemon.json is 64 KiB of binary garbage",
        _write(DAEMON, bytes(range(256)) * 256),
        _daemon_error("/etc/docker/daemon.json"),
    ),
    _case(
        "daemon-json-oversized",
        "daemon.json is 2 MiB (over the 1 MiB read bound)",
        _write(DAEMON, b'{"a": "' + b"x" * (2 << 20) + b'"}'),
        _daemon_error("larger than"),
    ),
    _case(
        "daemon-json-utf16",
        "daemon.json is UTF-16 with deep nesting after an escaped quote",
        _write(DAEMON, ('{"a": "\\"", "b": ' + "[" * 5000 + "]" * 5000 + "}").encode("utf-16")),
        _daemon_error("daemon.json"),
    ),
    _case(
        "daemon-json-surrogate-escapes",
        'daemon.json sets data-root to "/var/lib/\\udcffdocker" (a lone surrogate escape)',
        _write(DAEMON, b'{"data-root": "/var/lib/\\udcffdocker"}'),
        _surrogate_values,
    ),
    _case(
        "daemon-nonutf8-file-names",
        "registry certificates and audit rule files named with bytes that are not UTF-8",
        _nonutf8_names,
        _names_escaped,
    ),
    _case(
        "daemon-json-link-to-nonutf8-name",
        "daemon.json is a symlink to \\xffreal.json",
        _nonutf8_link,
        _link_target_escaped,
    ),
    _case(
        "daemon-audit-rules-fifo",
        "/etc/audit/audit.rules and a rules.d file are FIFOs",
        _fifos("etc/audit/audit.rules", "etc/audit/rules.d/x.rules"),
        _collected,
    ),
    _case(
        "daemon-unit-and-passwd-fifos",
        "docker.service, /etc/passwd and /etc/os-release are FIFOs",
        _fifos("lib/systemd/system/docker.service", "etc/passwd", "etc/os-release"),
        _collected,
    ),
    Case(
        "daemon-two-roots-others-go-on",
        "daemon",
        "two offline roots in one scan, the first with a daemon.json nested 100,000 deep",
        _two_roots,
        0,
        None,
        timeout=30,
        check=_both_roots_collected,
    ),
]


# ---- engine API answers from a fake engine on a unix socket ------------------------------

_VERSION = b'{"Version": "20.10.24", "ApiVersion": "1.41", "Os": "linux", "Arch": "amd64"}'
_INFO = b'{"ID": "FAKE", "Name": "fake-engine", "SecurityOptions": [], "Containers": 1}'
_INSPECT = (
    b'{"Id": "c0ffee", "Name": "/odd\\udcff", "State": {"Status": "exited", "Running": false},'
    b' "Config": {"Env": ["PATH=/bin", "ODD=a\\udcffb"], "Image": "x", "Labels": {}},'
    b' "HostConfig": {"Privileged": false}, "Mounts": [{"Type": "bind",'
    b' "Source": "/data/\\udcfe", "Destination": "/in", "RW": true}]}'
)


class _Engine(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    answers: dict[str, bytes]


class _EngineHandler(http.server.BaseHTTPRequestHandler):
    server: _Engine

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def address_string(self) -> str:
        return "unix"

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        path = path.split("/", 2)[2] if path.startswith("/v1.") else path.lstrip("/")
        body = self.server.answers.get(path)
        if body is None:
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "24")
            self.end_headers()
            self.wfile.write(b'{"message": "not found"}')
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _engine(**changes: bytes) -> Callable[[Ctx], list[str]]:
    """A scan of a fake engine whose answers (by path: version, info, ...) are ``changes``
    over a small healthy engine with one stopped container."""

    def build(ctx: Ctx) -> list[str]:
        sock = ctx.work / "engine.sock"
        server = _Engine(str(sock), _EngineHandler)
        server.answers = {
            "version": _VERSION,
            "info": _INFO,
            "containers/json": b'[{"Id": "c0ffee", "State": "exited", "Names": ["/odd"]}]',
            "containers/c0ffee/json": _INSPECT,
            "networks": b"[]",
            "images/json": b"[]",
            **{k.replace("_", "/"): v for k, v in changes.items()},
        }
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        ctx.stack.callback(server.server_close)
        ctx.stack.callback(server.shutdown)
        return ["scan", f"engine:unix://{sock}", "--format", "json"]

    return build


def _container_escaped(ctx: Ctx, out: str, err: str) -> None:
    con = sqlite3.connect(ctx.db.removeprefix("sqlite:///"))
    try:
        rows = con.execute("SELECT body FROM evidence").fetchall()
    finally:
        con.close()
    docs = [json.loads(zlib.decompress(body)) for (body,) in rows]
    (container,) = [d for d in docs if d["kind"] == "container"]
    data = container["data"]
    assert "ODD=a\\xffb" in data["Config"]["Env"], data["Config"]["Env"]
    assert data["Mounts"][0]["Source"] == "/data/\\xfe", data["Mounts"]


ENGINE_ERROR = r"^assessor: error: engine:unix://\S+engine.sock: "
CASES += [
    Case(
        "engine-info-deep-json",
        "daemon",
        "a fake engine whose /info nests 100,000 objects",
        _engine(info=b'{"a":' * DEEP + b"1" + b"}" * DEEP),
        2,
        ENGINE_ERROR + r"/info: JSON nested deeper than 64 levels",
        timeout=30,
    ),
    Case(
        "engine-version-huge-int",
        "daemon",
        "a fake engine whose /version gives an integer of 100,000 digits",
        _engine(version=b'{"ApiVersion": "1.41", "n": ' + b"9" * DEEP + b"}"),
        2,
        ENGINE_ERROR + r"/version: JSON number of 100000 digits",
        timeout=30,
    ),
    Case(
        "engine-inspect-deep-json",
        "daemon",
        "a fake engine whose container inspect nests 100,000 arrays",
        _engine(
            containers_c0ffee_json=b'{"Id": "c0ffee", "x": ' + b"[" * DEEP + b"]" * DEEP + b"}"
        ),
        2,
        ENGINE_ERROR + r"/containers/c0ffee/json: JSON nested deeper than 64 levels",
        timeout=30,
    ),
    Case(
        "engine-inspect-surrogates",
        "daemon",
        'a fake engine whose container has an env value and a mount source with "\\udcff" escapes',
        _engine(),
        0,
        None,
        timeout=30,
        check=_container_escaped,
    ),
]
