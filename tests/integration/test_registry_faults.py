"""Registries that fail: each fault is a clear per-registry ``error`` with its cause, and the
rest of the scan completes.

One scan holds a healthy real registry, a closed port, and a loopback fault server per fault
(tests/faultserver.py): faults at ``/v2/`` make the whole registry an error (exit 3, the
assessment incomplete); faults in the catalog make the content rules errors while what was
observed still stands.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import missing, run_cli
from tests.faultserver import FaultServer, start_fault_server
from tests.registry import ComponentMissing, Registry, start_registry

pytestmark = [pytest.mark.slow]

TIMEOUT = "2"
# fault at /v2/: the registry could not be assessed at all
WHOLE = {
    "stall-headers": "no response within the timeout (the registry stalled)",
    "reset": "connection closed or reset by the registry",
    "http-500": "GET /v2/ answered HTTP 500 (server error)",
    "rate-limited": "rate limited (429, retry after 1 s)",
    "redirect-loop": "too many redirects",
    "not-registry": "not a registry: GET /v2/ answered 404",
    "tls-garbage": "TLS handshake failed",
}
# fault in the catalog: the content rules are errors, the rest is judged
CONTENT = {
    "stall-body": "no response within the timeout (the registry stalled)",
    "trickle": f"the response did not complete within {TIMEOUT} s",
    "malformed-json": "catalog: malformed JSON",
    "oversized-json": "catalog: larger than the bound on a registry's JSON answer",
    "unauthorized": "catalog: access denied (401, no credentials)",
    "forbidden": "catalog: access denied (403, no credentials)",
}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends


@pytest.fixture(scope="module")
def fault_scan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("faults")
    try:
        healthy: Registry = start_registry(tmp / "healthy", tls=False, auth="none")
    except ComponentMissing as e:
        missing(str(e))
        raise
    servers: dict[str, FaultServer] = {}
    try:
        for mode in (*WHOLE, *CONTENT):
            servers[mode] = start_fault_server(mode)
        refused = f"registry:http://127.0.0.1:{_closed_port()}"
        targets = {mode: f"registry:{s.url}" for mode, s in servers.items()}
        run = run_cli(
            "scan",
            f"registry:http://{healthy.host}",
            refused,
            *targets.values(),
            "--format",
            "json",
            "--timeout",
            TIMEOUT,
            db=f"sqlite:///{tmp / 'a.db'}",
            timeout=300,
        )
        by_target: dict[str, dict[str, Any]] = {}
        for r in run.json()["results"] if run.out else []:
            by_target.setdefault(r["target"], {})[r["rule"]] = r
        yield {
            "run": run,
            "results": by_target,
            "targets": targets,
            "refused": refused,
            "healthy": f"registry:http://{healthy.host}",
            "requests": {mode: list(s.requests) for mode, s in servers.items()},
            "db": f"sqlite:///{tmp / 'a.db'}",
        }
    finally:
        for s in servers.values():
            s.stop()
        healthy.stop()


def test_scan_goes_on_and_exits_3(fault_scan: dict[str, Any]) -> None:
    run = fault_scan["run"]
    assert run.code == 3, run.err
    assert "Traceback" not in run.err
    doc = run.json()
    assert doc["assessment"]["status"] == "incomplete"
    # the healthy registry was judged in full
    healthy = fault_scan["results"][fault_scan["healthy"]]
    assert healthy["registry-auth-required"]["status"] == "fail"
    assert healthy["registry-push-not-anonymous"]["status"] == "fail"
    assert all(r["status"] != "error" for r in healthy.values()), healthy


def test_connection_refused_is_an_error_result(fault_scan: dict[str, Any]) -> None:
    endpoint = fault_scan["refused"].removeprefix("registry:")
    results = fault_scan["results"][fault_scan["refused"]]
    expected = f"not assessed: registry {endpoint}: connection refused"
    assert {r["message"] for r in results.values()} == {expected}
    assert {r["status"] for r in results.values()} == {"error"}
    assert f"registry {endpoint}: connection refused" in fault_scan["run"].err


@pytest.mark.parametrize("mode", sorted(WHOLE))
def test_fault_at_the_api_root_is_a_registry_error(fault_scan: dict[str, Any], mode: str) -> None:
    target = fault_scan["targets"][mode]
    results = fault_scan["results"][target]
    assert {r["status"] for r in results.values()} == {"error"}, results
    message = results["registry-push-not-anonymous"]["message"]
    assert message.startswith("not assessed: registry "), message
    assert WHOLE[mode] in message, message
    assert f"{WHOLE[mode]}" in fault_scan["run"].err


@pytest.mark.parametrize("mode", sorted(CONTENT))
def test_fault_in_the_catalog_is_a_content_error(fault_scan: dict[str, Any], mode: str) -> None:
    target = fault_scan["targets"][mode]
    results = fault_scan["results"][target]
    for rule in ("registry-images-signed", "registry-images-not-stale"):
        assert results[rule]["status"] == "error", results[rule]
        assert CONTENT[mode] in results[rule]["message"], results[rule]["message"]
    # what could be observed is still judged
    assert results["registry-tls-required"]["status"] == "fail"
    assert results["registry-auth-required"]["status"] in ("pass", "fail")


def test_no_upload_is_left_open_on_a_fault_server(fault_scan: dict[str, Any]) -> None:
    # a server that accepts nothing never sees a DELETE, and one that refuses reads is not
    # written to: the probe is a POST at most
    for mode, lines in fault_scan["requests"].items():
        posts = [line for line in lines if line.startswith("POST ")]
        assert len(posts) <= 1, (mode, lines)


def test_the_stored_assessment_names_each_failed_registry(fault_scan: dict[str, Any]) -> None:
    run = run_cli("results", "--status", "error", "--format", "json", db=fault_scan["db"])
    assert run.code == 0, run.err
    targets = {r["target"] for r in run.json()["results"]}
    assert fault_scan["refused"] in targets
    assert all(fault_scan["targets"][m] in targets for m in (*WHOLE, *CONTENT))
