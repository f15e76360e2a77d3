"""A fleet read over SSH, end to end: one ``assessor scan`` of three ``ssh://`` machines (two
ports of a throwaway sshd on 127.0.0.1, each a machine of its own, and a port nothing listens
on), then ``assessor report --system --period``: three hosts, the unreachable one last and
named with its reason, and ``assessor trend --system`` counting three hosts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.sshd import Sshd, free_port, start_sshd

NO_AGENT = {"SSH_AUTH_SOCK": ""}


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    yield from start_sshd(tmp_path_factory.mktemp("sshd"), ports=[free_port(), free_port()])


def test_ssh_fleet_report(sshd: Sshd, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'lab.db'}"
    closed = free_port()
    ports = [*sshd.ports, closed]
    targets = [f"ssh://root@127.0.0.1:{p}" for p in ports]
    args = ("--system", "lab", "--period", "2026-Q4")
    scan = run_cli(
        "scan", *targets, *sshd.args(), *args, "--progress", "none", db=db, env=NO_AGENT,
        timeout=600,
    )  # fmt: skip
    assert scan.code == 3, scan.err  # a target could not be reached
    out = tmp_path / "lab.html"
    r = run_cli("report", *args, "-o", str(out), db=db)
    assert r.code == 0, r.err
    html = out.read_text()
    start = html.index('id="host-table"')
    table = html[start : html.index("</table>", start)]
    names = [
        unescape(re.sub(r"<[^>]+>", "", n))
        for n in re.findall(r'<td class="num">\d+</td><td class="mono">(.*?)</td>', table)
    ]
    assert sorted(names[:2]) == sorted(f"127.0.0.1:{p}" for p in sshd.ports)
    assert names[2] == f"127.0.0.1:{closed}"
    unreached = html.split('id="unreached"')[1].split("</table>")[0]
    assert f"ssh://root@127.0.0.1:{closed}" in unreached
    assert f"engine:ssh://root@127.0.0.1:{closed}" in unreached
    assert "1 assessment (" in html
    trend = run_cli("trend", "--system", "lab", "--format", "json", db=db)
    assert trend.code == 0, trend.err
    assert json.loads(trend.out)["periods"][0]["hosts"] == 3
