"""The engine collector overlaps its waits: the first API reads are in flight together, and the
image export (which an engine takes a while to write) is asked for before the container reads
end. What it yields, and in which order, is what a one-call-at-a-time collector yields.

A fake Engine API on a unix socket answers slowly where the real one is slow and records when
each request arrived and when its answer was sent."""

from __future__ import annotations

import itertools
import json
import socketserver
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from assessor.collectors.engine import EngineCollector
from assessor.targets import parse_target
from tests.conftest import ROOT
from tests.secretcorpus import tar_bytes, write_docker_archive

SLOW = 0.4  # seconds: /version, and each container's inspect
CONTAINERS = [f"{n:x}" * 64 for n in range(10, 13)]


class FakeEngine(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, archive: bytes, image_id: str) -> None:
        self.archive = archive
        self.image_id = image_id
        self.arrived: dict[str, float] = {}
        self.answered: dict[str, float] = {}
        self.endless = False  # /images/get streams an archive until the client goes away
        super().__init__(path, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: FakeEngine
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def address_string(self) -> str:
        return "fake"

    def _json(self, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.partition("?")[0]
        self.server.arrived[path] = time.monotonic()
        if path == "/version":
            time.sleep(SLOW)
            self._json({"Version": "20.10.24", "ApiVersion": "1.41", "Components": []})
        elif path == "/info":
            self._json({"ID": "FAKE", "Name": "fake", "SecurityOptions": [], "Swarm": {}})
        elif path == "/containers/json":
            self._json([{"Id": c, "State": "exited", "ImageID": ""} for c in CONTAINERS])
        elif path.startswith("/containers/"):
            time.sleep(SLOW)
            cid = path.split("/")[2]
            self._json({"Id": cid, "Name": f"/c{cid[:2]}", "State": {"Running": False}})
        elif path == "/networks":
            self._json([])
        elif path == "/images/json":
            self._json([{"Id": self.server.image_id, "RepoTags": ["fake/app:1"]}])
        elif path == "/images/get" and self.server.endless:
            self.send_response(200)
            self.send_header("Content-Type", "application/x-tar")
            self.end_headers()
            try:
                for n in itertools.count():  # a well-formed archive that never ends
                    info = tarfile.TarInfo(f"f{n}")
                    info.size = 65536
                    self.wfile.write(info.tobuf(tarfile.GNU_FORMAT) + b"x" * info.size)
                    time.sleep(0.01)
            except OSError:  # the client went away
                pass
        elif path == "/images/get":
            self.send_response(200)
            self.send_header("Content-Type", "application/x-tar")
            self.send_header("Content-Length", str(len(self.server.archive)))
            self.end_headers()
            self.wfile.write(self.server.archive)
        else:
            self.send_error(404)
        self.server.answered[path] = time.monotonic()


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEngine]:
    # an image never read before: exported (a cached one is not, see test_image_cache.py)
    monkeypatch.setenv("ASSESSOR_CACHE_DIR", str(tmp_path / "cache"))
    archive = tmp_path / "image.tar"
    layer = tar_bytes([("etc", 0o755, None), ("etc/os-release", 0o644, b"ID=fake\n")])
    config = {"architecture": "amd64", "os": "linux", "config": {"User": "1000"}}
    write_docker_archive(archive, config, [layer], "fake/app:1")
    manifest = json.loads(_member(archive, "manifest.json"))
    image_id = "sha256:" + manifest[0]["Config"].removesuffix(".json")
    server = FakeEngine(str(tmp_path / "engine.sock"), archive.read_bytes(), image_id)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _member(archive: Path, name: str) -> bytes:
    with tarfile.open(archive) as tar:
        f = tar.extractfile(name)
        assert f is not None
        return f.read()


def test_first_reads_together_and_the_export_beside_the_containers(
    engine: FakeEngine, tmp_path: Path
) -> None:
    target = parse_target(f"engine:unix://{tmp_path / 'engine.sock'}")
    evidence = list(EngineCollector().collect(target))

    assert [e.kind for e in evidence] == ["engine", "container", "container", "container", "image"]
    assert [e.resource.split(" ")[0] for e in evidence[1:4]] == [f"c{c[:2]}" for c in CONTAINERS]
    assert evidence[4].resource == "docker-daemon:fake/app:1"
    assert "collection_error" not in evidence[4].data
    # /images/json went out while /version (slow) was still being answered
    assert engine.arrived["/images/json"] < engine.answered["/version"]
    # the export was asked for before any container's inspect had been answered
    inspects = [engine.answered[f"/containers/{c}/json"] for c in CONTAINERS]
    assert engine.arrived["/images/get"] < min(inspects)


def test_an_abandoned_collector_ends_its_export(engine: FakeEngine, tmp_path: Path) -> None:
    engine.endless = True
    target = parse_target(f"engine:unix://{tmp_path / 'engine.sock'}")
    collecting = EngineCollector().collect(target)
    assert next(collecting).kind == "engine"  # the export is under way by now
    assert [t for t in threading.enumerate() if t.name == "engine-export"]
    collecting.close()
    deadline = time.monotonic() + 10
    while [t for t in threading.enumerate() if t.name == "engine-export"]:
        assert time.monotonic() < deadline, "the export thread outlived its collector"
        time.sleep(0.05)


def test_exit_does_not_wait_for_an_export(engine: FakeEngine, tmp_path: Path) -> None:
    """An interpreter leaving (Ctrl-C, an error) while an export still streams exits at once:
    the export's thread is not one the interpreter joins."""
    engine.endless = True
    code = (
        "import sys\n"
        "from assessor.collectors.engine import EngineCollector\n"
        "from assessor.targets import parse_target\n"
        f"collecting = EngineCollector().collect(parse_target('engine:unix://{tmp_path}/engine.sock'))\n"
        "assert next(collecting).kind == 'engine'\n"
        "sys.exit(0)\n"
    )
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=60, check=False)
    assert proc.returncode == 0
    assert time.monotonic() - start < 20
