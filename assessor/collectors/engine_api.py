"""The Docker Engine API client: one httpx client to an engine's unix socket, TCP address
(TLS when DOCKER_TLS_VERIFY and DOCKER_CERT_PATH say so), or unix socket on another machine
reached through SSH (assessor.collectors.engine_ssh, the ``ssh`` extra). The engine collector,
the image reader's ``docker-daemon`` transport and the registry collector's local engine
share it."""

from __future__ import annotations

import os
import ssl
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from assessor.collectors.options import SshSettings
from assessor.errors import TargetUnreachableError
from assessor.extras import require
from assessor.targets import Target

if TYPE_CHECKING:
    from assessor.collectors.engine_ssh import SshTunnel

TIMEOUT = 20.0  # seconds per API call; ASSESSOR_ENGINE_TIMEOUT overrides


def _timeout() -> float:
    try:
        return float(os.environ.get("ASSESSOR_ENGINE_TIMEOUT", TIMEOUT))
    except ValueError:
        return TIMEOUT


class TunnelClient(httpx.Client):
    """A client of an engine reached through SSH: closing it closes the tunnel."""

    def __init__(self, tunnel: SshTunnel) -> None:
        # no TLS on a unix socket: skip building a CA store (0.05 s of every scan)
        super().__init__(
            transport=httpx.HTTPTransport(uds=tunnel.path, verify=False),
            base_url="http://docker",
            timeout=_timeout(),
            verify=False,  # plain HTTP over a private socket; SSH encrypts
        )
        self.tunnel = tunnel

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.tunnel.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        try:
            super().__exit__(exc_type, exc_value, traceback)
        finally:
            self.tunnel.close()


def connection(client: httpx.Client, target: Target) -> dict[str, Any]:
    """How the engine was reached, for its evidence: the scheme, TLS, and through SSH the
    login, host, port, remote socket and the host key that was verified."""
    out: dict[str, Any] = {
        "scheme": target.scheme,
        "tls": str(client.base_url).startswith("https"),
    }
    if isinstance(client, TunnelClient):
        out["ssh"] = client.tunnel.describe()
    return out


def engine_client(target: Target, ssh: SshSettings | None = None) -> httpx.Client:
    """A client of the engine ``target`` names (not yet connected, except through SSH: then
    logged in and forwarding, with ``ssh``'s known_hosts, key and timeout)."""
    if target.scheme == "unix":
        if not os.path.exists(target.location):
            raise TargetUnreachableError(f"{target}: socket {target.location} does not exist")
        # no TLS on a unix socket: skip building a CA store (0.05 s of every scan)
        transport = httpx.HTTPTransport(uds=target.location, verify=False)
        return httpx.Client(
            transport=transport,
            base_url="http://docker",
            timeout=_timeout(),
            verify=False,  # noqa: S501 - plain HTTP over a local socket
        )
    if target.scheme == "ssh":
        require("ssh", "engine:ssh:// targets")
        from assessor.collectors.engine_ssh import SshTunnel

        return TunnelClient(SshTunnel(target, ssh or SshSettings()).open())
    cert_path = os.environ.get("DOCKER_CERT_PATH")
    if os.environ.get("DOCKER_TLS_VERIFY") and cert_path:
        ctx = ssl.create_default_context(cafile=os.path.join(cert_path, "ca.pem"))
        ctx.load_cert_chain(os.path.join(cert_path, "cert.pem"), os.path.join(cert_path, "key.pem"))
        return httpx.Client(base_url=f"https://{target.location}", verify=ctx, timeout=_timeout())
    return httpx.Client(base_url=f"http://{target.location}", timeout=_timeout())
