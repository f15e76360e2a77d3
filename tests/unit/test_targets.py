from __future__ import annotations

import pytest

from assessor.errors import TargetError
from assessor.targets import TargetKind, parse_target


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
