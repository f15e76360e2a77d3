"""A loopback server that misbehaves on purpose, for registry-client tests.

    with start_fault_server("stall-body") as fault:
        client.get(f"{fault.url}/v2/_catalog")  # must end in the client's timeout
        assert fault.requests == ["GET /v2/_catalog HTTP/1.1"]

Every mode listens on 127.0.0.1 (an ephemeral port), one daemon thread per connection.
Modes (FAULT_MODES):
- "ok": a minimal healthy registry: GET /v2/ -> 200 `{}` with `Docker-Distribution-API-Version:
  registry/2.0`; GET /v2/_catalog -> 200 `{"repositories": []}`; POST /v2/NAME/blobs/uploads/ ->
  401 `WWW-Authenticate: Basic realm="fault"`; anything else -> 404 NAME_UNKNOWN.
- "stall-headers": reads the request and never answers.
- "stall-body": /v2/_catalog sends `Content-Length: 1000000` and 10 bytes, then stalls.
- "trickle": /v2/_catalog sends an endless JSON body (chunked) one byte every 0.5 s, so a
  per-read timeout never fires; only an overall deadline ends it.
- "reset": reads the request, then closes with a TCP RST (SO_LINGER on, 0 s).
- "http-500": 500 with a short text body for every request.
- "malformed-json": as "ok", but /v2/_catalog is 200 application/json `{"repositories": ["a", `.
- "oversized-json": as "ok", but /v2/_catalog streams 64 MiB of valid JSON, chunked with no
  Content-Length (a client must count what it reads), made lazily.
- "rate-limited": 429 with `Retry-After: 1` for every request.
- "redirect-loop": /v2/ -> 302 /v2/loop, /v2/loop (and any other path) -> 302 /v2/.
- "not-registry": 404 text/html `<h1>Not Found</h1>`, no registry header.
- "unauthorized": 401 `WWW-Authenticate: Basic realm="fault"` whatever the credentials.
- "forbidden": /v2/ -> 200 with the registry header, anything else -> 403 DENIED.
- "tls-garbage": raw TCP, url "https://...": writes 64 bytes that are not TLS on connect, then
  closes once the client does (or on stop), so every TLS handshake fails.
- "deep-json": as "ok", but /v2/_catalog is valid JSON nested 100,000 arrays deep.
- "huge-int-json": as "ok", but /v2/_catalog holds an integer of 100,000 digits.
- "surrogate-json": as "ok", but /v2/_catalog names a repository "r\udcff" (a lone surrogate
  escape) and /v2/NAME/tags/list of any repository lists the tag "t\udcfe".
- "endless-tags": as "ok", but /v2/_catalog lists the repository "a", and /v2/a/tags/list
  streams an endless tag list (chunked, as fast as the client reads).
- "deep-manifest": as "ok", but /v2/NAME/manifests/REF answers an OCI manifest whose
  annotations nest 100,000 objects deep (image:docker://HOST/NAME:REF reads it).
- "huge-int-manifest": as "deep-manifest", with a layer size of 100,000 digits.
In the "stall-body", "trickle" and "oversized-json" modes, paths other than /v2/_catalog behave
as in "ok". A client that goes away mid-answer ends its handler quietly.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import socketserver
import struct
import sys
import threading
import urllib.parse
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

FAULT_MODES = (
    "ok",
    "stall-headers",
    "stall-body",
    "trickle",
    "reset",
    "http-500",
    "malformed-json",
    "oversized-json",
    "rate-limited",
    "redirect-loop",
    "not-registry",
    "unauthorized",
    "forbidden",
    "tls-garbage",
    "deep-json",
    "huge-int-json",
    "surrogate-json",
    "endless-tags",
    "deep-manifest",
    "huge-int-manifest",
)
DEEP = 100_000
_MANIFEST = re.compile(r"^/v2/.+/manifests/[^/]+$")
_TAGS = re.compile(r"^/v2/(?P<name>.+)/tags/list$")
API_HEADER = ("Docker-Distribution-API-Version", "registry/2.0")
BASIC_CHALLENGE = 'Basic realm="fault"'
OVERSIZED_BYTES = 64 * 1024 * 1024
TRICKLE_INTERVAL = 0.5
GARBAGE = (b"no TLS here, only garbage for the handshake\r\n" * 2)[:64]
JOIN_TIMEOUT = 2.0
_UPLOAD = re.compile(r"^/v2/.+/blobs/uploads/?$")


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """A threaded TCP server that knows its connections and threads, so stop() can end them."""

    allow_reuse_address = True

    def __init__(self, mode: str, handler: type[socketserver.BaseRequestHandler]) -> None:
        self.mode = mode
        self.requests: list[str] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._handler_threads: set[threading.Thread] = set()
        super().__init__(("127.0.0.1", 0), handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name=f"faultserver-{self.mode}-connection",
            daemon=True,
        )
        with self._lock:
            if self.stopping.is_set():
                self.shutdown_request(request)
                return
            self._connections.add(request)
            self._handler_threads.add(thread)
        thread.start()

    def _serve_connection(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._connections.discard(request)
                self._handler_threads.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # the client went away, or stop() cut the connection: expected here
        super().handle_error(request, client_address)

    def close_all(self, serving: threading.Thread) -> None:
        """Wake stalled handlers, stop accepting, cut open connections, join the threads."""
        self.stopping.set()
        self.shutdown()  # returns once serve_forever has left its loop
        self.server_close()
        with self._lock:
            connections = list(self._connections)
            threads = list(self._handler_threads)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)  # unblocks a recv or send in the handler
        serving.join(timeout=JOIN_TIMEOUT)
        for thread in threads:
            thread.join(timeout=JOIN_TIMEOUT / max(len(threads), 1))


class _Handler(BaseHTTPRequestHandler):
    """Answers every method according to the server's mode."""

    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _dispatch(self) -> None:
        self.server.requests.append(self.requestline)
        self._drain_request_body()
        try:
            self._answer(urllib.parse.urlsplit(self.path).path)
        except OSError:
            self.close_connection = True  # the client is gone; nothing to tell anyone

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch

    def _drain_request_body(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                break
            length -= len(chunk)

    # replies

    def _send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "application/json",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, body: object, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self._send(status, json.dumps(body).encode(), headers=headers)

    def _error(self, status: int, code: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self._json(status, {"errors": [{"code": code, "message": code.lower()}]}, headers)

    def _start_chunked(self, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header(*API_HEADER)
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _redirect(self, location: str) -> None:
        self._send(302, b"", "text/plain", (("Location", location),))

    # modes

    def _answer(self, path: str) -> None:
        mode = self.server.mode
        if mode == "stall-headers":
            self.server.stopping.wait()
            self.close_connection = True
        elif mode == "reset":
            self._reset()
        elif mode == "http-500":
            self._send(500, b"internal server error (fault injected)\n", "text/plain")
        elif mode == "rate-limited":
            self._error(429, "TOOMANYREQUESTS", (("Retry-After", "1"),))
        elif mode == "redirect-loop":
            self._redirect("/v2/loop" if path in ("/v2", "/v2/") else "/v2/")
        elif mode == "not-registry":
            self._send(404, b"<h1>Not Found</h1>", "text/html")
        elif mode == "unauthorized":
            self._error(401, "UNAUTHORIZED", (("WWW-Authenticate", BASIC_CHALLENGE),))
        elif mode == "forbidden":
            if path in ("/v2", "/v2/"):
                self._json(200, {}, (API_HEADER,))
            else:
                self._error(403, "DENIED")
        elif mode in _JSON_FAULTS and self.command == "GET" and self._json_fault(mode, path):
            pass
        elif path == "/v2/_catalog" and self.command == "GET" and mode != "ok":
            self._catalog_fault(mode)
        else:
            self._registry(path)

    def _registry(self, path: str) -> None:
        """The healthy answers of the "ok" mode."""
        if path in ("/v2", "/v2/") and self.command in ("GET", "HEAD"):
            self._json(200, {}, (API_HEADER,))
        elif path == "/v2/_catalog" and self.command in ("GET", "HEAD"):
            self._json(200, {"repositories": []}, (API_HEADER,))
        elif self.command == "POST" and _UPLOAD.match(path):
            self._error(401, "UNAUTHORIZED", (("WWW-Authenticate", BASIC_CHALLENGE), API_HEADER))
        else:
            self._error(404, "NAME_UNKNOWN", (API_HEADER,))

    def _json_fault(self, mode: str, path: str) -> bool:
        """The hostile-JSON modes; False when the path is answered as in "ok"."""
        headers = (API_HEADER,)
        tags = _TAGS.match(path)
        if path == "/v2/_catalog":
            body = {
                "deep-json": b'{"repositories": ' + b"[" * DEEP + b"]" * DEEP + b"}",
                "huge-int-json": b'{"repositories": [], "n": ' + b"7" * DEEP + b"}",
                "surrogate-json": b'{"repositories": ["r\\udcff"]}',
                "endless-tags": b'{"repositories": ["a"]}',
            }.get(mode)
            if body is None:
                return False
            self._send(200, body, headers=headers)
        elif tags and mode == "surrogate-json":
            name = json.dumps(urllib.parse.unquote(tags["name"]))
            self._send(200, b'{"name": %s, "tags": ["t\\udcfe"]}' % name.encode(), headers=headers)
        elif tags and mode == "endless-tags":
            self._start_chunked()
            self._chunk(b'{"name": "a", "tags": [')
            n = 0
            while not self.server.stopping.is_set():
                self._chunk(b",".join(b'"t%010d"' % (n + i) for i in range(1000)) + b",")
                n += 1000
            self.close_connection = True
        elif _MANIFEST.match(path) and mode in ("deep-manifest", "huge-int-manifest"):
            size = b"7" * DEEP if mode == "huge-int-manifest" else b"2"
            deep = b'{"a":' * DEEP + b"1" + b"}" * DEEP if mode == "deep-manifest" else b"{}"
            body = (
                b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",'
                b' "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest":'
                b' "sha256:' + b"0" * 64 + b'", "size": ' + size + b'}, "layers": [],'
                b' "annotations": ' + deep + b"}"
            )
            self._send(200, body, "application/vnd.oci.image.manifest.v1+json", headers)
        else:
            return False
        return True

    def _catalog_fault(self, mode: str) -> None:
        if mode == "stall-body":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000000")
            self.send_header(*API_HEADER)
            self.end_headers()
            self.wfile.write(b'{"reposit')
            self.wfile.write(b"o")  # ten bytes in all
            self.server.stopping.wait()
            self.close_connection = True
        elif mode == "trickle":
            self._start_chunked()
            for byte in _endless_catalog():
                self._chunk(bytes([byte]))
                if self.server.stopping.wait(TRICKLE_INTERVAL):
                    break
            self.close_connection = True
        elif mode == "malformed-json":
            self._send(200, b'{"repositories": ["a", ', headers=(API_HEADER,))
        elif mode == "oversized-json":
            self._start_chunked()
            for data in oversized_catalog():
                if self.server.stopping.is_set():
                    self.close_connection = True
                    return
                self._chunk(data)
            self.wfile.write(b"0\r\n\r\n")
        else:
            raise AssertionError(f"no /v2/_catalog fault for {mode!r}")

    def _reset(self) -> None:
        """Close with RST: SO_LINGER with a zero timeout, and no shutdown (which would send FIN)."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        # the descriptor closes (with RST) once http.server has closed its file objects too
        self.connection.close()


_JSON_FAULTS = frozenset(
    {"deep-json", "huge-int-json", "surrogate-json", "endless-tags", "deep-manifest"}
    | {"huge-int-manifest"}
)


class _GarbageHandler(socketserver.BaseRequestHandler):
    """The "tls-garbage" mode: 64 bytes that are not TLS, then close when the client does."""

    server: _Server
    request: socket.socket

    def handle(self) -> None:
        try:
            self.request.sendall(GARBAGE)
            self.request.settimeout(0.1)
            while not self.server.stopping.is_set():
                try:
                    if not self.request.recv(4096):
                        break  # the client gave up on the handshake and closed
                except TimeoutError:
                    continue
        except OSError:
            pass


def _endless_catalog() -> Iterator[int]:
    """The bytes of `{"repositories": ["r0000000000", "r0000000001", ...`, without end."""
    yield from b'{"repositories": ['
    n = 0
    while True:
        yield from b'"r%010d", ' % n
        n += 1


def oversized_catalog(total: int = OVERSIZED_BYTES, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """Exactly `total` bytes of valid catalog JSON, in pieces of about `chunk` bytes."""
    head, tail = b'{"repositories": [', b"]}"
    room = total - len(head) - len(tail)
    count = (room + 1) // 14  # each name is '"r%010d"' (13 bytes) plus a comma between names
    if count < 1:
        raise ValueError(f"total {total} is too small")
    pad = room - (14 * count - 1)  # the last name takes the bytes left over
    per_chunk = max(chunk // 14, 1)
    yield head
    for start in range(0, count, per_chunk):
        stop = min(start + per_chunk, count)
        names = [b'"r%010d"' % i for i in range(start, stop)]
        if stop == count:
            names[-1] = names[-1][:-1] + b"x" * pad + b'"'
        yield b",".join(names) + (b"," if stop < count else b"")
    yield tail


@dataclass
class FaultServer:
    """A running fault server; `stop()` (or leaving the `with` block) ends it."""

    host: str  # "127.0.0.1:PORT"
    url: str  # "http://127.0.0.1:PORT", or "https://..." for "tls-garbage"
    mode: str
    requests: list[str]  # request lines seen, e.g. "GET /v2/ HTTP/1.1", in order
    _finalizer: weakref.finalize | None = field(default=None, repr=False, compare=False)

    def stop(self) -> None:
        """Wake stalled handlers, close every socket, join the threads; safe to call twice."""
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> FaultServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_fault_server(mode: str) -> FaultServer:
    """Start a fault server in one of FAULT_MODES on 127.0.0.1 (ephemeral port)."""
    if mode not in FAULT_MODES:
        raise ValueError(f"mode must be one of {FAULT_MODES}, not {mode!r}")
    handler: type[socketserver.BaseRequestHandler] = (
        _GarbageHandler if mode == "tls-garbage" else _Handler
    )
    server = _Server(mode, handler)
    serving = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"faultserver-{mode}",
        daemon=True,
    )
    serving.start()
    host = f"127.0.0.1:{server.server_address[1]}"
    scheme = "https" if mode == "tls-garbage" else "http"
    fault = FaultServer(host=host, url=f"{scheme}://{host}", mode=mode, requests=server.requests)
    fault._finalizer = weakref.finalize(fault, server.close_all, serving)
    return fault
