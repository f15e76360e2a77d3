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
