"""The fault-injection server (tests/faultserver.py): each mode misbehaves as documented."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.faultserver import (
    API_HEADER,
    FAULT_MODES,
    GARBAGE,
    OVERSIZED_BYTES,
    FaultServer,
    start_fault_server,
)

SHORT = httpx.Timeout(1.0)


@pytest.fixture
def fault(request: pytest.FixtureRequest) -> Iterator[FaultServer]:
    with start_fault_server(request.param) as server:
        yield server


@pytest.fixture(autouse=True)
def _quiet(capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    """No handler prints a traceback (or anything else) while a test runs."""
    yield
    assert capfd.readouterr().err == ""


def _client(**kwargs: object) -> httpx.Client:
    return httpx.Client(trust_env=False, timeout=SHORT, **kwargs)  # type: ignore[arg-type]


def _is_registry(resp: httpx.Response) -> bool:
    return resp.headers.get(API_HEADER[0]) == API_HEADER[1]


def _connection_threads() -> list[threading.Thread]:
    return [
        t for t in threading.enumerate() if t.name.startswith("faultserver-") and "-conn" in t.name
    ]


def _wait_for(predicate: object, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


@pytest.mark.parametrize("fault", ["ok"], indirect=True)
def test_ok(fault: FaultServer) -> None:
    assert fault.url == f"http://{fault.host}" and fault.host.startswith("127.0.0.1:")
    with _client() as client:
        ping = client.get(f"{fault.url}/v2/")
        catalog = client.get(f"{fault.url}/v2/_catalog?n=10")
        upload = client.post(f"{fault.url}/v2/demo/app/blobs/uploads/", content=b"x" * 10)
        other = client.get(f"{fault.url}/v2/demo/app/manifests/v1")
    assert ping.status_code == 200 and ping.json() == {} and _is_registry(ping)
    assert catalog.status_code == 200 and catalog.json() == {"repositories": []}
    assert upload.status_code == 401
    assert upload.headers["WWW-Authenticate"] == 'Basic realm="fault"'
    assert other.status_code == 404
    assert other.json() == {"errors": [{"code": "NAME_UNKNOWN", "message": "name_unknown"}]}
    assert fault.requests == [
        "GET /v2/ HTTP/1.1",
        "GET /v2/_catalog?n=10 HTTP/1.1",
        "POST /v2/demo/app/blobs/uploads/ HTTP/1.1",
        "GET /v2/demo/app/manifests/v1 HTTP/1.1",
    ]


@pytest.mark.parametrize("fault", ["stall-headers"], indirect=True)
def test_stall_headers(fault: FaultServer) -> None:
    with _client() as client, pytest.raises(httpx.ReadTimeout):
        client.get(f"{fault.url}/v2/")
    assert fault.requests == ["GET /v2/ HTTP/1.1"]


@pytest.mark.parametrize("fault", ["stall-body"], indirect=True)
def test_stall_body(fault: FaultServer) -> None:
    with _client() as client:
        assert _is_registry(client.get(f"{fault.url}/v2/"))
        with client.stream("GET", f"{fault.url}/v2/_catalog") as resp:
            assert resp.status_code == 200
            assert resp.headers["Content-Length"] == "1000000"
            received = bytearray()

            def read_all() -> None:
                for chunk in resp.iter_raw():
                    received.extend(chunk)

            with pytest.raises(httpx.ReadTimeout):
                read_all()
    assert bytes(received) == b'{"reposito'


@pytest.mark.parametrize("fault", ["trickle"], indirect=True)
def test_trickle_outlives_a_read_timeout(fault: FaultServer) -> None:
    """Each read gets a byte within 1 s, so only an overall deadline ends the body."""
    received = bytearray()
    deadline = time.monotonic() + 1.1
    with _client() as client, client.stream("GET", f"{fault.url}/v2/_catalog") as resp:
        assert resp.status_code == 200
        for chunk in resp.iter_raw():
            received += chunk
            if time.monotonic() > deadline:
                break
    assert 3 <= len(received) <= 5
    assert bytes(received) == b'{"repositories": ['[: len(received)]


@pytest.mark.parametrize("fault", ["reset"], indirect=True)
def test_reset(fault: FaultServer) -> None:
    with _client() as client, pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        client.get(f"{fault.url}/v2/")
    assert fault.requests == ["GET /v2/ HTTP/1.1"]


@pytest.mark.parametrize("fault", ["http-500"], indirect=True)
def test_http_500(fault: FaultServer) -> None:
    with _client() as client:
        resp = client.get(f"{fault.url}/v2/")
    assert resp.status_code == 500
    assert resp.headers["Content-Type"].startswith("text/plain") and resp.text


@pytest.mark.parametrize("fault", ["malformed-json"], indirect=True)
def test_malformed_json(fault: FaultServer) -> None:
    with _client() as client:
        assert client.get(f"{fault.url}/v2/").status_code == 200
        resp = client.get(f"{fault.url}/v2/_catalog")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/json"
    assert resp.content == b'{"repositories": ["a", '
    with pytest.raises(json.JSONDecodeError):
        resp.json()


@pytest.mark.parametrize("fault", ["oversized-json"], indirect=True)
def test_oversized_json_is_exact_valid_json(fault: FaultServer) -> None:
    with _client() as client:
        resp = client.get(f"{fault.url}/v2/_catalog", timeout=20)
    assert resp.status_code == 200 and "Content-Length" not in resp.headers
    assert len(resp.content) == OVERSIZED_BYTES
    assert len(resp.json()["repositories"]) > 4_000_000


@pytest.mark.parametrize("fault", ["oversized-json"], indirect=True)
def test_oversized_json_client_gives_up(fault: FaultServer) -> None:
    """A client that stops reading early: the handler ends quietly, without a traceback."""
    with _client() as client, client.stream("GET", f"{fault.url}/v2/_catalog") as resp:
        read = 0
        for chunk in resp.iter_raw():
            read += len(chunk)
            if read > 1024 * 1024:
                break
    assert _wait_for(lambda: not _connection_threads())


@pytest.mark.parametrize("fault", ["rate-limited"], indirect=True)
def test_rate_limited(fault: FaultServer) -> None:
    with _client() as client:
        for path in ("/v2/", "/v2/_catalog"):
            resp = client.get(f"{fault.url}{path}")
            assert resp.status_code == 429 and resp.headers["Retry-After"] == "1"


@pytest.mark.parametrize("fault", ["redirect-loop"], indirect=True)
def test_redirect_loop(fault: FaultServer) -> None:
    with _client() as client:
        first = client.get(f"{fault.url}/v2/")
        assert first.status_code == 302 and first.headers["Location"] == "/v2/loop"
        second = client.get(f"{fault.url}/v2/loop")
        assert second.status_code == 302 and second.headers["Location"] == "/v2/"
    with (
        _client(follow_redirects=True, max_redirects=6) as client,
        pytest.raises(httpx.TooManyRedirects),
    ):
        client.get(f"{fault.url}/v2/")
    assert len(fault.requests) == 2 + 7


@pytest.mark.parametrize("fault", ["not-registry"], indirect=True)
def test_not_registry(fault: FaultServer) -> None:
    with _client() as client:
        resp = client.get(f"{fault.url}/v2/")
    assert resp.status_code == 404 and not _is_registry(resp)
    assert resp.headers["Content-Type"] == "text/html" and resp.text == "<h1>Not Found</h1>"


@pytest.mark.parametrize("fault", ["unauthorized"], indirect=True)
def test_unauthorized(fault: FaultServer) -> None:
    with _client() as client:
        for auth in (None, ("user", "right-password")):
            resp = client.get(f"{fault.url}/v2/", auth=auth)
            assert resp.status_code == 401
            assert resp.headers["WWW-Authenticate"] == 'Basic realm="fault"'


@pytest.mark.parametrize("fault", ["forbidden"], indirect=True)
def test_forbidden(fault: FaultServer) -> None:
    with _client() as client:
        ping = client.get(f"{fault.url}/v2/")
        assert ping.status_code == 200 and _is_registry(ping)
        assert client.get(f"{fault.url}/v2/_catalog").status_code == 403
        assert client.get(f"{fault.url}/v2/demo/app/manifests/v1").status_code == 403


@pytest.mark.parametrize("fault", ["tls-garbage"], indirect=True)
def test_tls_garbage(fault: FaultServer) -> None:
    assert fault.url == f"https://{fault.host}"
    with _client(verify=False) as client, pytest.raises(httpx.ConnectError) as info:
        client.get(f"{fault.url}/v2/")
    causes = []
    exc: BaseException | None = info.value
    while exc is not None:
        causes.append(exc)
        exc = exc.__cause__ or exc.__context__
    assert any(isinstance(c, ssl.SSLError) for c in causes), causes
    assert len(GARBAGE) == 64 and fault.requests == []


@pytest.mark.parametrize("mode", ["stall-headers", "stall-body", "trickle", "tls-garbage"])
def test_stop_is_prompt_and_idempotent(mode: str) -> None:
    """stop() wakes stalled handlers and cuts their connections; a second stop() is a no-op."""
    fault = start_fault_server(mode)
    before = set(threading.enumerate())
    holder = threading.Thread(target=_hold, args=(fault,), daemon=True)
    holder.start()
    assert _wait_for(lambda: len(set(threading.enumerate()) - before) >= 2)  # holder + handler
    started = time.monotonic()
    fault.stop()
    fault.stop()
    assert time.monotonic() - started < 1.0
    holder.join(timeout=3)
    assert not holder.is_alive()
    assert _wait_for(lambda: set(threading.enumerate()) <= before)
    with _client(verify=False) as client, pytest.raises(httpx.ConnectError):
        client.get(f"{fault.url}/v2/")


def _hold(fault: FaultServer) -> None:
    """A client stuck on the fault until the server goes away."""
    if fault.mode == "tls-garbage":  # a TLS client would give up at once: a raw one waits
        host, port = fault.host.split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            while sock.recv(4096):
                pass
        return
    path = "/v2/_catalog" if fault.mode in ("stall-body", "trickle") else "/v2/"
    with httpx.Client(trust_env=False, timeout=10, verify=False) as client:
        try:
            with client.stream("GET", f"{fault.url}{path}") as resp:
                for _ in resp.iter_raw():
                    pass
        except httpx.HTTPError:
            pass


def test_every_mode_starts_and_stops() -> None:
    for mode in FAULT_MODES:
        with start_fault_server(mode) as fault:
            assert fault.mode == mode and fault.url.endswith(fault.host)


def test_unknown_mode() -> None:
    with pytest.raises(ValueError, match="mode must be one of"):
        start_fault_server("flaky")
