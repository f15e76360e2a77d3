from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assessor.errors import TargetError
from assessor.targets import SshEndpoint, Target, parse_target, parse_targets, ssh_endpoint
from assessor.vocab import TargetKind


def test_parse_targets() -> None:
    assert parse_target("host:/").uri == "host:/"
    assert parse_target("host:/srv/root/").location == "/srv/root"
    t = parse_target("engine:unix:///var/run/docker.sock")
    assert (t.kind, t.location, t.scheme) == (TargetKind.ENGINE, "/var/run/docker.sock", "unix")
    assert parse_target("engine:tcp://10.0.0.1:2376").uri == "engine:tcp://10.0.0.1:2376"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "host",
        "host:relative",
        "engine:http://x",
        "engine:tcp://h",
        "printer:/dev/lp0",
        "engine:unix://relative.sock",
    ],
)
def test_bad_targets(text: str) -> None:
    with pytest.raises(TargetError):
        parse_target(text)


@pytest.mark.parametrize(
    ("text", "uri", "location", "scheme"),
    [
        ("registry:https://reg.example", "registry:https://reg.example", "reg.example", "https"),
        ("registry:https://Reg.Example:5000/", "registry:https://reg.example:5000", "reg.example:5000", "https"),
        ("registry:http://127.0.0.1:5000", "registry:http://127.0.0.1:5000", "127.0.0.1:5000", "http"),
        ("registry:https://[::1]:5443", "registry:https://[::1]:5443", "[::1]:5443", "https"),
    ],
)  # fmt: skip
def test_registry_targets(text: str, uri: str, location: str, scheme: str) -> None:
    t = parse_target(text)
    assert (t.kind, t.uri, t.location, t.scheme) == (TargetKind.REGISTRY, uri, location, scheme)


@pytest.mark.parametrize(
    "text",
    [
        "registry:reg.example",
        "registry:ftp://reg.example",
        "registry:https://",
        "registry:https://reg.example/v2/",
        "registry:https://user:secret@reg.example",
        "registry:https://reg.example:99999",
        "registry:https://reg.example?x=1",
    ],
)
def test_bad_registry_targets(text: str) -> None:
    with pytest.raises(TargetError) as e:
        parse_target(text)
    assert "secret" not in e.value.message


# -- hostile target strings (issue 17, item 8) -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("engine:tcp://127.0.0.1:99999", "port must be a number from 1 to 65535"),
        ("engine:tcp://h:-1", "port must be a number"),
        ("engine:tcp://[::1", "unclosed '['"),
        ("registry:https://[::1", "unclosed '['"),
        ("engine:ftp://x", "must be unix://, tcp:// or ssh://, not 'ftp'"),
        ("engine:ssh://u:secret@h", "a password does not belong"),
        ("engine:ssh://u@h/var/run/docker.sock", "expected engine:ssh://USER@HOST[:PORT]"),
        ("engine:ssh://@h", "expected engine:ssh://USER@HOST[:PORT]"),
        ("engine:ssh://u@h:0", "expected engine:ssh://USER@HOST[:PORT]"),
        ("engine:ssh://u@h:70000", "port must be a number from 1 to 65535"),
        ("engine:ssh://u@h?socket=docker.sock", "?socket=/ABSOLUTE/PATH"),
        ("engine:ssh://u@h?sock=/x", "?socket=/ABSOLUTE/PATH"),
        ("registry:gopher://x", "registry:http://HOST[:PORT], not the scheme 'gopher'"),
        ("image:nope:x", "'nope' is not a transport"),
        ("host:", "host: needs a location"),
        ("host:/a\x00b", "control character"),
        ("ssh://", "expected ssh://USER@HOST[:PORT]"),
        ("ssh://u:secret@h", "a password does not belong"),
        ("ssh://u@h/etc", "expected ssh://USER@HOST[:PORT]"),
        ("ssh://u@h?sudo=yes", "the parameters are ?sudo=1 and ?socket=/ABSOLUTE/PATH"),
        ("ssh://u@h?socket=docker.sock", "the parameters are ?sudo=1 and ?socket=/ABSOLUTE/PATH"),
        ("ssh:u@h", "expected ssh://USER@HOST[:PORT]"),
        ("engine:tcp://u:secret@h:2376", "credentials do not belong"),
        ("engine:tcp://h:2376/v1.41", "nothing may follow HOST:PORT"),
        ("x" * 100_000, "characters long"),
    ],
)
def test_hostile_targets_name_the_problem(text: str, want: str) -> None:
    with pytest.raises(TargetError) as e:
        parse_target(text)
    assert want in e.value.message
    assert len(e.value.message) < 300 and e.value.hint
    assert "secret" not in e.value.message


