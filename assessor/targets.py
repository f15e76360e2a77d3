"""Target strings (DESIGN section 4) parsed into typed values."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from urllib.parse import SplitResult, unquote, urlsplit

from assessor import extensions, jsonsafe
from assessor.errors import TargetError
from assessor.vocab import TargetKind

DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock"


IMAGE_TRANSPORTS = ("docker-archive", "oci", "docker-daemon", "docker")


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed target. ``uri`` is the canonical string stored with every assessment."""

    # a kind an installed plugin adds (entry point group assessor.collectors) is its name
    kind: TargetKind | str
    uri: str
    # host: the root directory; engine: the socket path, host:port, or for ssh
    # [user@]host:port (the remote socket is in the uri: see ssh_endpoint)
    location: str
    scheme: str = ""
    # ssh:// (and the engine:ssh:// it gives), how the host is read rather than which (the
    # uri carries neither): commands and the SFTP server run with sudo -n there (?sudo=1),
    # and the socket of the engine read with it (?socket=/PATH; "" for Docker's default)
    sudo: bool = False
    socket: str = ""
    # ssh:// and engine:ssh:// from an inventory: the private key file this host logs in with
    # (ansible_ssh_private_key_file); "" logs in with --ssh-key, else the agent and ~/.ssh
    key: str = ""

    def __str__(self) -> str:
        return self.uri


MAX_TARGET = 4096  # characters: a longer target string is a mistake, not a target

_EXAMPLES = (
    "examples: host:/  engine:unix:///var/run/docker.sock  engine:tcp://HOST:2376  "
    "engine:ssh://USER@HOST  ssh://USER@HOST  "
    "image:docker-archive:app.tar  image:oci:DIR  registry:https://HOST:5000"
)
_ENGINE_HINT = (
    "type engine:unix:///var/run/docker.sock, engine:tcp://HOST:2376 or "
    "engine:ssh://USER@HOST[:PORT]"
)
_SSH_HINT = "type engine:ssh://USER@HOST[:PORT] (add ?socket=/PATH for another engine socket)"
_HOST_SSH_HINT = (
    "type ssh://USER@HOST[:PORT] (add ?sudo=1 to read as root with sudo -n, ?socket=/PATH for "
    "another engine socket)"
)
_REGISTRY_HINT = "type registry:https://HOST[:PORT] (or registry:http://HOST[:PORT])"


def _show(text: str) -> str:
    """The target as an error message shows it: quoted, escaped, and at most 80 characters."""
    shown = repr(text[:80])
    return shown + f" (+{len(text) - 80} more characters)" if len(text) > 80 else shown


def _split(text: str, rest: str, hint: str) -> tuple[SplitResult, int | None]:
    """``urlsplit`` and the port, with every way they fail turned into a TargetError."""
    try:
        parts = urlsplit(rest)
        return parts, parts.port
    except ValueError as e:
        problem = str(e)
        if "Port" in problem or "port" in problem:
            problem = "the port must be a number from 1 to 65535"
        elif "IPv6" in problem:
            problem = "unclosed '[' of an IPv6 address (write [::1]:PORT)"
        raise TargetError(f"target {_show(text)}: {problem}", hint=hint) from None


def parse_target(text: str) -> Target:
    """Parse a target string (see `_parse`).

    A path given on the command line is bytes on Linux; bytes that are not UTF-8 reach here
    as lone surrogates. ``location`` keeps them (so the file is found), while ``uri``, the
    name stored and shown everywhere, writes each as ``\\xHH`` (the convention of
    assessor.jsonsafe.escape), so the stored name is always valid UTF-8.
    """
    target = _parse(text)
    uri = jsonsafe.escape(target.uri)
    return target if uri == target.uri else replace(target, uri=uri)


