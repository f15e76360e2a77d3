"""The engine collector overlaps its waits: the first API reads are in flight together, and the
image export (which an engine takes a while to write) is asked for before the container reads
end. What it yields, and in which order, is what a one-call-at-a-time collector yields.

A fake Engine API on a unix socket answers slowly where the real one is slow and records when
each request arrived and when its answer was sent."""

from __future__ import annotations

import json
import socketserver
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from assessor.collectors.engine import EngineCollector
from assessor.targets import parse_target
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
def engine(tmp_path: Path) -> Iterator[FakeEngine]:
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
    import tarfile

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
