"""A fleet fed by evidence bundles, end to end through the real command line: four machines
(each its own hostname, in a UTS namespace the test creates; one whose engine is not there)
run ``assessor collect``, the central store ingests the bundles (one twice), and ``assessor
report --system --period`` and ``assessor trend --system`` cover the four hosts, each once."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

from tests.conftest import ROOT, missing, require_module, run_cli

require_module("pyhanko", "the report extra")

HOSTS = {"web-1": True, "web-2": False, "db-1": True}  # hostname -> icc in its daemon.json


def _root(tmp_path: Path, name: str, icc: bool) -> Path:
    """An offline host root: a daemon.json and a docker.service unit."""
    root = tmp_path / name
    (root / "etc" / "docker").mkdir(parents=True)
    (root / "etc" / "docker" / "daemon.json").write_text(json.dumps({"icc": icc}))
    unit = root / "usr" / "lib" / "systemd" / "system"
    unit.mkdir(parents=True)
    (unit / "docker.service").write_text("[Service]\nExecStart=/usr/bin/dockerd -H fd://\n")
    return root


def _collect_as(hostname: str, target: str, out: Path, env: dict[str, str], code: int = 0) -> None:
    """``assessor collect TARGET -o OUT`` on a machine named ``hostname`` (a new UTS
    namespace: the collecting machine's name is what the bundle records)."""
    argv = [sys.executable, "-m", "assessor", "collect", target, "-o", str(out)]
    script = 'hostname "$0" && exec "$@"'
    done = subprocess.run(
        ["unshare", "--uts", "sh", "-c", script, hostname, *argv],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
        env={**os.environ, **env},
    )  # fmt: skip
    assert done.returncode == code, done.stderr


def test_bundles_of_four_machines_make_one_fleet(tmp_path: Path) -> None:
    if shutil.which("unshare") is None:
        missing("unshare (util-linux)")
    keys = {"ASSESSOR_KEY_DIR": str(tmp_path / "keys")}
    assert run_cli("keys", "init", "--organisation", "Fleet Org", env=keys).code == 0
    db = f"sqlite:///{tmp_path / 'central.db'}"
    bundles = []
    for name, icc in HOSTS.items():
        out = tmp_path / f"{name}.bundle"
        _collect_as(name, f"host:{_root(tmp_path, name, icc)}", out, keys)
        bundles.append(str(out))
    # a fourth machine whose engine could not be read: its bundle says so (exit 3)
    down = tmp_path / "cache-1.bundle"
    _collect_as("cache-1", f"engine:unix://{tmp_path}/no.sock", down, keys, code=3)
    bundles.append(str(down))
    args = ("--system", "fleet", "--period", "2026-Q4")
    first = run_cli("ingest", *bundles, bundles[0], *args, db=db, env=keys)
    assert first.code == 3, first.err  # a target of a bundle was not reached
    assert "nothing added" in first.out  # the same bundle twice stores once
    out = tmp_path / "fleet.html"
    r = run_cli("report", *args, "-o", str(out), "--sign", db=db, env=keys)
    assert r.code == 0, r.err
    html = out.read_text()
    start = html.index('id="host-table"')
    table = html[start : html.index("</table>", start)]
    names = [
        unescape(re.sub(r"<[^>]+>", "", n))
        for n in re.findall(r'<td class="num">\d+</td><td class="mono">(.*?)</td>', table)
    ]
    assert sorted(names[:3]) == sorted(HOSTS)
    assert names[3] == "cache-1"  # not reached: after every host that fails something
    assert "4 hosts, each as last read in the period" in html
    assert "4 assessments (" in html
    unreached = html.split('id="unreached"')[1].split("</table>")[0]
    assert "cache-1" in unreached and "no.sock" in unreached
    v = run_cli("verify", str(out), env=keys)
    assert v.code == 0, v.out + v.err
    trend = run_cli("trend", "--system", "fleet", "--format", "json", db=db)
    assert trend.code == 0, trend.err
    (period,) = json.loads(trend.out)["periods"]
    assert (period["period"], period["hosts"], len(period["assessments"])) == ("2026-Q4", 4, 4)