def _parse(text: str) -> Target:
    """Parse ``host:/ROOT``, ``engine:unix:///path``, ``engine:tcp://h:p``, ``image:...`` or
    ``registry:https://HOST[:PORT]``.

    Any string either gives a Target or raises TargetError whose one-line message names the
    target (escaped and shortened) and whose hint says what to type instead.
    """
    text = text.strip()
    if len(text) > MAX_TARGET:
        raise TargetError(
            f"target {_show(text)}: {len(text)} characters long (at most {MAX_TARGET})",
            hint=_EXAMPLES,
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise TargetError(
            f"target {_show(text)}: contains a control character (NUL, newline, ...)",
            hint=_EXAMPLES,
        )
    kind, sep, rest = text.partition(":")
    if kind == "ssh" and sep:
        return _host_ssh_target(text)
    if not sep or not rest:
        where = f" ({kind}: needs a location after the colon)" if kind in _KINDS else ""
        raise TargetError(f"target {_show(text)}: expected KIND:LOCATION{where}", hint=_EXAMPLES)
    if kind == TargetKind.HOST:
        if not rest.startswith("/"):
            raise TargetError(
                f"target {_show(text)}: a host root must be an absolute path",
                hint="type host:/ for this machine, or host:/mnt/ROOT for a mounted root",
            )
        root = os.path.normpath(rest)
        return Target(TargetKind.HOST, f"host:{root}", root)
    if kind == TargetKind.ENGINE:
        return _engine_target(text, rest)
    if kind == TargetKind.IMAGE:
        return _image_target(text, rest)
    if kind == TargetKind.REGISTRY:
        return _registry_target(text, rest)
    plugins = extensions.plugins(extensions.COLLECTORS_GROUP)
    if kind in plugins:  # the plugin's collector judges the location when it collects
        return Target(kind, f"{kind}:{rest}", rest)
    supported = ", ".join([*(k.value for k in TargetKind), *sorted(plugins)])
    raise TargetError(
        f"target {_show(text)}: unknown kind {kind[:40]!r} (supported in this version: "
        f"{supported})",
        hint=_EXAMPLES,
    )


_KINDS = frozenset(k.value for k in TargetKind)


def _engine_target(text: str, rest: str) -> Target:
    parts, port = _split(text, rest, _ENGINE_HINT)
    if parts.scheme == "unix":
        path = parts.path or ""
        if parts.netloc or not path.startswith("/"):
            raise TargetError(
                f"target {_show(text)}: expected engine:unix:///absolute/path.sock",
                hint="three slashes: engine:unix:///var/run/docker.sock",
            )
        return Target(TargetKind.ENGINE, f"engine:unix://{path}", path, "unix")
    if parts.scheme == "tcp":
        if parts.username is not None or parts.password is not None:
            raise TargetError(
                f"target {_show('engine:tcp://***@' + parts.netloc.rpartition('@')[2])}: "
                "credentials do not belong in a target",
                hint="the engine authenticates with TLS client certificates (DOCKER_CERT_PATH)",
            )
        if not parts.hostname or port is None or not 0 < port < 65536:
            raise TargetError(
                f"target {_show(text)}: expected engine:tcp://HOST:PORT with a port from 1 to "
                "65535",
                hint="type engine:tcp://HOST:2376 (TLS) or engine:tcp://HOST:2375",
            )
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise TargetError(
                f"target {_show(text)}: nothing may follow HOST:PORT", hint=_ENGINE_HINT
            )
        host = parts.hostname
        shown = f"[{host}]" if ":" in host else host
        return Target(TargetKind.ENGINE, f"engine:tcp://{shown}:{port}", f"{shown}:{port}", "tcp")
    if parts.scheme == "ssh":
        return _ssh_target(text, parts, port)
    scheme = parts.scheme or rest.partition(":")[0]
    raise TargetError(
        f"target {_show(text)}: the engine scheme must be unix://, tcp:// or ssh://, not "
        f"{scheme[:20]!r}",
        hint=_ENGINE_HINT,
    )


@dataclass(frozen=True, slots=True)
class SshEndpoint:
    """Where an ``engine:ssh://`` target is: the login (None: the current user, as ssh has
    it), the host, the port, and the engine's unix socket on that host."""

    user: str | None
    host: str
    port: int
    socket: str


SSH_PORT = 22


def _ssh_target(text: str, parts: SplitResult, port: int | None) -> Target:
    """``engine:ssh://[USER@]HOST[:PORT][?socket=/PATH]``: no password, no other path or
    parameter."""
    endpoint = _ssh_login(text, parts, port, "engine:ssh://")
    socket = _ssh_socket(text, parts.query)
    query = f"?socket={socket}" if socket != DEFAULT_DOCKER_SOCKET else ""
    return Target(TargetKind.ENGINE, f"engine:ssh://{endpoint}{query}", endpoint, "ssh")


def _host_ssh_target(text: str) -> Target:
    """``ssh://[USER@]HOST[:PORT][?sudo=1][&socket=/PATH]``: the machine itself (kind host,
    ``ssh://[USER@]HOST:PORT``); parse_targets adds its engine (engine:ssh://)."""
    parts, port = _split(text, text, _HOST_SSH_HINT)
    endpoint = _ssh_login(text, parts, port, "ssh://")
    sudo, socket = _host_ssh_query(text, parts.query)
    own = socket if socket != DEFAULT_DOCKER_SOCKET else ""
    return Target(TargetKind.HOST, f"ssh://{endpoint}", endpoint, "ssh", sudo=sudo, socket=own)


def _host_ssh_query(text: str, query: str) -> tuple[bool, str]:
    """``?sudo=1`` and ``?socket=/PATH`` of an ssh:// target (either, both, or none)."""
    sudo, socket = False, DEFAULT_DOCKER_SOCKET
    for item in query.split("&") if query else []:
        name, sep, value = item.partition("=")
        value = unquote(value)
        if name == "sudo" and sep and value in ("0", "1"):
            sudo = value == "1"
        elif name == "socket" and sep and value.startswith("/"):
            socket = os.path.normpath(value)
        else:
            raise TargetError(
                f"target {_show(text)}: the parameters are ?sudo=1 and ?socket=/ABSOLUTE/PATH",
                hint=_HOST_SSH_HINT,
            )
    return sudo, socket


def _ssh_login(text: str, parts: SplitResult, port: int | None, prefix: str) -> str:
    """``[USER@]HOST:PORT`` of an SSH target: no password, no path."""
    hint = _SSH_HINT if prefix.startswith("engine:") else _HOST_SSH_HINT
    if parts.password is not None:
        raise TargetError(
            f"target {_show(prefix + '***@' + parts.netloc.rpartition('@')[2])}: "
            "a password does not belong in a target",
            hint="log in with a key: the ssh agent, ~/.ssh/id_*, or --ssh-key FILE",
        )
    user = parts.username
    if (
        not parts.hostname
        or not _HOSTNAME.fullmatch(parts.hostname)
        or user == ""
        or (user is not None and not _SSH_USER.fullmatch(user))
        or (port is not None and not 0 < port < 65536)
        or parts.path not in ("", "/")
        or parts.fragment
        or parts.scheme != "ssh"
    ):
        raise TargetError(f"target {_show(text)}: expected {prefix}USER@HOST[:PORT]", hint=hint)
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    login = f"{user}@" if user else ""
    return f"{login}{shown}:{port or SSH_PORT}"


_SSH_USER = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?")


def _ssh_socket(text: str, query: str) -> str:
    """The remote engine socket: ``?socket=/PATH`` or Docker's default."""
    if not query:
        return DEFAULT_DOCKER_SOCKET
    name, sep, path = query.partition("=")
    path = unquote(path)
    if name != "socket" or not sep or not path.startswith("/") or "&" in path:
        raise TargetError(
            f"target {_show(text)}: the only parameter is ?socket=/ABSOLUTE/PATH",
            hint=_SSH_HINT,
        )
    return os.path.normpath(path)


def ssh_endpoint(target: Target) -> SshEndpoint:
    """The parts of an ``engine:ssh://`` or ``ssh://`` target (parsed by parse_target, so
    well formed; an ssh:// target's socket is Docker's default)."""
    parts = urlsplit(target.uri.removeprefix("engine:"))
    socket = _ssh_socket(target.uri, parts.query)
    return SshEndpoint(parts.username, parts.hostname or "", parts.port or SSH_PORT, socket)


_IMAGE_HINT = (
    "transports: docker-archive:PATH[:REF]  oci:DIR[:TAG]  docker-daemon:NAME:TAG  "
    "docker://HOST[:PORT]/REPO:TAG (after image:)"
)


def _image_target(text: str, rest: str) -> Target:
    transport, sep, location = rest.partition(":")
    if transport not in IMAGE_TRANSPORTS:
        raise TargetError(
            f"target {_show(text)}: expected image:TRANSPORT:LOCATION, and {transport[:30]!r} "
            "is not a transport",
            hint=_IMAGE_HINT,
        )
    if not sep or not location:
        raise TargetError(
            f"target {_show(text)}: expected image:TRANSPORT:LOCATION (no location after "
            f"{transport!r})",
            hint=_IMAGE_HINT,
        )
    if transport in ("docker-archive", "oci"):
        path, colon, ref = location.partition(":")
        # blanks around a path or tag are typing slop, and the canonical uri must parse back
        # to itself (the whole string is stripped when parsed)
        path, ref = path.strip(), ref.strip()
        if not path:
            raise TargetError(
                f"target {_show(text)}: no path",
                hint=f"type image:{transport}:PATH (a relative path is fine)",
            )
        # abspath drops trailing slashes, which may bare more blanks: strip and normalise
        # until neither changes the path (each round shortens it, so this ends)
        while (normal := os.path.abspath(path).strip()) != path:
            path = normal
        location = path + (f":{ref}" if colon and ref else "")
    elif transport == "docker" and _has_userinfo(location):
        shown = f"image:docker://***@{location.rpartition('@')[2]}"
        raise TargetError(
            f"target {_show(shown)}: credentials do not belong in a target",
            hint="give them with --creds USER:PASSWORD, ASSESSOR_REGISTRY_CREDS or "
            "~/.docker/config.json",
        )
    elif transport == "docker" and (not location.startswith("//") or len(location) <= 2):
        raise TargetError(
            f"target {_show(text)}: expected image:docker://HOST[:PORT]/REPO:TAG",
            hint="for example image:docker://127.0.0.1:5000/app:1.0",
        )
    return Target(TargetKind.IMAGE, f"image:{transport}:{location}", location, transport)


_DIGEST = re.compile(r"[A-Za-z0-9_+.-]+:[0-9a-fA-F]{32,}")


def _has_userinfo(location: str) -> bool:
    """``//USER:PASSWORD@HOST/...``: an ``@`` before the first ``/`` that is not a digest's."""
    authority = location.removeprefix("//").partition("/")[0]
    return "@" in authority and not _DIGEST.fullmatch(authority.rpartition("@")[2])


# a DNS name, an IPv4 address, or the inside of [IPv6] (with a %zone)
_HOSTNAME = re.compile(r"[A-Za-z0-9._:%-]+")


def _registry_target(text: str, rest: str) -> Target:
    """``registry:https://HOST[:PORT]`` or ``registry:http://HOST[:PORT]``, nothing more."""
    parts, port = _split(text, rest, _REGISTRY_HINT)
    if parts.username is not None or parts.password is not None:
        shown = f"registry:{parts.scheme}://***@{parts.netloc.rpartition('@')[2]}"
        raise TargetError(
            f"target {_show(shown)}: credentials do not belong in a target",
            hint="give them with --creds USER:PASSWORD, ASSESSOR_REGISTRY_CREDS or "
            "~/.docker/config.json",
        )
    if port is not None and not 0 < port < 65536:
        raise TargetError(
            f"target {_show(text)}: the port must be a number from 1 to 65535",
            hint=_REGISTRY_HINT,
        )
    if parts.scheme not in ("https", "http"):
        scheme = parts.scheme or rest.partition(":")[0]
        raise TargetError(
            f"target {_show(text)}: expected registry:https://HOST[:PORT] or "
            f"registry:http://HOST[:PORT], not the scheme {scheme[:20]!r}",
            hint=_REGISTRY_HINT,
        )
    if (
        not parts.hostname
        or not _HOSTNAME.fullmatch(parts.hostname)
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise TargetError(
            f"target {_show(text)}: expected registry:https://HOST[:PORT] or "
            "registry:http://HOST[:PORT]",
            hint="no path: the registry's API root is found by itself",
        )
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    endpoint = f"{shown}:{port}" if port is not None else shown
    return Target(
        TargetKind.REGISTRY, f"registry:{parts.scheme}://{endpoint}", endpoint, parts.scheme
    )


def parse_targets(texts: Iterable[str]) -> list[Target]:
    """Each target string parsed, in order, ``ssh://`` ones with their engines
    (with_engines)."""
    return with_engines(parse_target(t) for t in texts)


def with_engines(targets: Iterable[Target]) -> list[Target]:
    """The targets, each ``ssh://[USER@]HOST[:PORT]`` followed by its engine: an ssh://
    target is two, the machine (kind host) and ``engine:ssh://[USER@]HOST:PORT``, both read
    over SSH."""
    found: list[Target] = []
    for target in targets:
        found.append(target)
        if target.kind == TargetKind.HOST and target.scheme == "ssh":
            query = f"?socket={target.socket}" if target.socket else ""
            engine = f"engine:ssh://{target.location}{query}"
            found.append(
                Target(
                    TargetKind.ENGINE,
                    engine,
                    target.location,
                    "ssh",
                    sudo=target.sudo,
                    key=target.key,
                )
            )
    return found


def default_targets(socket_path: str = DEFAULT_DOCKER_SOCKET) -> list[Target]:
    """No target given: this host, plus the local engine when its socket exists."""
    targets = [parse_target("host:/")]
    if os.path.exists(socket_path):
        targets.append(parse_target(f"engine:unix://{socket_path}"))
    return targets
