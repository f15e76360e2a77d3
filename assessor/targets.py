"""Target strings (DESIGN section 4) parsed into typed values."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from assessor.errors import TargetError

DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock"


class TargetKind(StrEnum):
    HOST = "host"
    ENGINE = "engine"
    IMAGE = "image"
    REGISTRY = "registry"


IMAGE_TRANSPORTS = ("docker-archive", "oci", "docker-daemon", "docker")


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed target. ``uri`` is the canonical string stored with every assessment."""

    kind: TargetKind
    uri: str
    # host: the root directory; engine: the socket path or host:port
    location: str
    scheme: str = ""

    def __str__(self) -> str:
        return self.uri


def parse_target(text: str) -> Target:
    """Parse ``host:/ROOT``, ``engine:unix:///path``, ``engine:tcp://h:p``, ``image:...`` or
    ``registry:https://HOST[:PORT]``."""
    text = text.strip()
    kind, sep, rest = text.partition(":")
    if not sep or not rest:
        raise TargetError(
            f"target {text!r}: expected KIND:LOCATION",
            hint="examples: host:/  engine:unix:///var/run/docker.sock  engine:tcp://host:2376  "
            "image:docker-archive:app.tar  registry:https://registry.example:5000",
        )
    if kind == "host":
        if not rest.startswith("/"):
            raise TargetError(f"target {text!r}: a host root must be an absolute path")
        root = os.path.normpath(rest)
        return Target(TargetKind.HOST, f"host:{root}", root)
    if kind == "engine":
        parts = urlsplit(rest)
        if parts.scheme == "unix":
            path = parts.path or ""
            if not path.startswith("/"):
                raise TargetError(f"target {text!r}: expected engine:unix:///absolute/path.sock")
            return Target(TargetKind.ENGINE, f"engine:unix://{path}", path, "unix")
        if parts.scheme == "tcp":
            if not parts.hostname or not parts.port:
                raise TargetError(f"target {text!r}: expected engine:tcp://HOST:PORT")
            return Target(
                TargetKind.ENGINE,
                f"engine:tcp://{parts.hostname}:{parts.port}",
                parts.netloc,
                "tcp",
            )
        raise TargetError(f"target {text!r}: engine scheme must be unix:// or tcp://")
    if kind == "image":
        return _image_target(text, rest)
    if kind == "registry":
        return _registry_target(text, rest)
    supported = ", ".join(k.value for k in TargetKind)
    raise TargetError(
        f"target {text!r}: unknown kind {kind!r} (supported in this version: {supported})"
    )


def _image_target(text: str, rest: str) -> Target:
    transport, sep, location = rest.partition(":")
    if not sep or transport not in IMAGE_TRANSPORTS or not location:
        raise TargetError(
            f"target {text!r}: expected image:TRANSPORT:LOCATION",
            hint="transports: docker-archive:PATH[:REF]  oci:DIR[:TAG]  "
            "docker-daemon:NAME:TAG  docker://HOST[:PORT]/REPO:TAG",
        )
    if transport in ("docker-archive", "oci"):
        path, colon, ref = location.partition(":")
        if not path:
            raise TargetError(f"target {text!r}: no path")
        location = os.path.abspath(path) + (f":{ref}" if colon and ref else "")
    elif transport == "docker" and (not location.startswith("//") or len(location) <= 2):
        raise TargetError(f"target {text!r}: expected image:docker://HOST[:PORT]/REPO:TAG")
    return Target(TargetKind.IMAGE, f"image:{transport}:{location}", location, transport)


def _registry_target(text: str, rest: str) -> Target:
    """``registry:https://HOST[:PORT]`` or ``registry:http://HOST[:PORT]``, nothing more."""
    parts = urlsplit(rest)
    if parts.username is not None or parts.password is not None:
        shown = f"registry:{parts.scheme}://***@{parts.netloc.rpartition('@')[2]}"
        raise TargetError(
            f"target {shown!r}: credentials do not belong in a target",
            hint="give them with --creds USER:PASSWORD, ASSESSOR_REGISTRY_CREDS or "
            "~/.docker/config.json",
        )
    try:
        port = parts.port
    except ValueError:
        raise TargetError(f"target {text!r}: invalid port") from None
    if (
        parts.scheme not in ("https", "http")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise TargetError(
            f"target {text!r}: expected registry:https://HOST[:PORT] or registry:http://HOST[:PORT]"
        )
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    endpoint = f"{shown}:{port}" if port is not None else shown
    return Target(
        TargetKind.REGISTRY, f"registry:{parts.scheme}://{endpoint}", endpoint, parts.scheme
    )


def default_targets(socket_path: str = DEFAULT_DOCKER_SOCKET) -> list[Target]:
    """No target given: this host, plus the local engine when its socket exists."""
    targets = [parse_target("host:/")]
    if os.path.exists(socket_path):
        targets.append(parse_target(f"engine:unix://{socket_path}"))
    return targets
