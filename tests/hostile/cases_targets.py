"""Target strings a person might type, or a script might build wrong (issue 17, item 8)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.hostile.corpus import Case, Ctx


def _scan(target: str) -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        return ["scan", target]

    return build


_BAD = [
    ("target-empty", "", r"target '': expected KIND:LOCATION"),
    ("target-unknown-kind", "foo:bar", r"unknown kind 'foo'"),
    ("target-port-out-of-range", "engine:tcp://127.0.0.1:99999", r"port"),
    ("target-unclosed-ipv6", "engine:tcp://[::1", r"\[::1"),
    ("target-engine-ftp", "engine:ftp://x", r"must be unix://, tcp:// or ssh://, not 'ftp'"),
    ("target-registry-gopher", "registry:gopher://x", r"not the scheme 'gopher'"),
    ("target-image-unknown-transport", "image:nope:x", r"'nope' is not a transport"),
    ("target-host-nothing", "host:", r"target 'host:': expected KIND:LOCATION"),
    ("target-engine-nothing", "engine:", r"engine: needs a location"),
    ("target-ssh-no-host", "ssh://", r"expected ssh://USER@HOST\[:PORT\]"),
    ("target-registry-unclosed-ipv6", "registry:https://[::1", r"unclosed '\['"),
    ("target-negative-port", "engine:tcp://h:-1", r"port must be a number from 1 to 65535"),
    ("target-port-zero", "registry:https://h:0", r"port must be a number"),
    ("target-unix-relative", "engine:unix://docker.sock", r"engine:unix:///absolute"),
    ("target-engine-credentials", "engine:tcp://u:hunter2@h:2376", r"\*\*\*@h:2376"),
    ("target-very-long", "image:oci:" + "a" * 20000, r"characters long \(at most 4096\)"),
    ("target-newline", "host:/\nengine:tcp://x:1", r"control character"),
]

CASES = [
    Case(
        name,
        "targets",
        f"target string {text[:60]!r}",
        _scan(text),
        2,
        rf"^assessor: error: .*{want}",
    )
    for name, text, want in _BAD
]


def _garbled_docker_host(ctx: Ctx) -> list[str]:
    # image:docker-daemon: reaches the engine named by DOCKER_HOST, parsed as a target too
    ctx.env["DOCKER_HOST"] = "tcp://[::1"
    return ["scan", "image:docker-daemon:app:1"]


CASES.append(
    Case(
        "target-docker-host-garbled",
        "targets",
        "DOCKER_HOST with an unclosed IPv6 bracket, read for image:docker-daemon:",
        _garbled_docker_host,
        2,
        r"^assessor: error: .*unclosed '\['",
    )
)

_VALID_OCI = Path(__file__).resolve().parents[1] / "fixtures" / "hostile" / "valid-oci"


def _not_utf8_path(ctx: Ctx) -> list[str]:
    # the folder's name is the bytes b"img\xff"; Python hands them over as a lone surrogate
    # and the child process gets the same bytes back in its argv
    folder = ctx.work / os.fsdecode(b"img\xff")
    shutil.copytree(_VALID_OCI, folder)
    return ["scan", f"image:oci:{folder}", "--format", "json"]


def _stored_escaped(ctx: Ctx, out: str, err: str) -> None:
    listing = subprocess.run(
        [sys.executable, "-m", "assessor", "assessments", "--format", "json", "--db", ctx.db],
        capture_output=True,
        text=True,
        check=True,
        cwd=ctx.work,
    )
    assert "img\\\\xff" in listing.stdout, listing.stdout  # \xff, as JSON writes a backslash
    assert '"complete"' in listing.stdout, listing.stdout


CASES.append(
    Case(
        "target-path-not-utf8",
        "targets",
        "an image path whose folder name is not UTF-8 (b'img\\xff')",
        _not_utf8_path,
        0,
        None,
        check=_stored_escaped,
    )
)