@pytest.mark.parametrize(
    ("text", "uri", "endpoint"),
    [
        ("engine:ssh://root@10.0.0.5", "engine:ssh://root@10.0.0.5:22",
         SshEndpoint("root", "10.0.0.5", 22, "/var/run/docker.sock")),
        ("engine:ssh://host.example:2222/", "engine:ssh://host.example:2222",
         SshEndpoint(None, "host.example", 2222, "/var/run/docker.sock")),
        ("engine:ssh://u@[::1]?socket=/run/user/1000/docker.sock",
         "engine:ssh://u@[::1]:22?socket=/run/user/1000/docker.sock",
         SshEndpoint("u", "::1", 22, "/run/user/1000/docker.sock")),
    ],
)  # fmt: skip
def test_ssh_engine_target_is_canonical_and_gives_its_endpoint(
    text: str, uri: str, endpoint: SshEndpoint
) -> None:
    t = parse_target(text)
    assert (t.kind, t.scheme, t.uri) == ("engine", "ssh", uri)
    assert ssh_endpoint(t) == endpoint
    assert parse_target(t.uri) == t  # the stored name parses back to the same target


@pytest.mark.parametrize(
    ("text", "host", "engine", "sudo"),
    [
        ("ssh://root@10.0.0.5", "ssh://root@10.0.0.5:22", "engine:ssh://root@10.0.0.5:22", False),
        ("ssh://h:2222/?sudo=1", "ssh://h:2222", "engine:ssh://h:2222", True),
        ("ssh://u@[::1]?socket=/run/d.sock&sudo=1", "ssh://u@[::1]:22",
         "engine:ssh://u@[::1]:22?socket=/run/d.sock", True),
    ],
)  # fmt: skip
def test_ssh_target_is_the_host_and_its_engine(
    text: str, host: str, engine: str, sudo: bool
) -> None:
    """ssh://: the machine (kind host) and its engine, stored under names without sudo."""
    h, e = parse_targets([text])
    assert (h.kind, h.scheme, h.uri, h.sudo) == ("host", "ssh", host, sudo)
    assert (e.kind, e.scheme, e.uri, e.sudo) == ("engine", "ssh", engine, sudo)
    here, there = ssh_endpoint(h), ssh_endpoint(e)
    assert (here.user, here.host, here.port) == (there.user, there.host, there.port)
    assert parse_target(h.uri).uri == h.uri and parse_target(e.uri).uri == e.uri
    assert [t.uri for t in parse_targets(["host:/", text])] == ["host:/", host, engine]


def test_ipv6_engine_keeps_its_brackets() -> None:
    t = parse_target("engine:tcp://[::1]:2376")
    assert (t.uri, t.location) == ("engine:tcp://[::1]:2376", "[::1]:2376")


_ALPHABET = "hostengimargydcker:/[]@.?#%0123456789-_ \x00\n\tABC\u00e9\ud7ff"
_PREFIXES = ["", "host:", "engine:", "engine:tcp://", "engine:unix://", "image:", "image:oci:",
             "image:docker://", "image:docker-archive:", "registry:", "registry:https://", "ssh://",
             "engine:ssh://"]  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(_PREFIXES), st.text(alphabet=_ALPHABET, max_size=40) | st.text(max_size=40))
def test_parse_target_returns_a_target_or_raises_target_error(prefix: str, tail: str) -> None:
    """Whatever is typed: a Target, or a TargetError with a short message. Nothing else."""
    try:
        t = parse_target(prefix + tail)
    except TargetError as e:
        message = e.message
        t = None
    if t is None:
        assert len(message) < 400
        return
    assert isinstance(t, Target)
    assert parse_target(t.uri) == t  # the canonical form reads back as itself


def test_a_path_that_is_not_utf8_is_found_and_named_escaped() -> None:
    # what Python makes of the argv bytes b"image:oci:/tmp/app\xff" (surrogateescape)
    target = parse_target("image:oci:/tmp/app\udcff")
    assert target.location.startswith("/tmp/app\udcff")  # the real path, to open
    assert str(target) == "image:oci:/tmp/app\\xff"  # the stored name: valid UTF-8
    str(target).encode("utf-8")
    host = parse_target("host:/mnt/r\udcfe")
    assert host.location == "/mnt/r\udcfe"
    assert str(host) == "host:/mnt/r\\xfe"
