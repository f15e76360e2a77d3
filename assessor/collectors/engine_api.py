"""The Docker Engine API client: one httpx client to an engine's unix socket or TCP address
(TLS when DOCKER_TLS_VERIFY and DOCKER_CERT_PATH say so). The engine collector, the image
reader's ``docker-daemon`` transport and the registry collector's local engine share it."""

from __future__ import annotations

import os
import ssl

import httpx

from assessor.errors import TargetUnreachableError
from assessor.targets import Target

TIMEOUT = 20.0  # seconds per API call; ASSESSOR_ENGINE_TIMEOUT overrides


def _timeout() -> float:
    try:
        return float(os.environ.get("ASSESSOR_ENGINE_TIMEOUT", TIMEOUT))
    except ValueError:
        return TIMEOUT


def engine_client(target: Target) -> httpx.Client:
    """A client of the engine ``target`` names (not yet connected)."""
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
    cert_path = os.environ.get("DOCKER_CERT_PATH")
    if os.environ.get("DOCKER_TLS_VERIFY") and cert_path:
        ctx = ssl.create_default_context(cafile=os.path.join(cert_path, "ca.pem"))
        ctx.load_cert_chain(os.path.join(cert_path, "cert.pem"), os.path.join(cert_path, "key.pem"))
        return httpx.Client(base_url=f"https://{target.location}", verify=ctx, timeout=_timeout())
    return httpx.Client(base_url=f"http://{target.location}", timeout=_timeout())
