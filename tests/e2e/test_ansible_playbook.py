"""deploy/ansible: the playbook run for real with ansible-playbook against two throwaway sshds
(on 127.0.0.1, and on port 22 in a network namespace of the test's own: the machine itself,
reached as two remote hosts) and a host that refuses connections.
It installs assessor from this checkout's wheels into a venv there, collects a signed bundle,
fetches it and ingests it into a PostgreSQL database on the controller: one assessment per
reachable host with that host's targets; the unreachable host stops nothing; a second run the
same day collects and stores nothing new and changes nothing. ansible-lint (production
profile, offline) passes on the playbook. Ansible's home, temporary and control folders are
the test's own, on the controller and on the host."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, SOCKET, missing, sql
from tests.sshd import Sshd, free_port, netns, start_sshd

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ANSIBLE = ROOT / "deploy" / "ansible"
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    if not os.access(path, os.X_OK):
        missing(f"{name} (the deploy-test extra: pip install -e '.[deploy-test]')")
    return str(path)


@pytest.fixture(scope="module")
def sshds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sshd, Sshd]]:
    """Two hosts: an sshd on 127.0.0.1 and one on port 22 in a network namespace of the
    test's own, accepting the same client key."""
    d = tmp_path_factory.mktemp("sshd")
    with netns() as (name, address):
        local = start_sshd(d / "local")
        here = next(local)
        remote = start_sshd(d / "ns", address=address, ports=[22], netns=name, client=here.key)
        there = next(remote)
        try:
            yield here, there
        finally:
            for started in (remote, local):
                started.close()


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout's wheel and every wheel it needs with the report extra (signing)."""
    wheels = tmp_path_factory.mktemp("wheels")
    pip = [sys.executable, "-m", "pip"]
    build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels)]
    subprocess.run([*build, str(ROOT)], check=True, timeout=300)
    [wheel] = wheels.glob("assessor-*.whl")
    subprocess.run(
        [*pip, "download", "-q", "-d", str(wheels), f"{wheel}[report]"], check=True, timeout=600
    )
    return wheels


def _ansible_env(home: Path) -> dict[str, str]:
    for d in ("home", "tmp", "cp", "cache"):
        (home / d).mkdir(parents=True, exist_ok=True)
    (home / "ansible.cfg").write_text("")
    return {
        **os.environ,
        "ANSIBLE_HOME": str(home / "home"),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_REMOTE_TEMP": str(home / "tmp"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(home / "cp"),
        "ANSIBLE_CONFIG": str(home / "ansible.cfg"),  # none of the machine's
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "XDG_CACHE_HOME": str(home / "cache"),
        "PYTHONPATH": str(ROOT),  # the controller's assessor is this checkout's
        "SSH_AUTH_SOCK": "",
    }


@dataclass
class Fleet:
    work: Path
    inventory: Path
    db: str
    env: dict[str, str]
    extra: list[str]

    def play(self) -> subprocess.CompletedProcess[str]:
        argv = [_tool("ansible-playbook"), "-i", str(self.inventory), str(ANSIBLE / "fleet.yml")]
        return subprocess.run(
            [*argv, *self.extra],
            capture_output=True,
            text=True,
            timeout=900,
            env=self.env,
            cwd=self.work,
            check=False,
        )


@pytest.fixture
def fleet(
    sshds: tuple[Sshd, Sshd],
    wheelhouse: Path,
    tmp_path_factory: pytest.TempPathFactory,
    pg_url: str,
) -> Fleet:
    here, there = sshds
    work = tmp_path_factory.mktemp("fleet")
    known = work / "known_hosts"
    known.write_text(here.known_hosts.read_text() + there.known_hosts.read_text())
    ssh_args = f"-o UserKnownHostsFile={known} -o StrictHostKeyChecking=yes"
    inventory = work / "inventory.ini"
    # each host its own folder: both are this machine's filesystem
    inventory.write_text(
        "[fleet]\n"
        f"local ansible_host=127.0.0.1 ansible_port={here.port} "
        f"assessor_remote_dir={work / 'on-host' / 'local'}\n"
        f"nshost ansible_host={there.address} ansible_port=22 "
        f"assessor_remote_dir={work / 'on-host' / 'nshost'}\n"
        f"down ansible_host=127.0.0.1 ansible_port={free_port()} "
        f"assessor_remote_dir={work / 'on-host' / 'down'}\n"
        "[fleet:vars]\n"
        "ansible_user=root\n"
        f"ansible_ssh_private_key_file={here.key}\n"
        f"ansible_ssh_common_args='{ssh_args}'\n"
        "ansible_python_interpreter=/usr/bin/python3\n"
    )
    variables = work / "vars.json"
    variables.write_text(
        json.dumps(
            {
                "assessor_wheelhouse": str(wheelhouse),
                "assessor_db": pg_url,
                "assessor_key_dir": str(work / "collector-keys"),
                "assessor_bundle_dir": str(work / "bundles"),
                "assessor_controller_command": [sys.executable, "-m", "assessor"],
                "assessor_system": "fleet-test",
                "assessor_collect_targets": ["host:/", f"engine:unix://{SOCKET}"],
            }
        )
    )
    extra = ["-e", f"@{variables}"]
    return Fleet(work, inventory, pg_url, _ansible_env(work / "ansible"), extra)


def _recap(out: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP: host -> {ok, changed, unreachable, failed, ...}."""
    recap = out.rsplit("PLAY RECAP", 1)[-1]
    return {
        m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
        for m in re.finditer(r"^(\S+)\s+:\s+(.*)$", recap, re.M)
    }


def _assessments(db: str) -> list[tuple[int, str, str]]:
    return [
        (int(i), str(host), str(system))
        for i, host, system in sql(
            db, "SELECT id, scanner_host, system FROM assessment ORDER BY id"
        )
    ]


def _targets(db: str, assessment: int) -> set[tuple[str, str]]:
    rows = sql(db, "SELECT uri, kind FROM target WHERE assessment_id = :a", a=assessment)
    return {(str(u), str(k)) for u, k in rows}


def test_the_playbook_collects_each_host_and_ingests_once(fleet: Fleet) -> None:
    first = fleet.play()
    log = first.stdout + first.stderr
    recap = _recap(first.stdout)
    # 4: a host was unreachable; the others went on to the end
    assert first.returncode == 4, log
    assert recap["down"]["unreachable"] == 1, log
    for host in ("local", "nshost"):
        assert recap[host]["failed"] == 0 and recap[host]["unreachable"] == 0, log
    stored = _assessments(fleet.db)
    assert len(stored) == 2, stored
    for assessment, host, system in stored:
        # both hosts are this machine, seen through two sshds
        assert (host, system) == (os.uname().nodename, "fleet-test")
        assert _targets(fleet.db, assessment) >= {
            ("host:/", "host"),
            (f"engine:unix://{SOCKET}", "engine"),
        }
    bundles = sorted(p.name.split("-")[0] for p in (fleet.work / "bundles").glob("*.bundle"))
    assert bundles == ["local", "nshost"], bundles
    # nothing of the run is left on a host but the venv, the wheels and the caches
    for host in ("local", "nshost"):
        on_host = fleet.work / "on-host" / host
        assert not any((on_host / "keys").glob("*key*")), list((on_host / "keys").iterdir())
        assert not any((on_host / "bundles").iterdir())
        assert (on_host / "venv" / "bin" / "assessor").exists()

    again = fleet.play()
    log = again.stdout + again.stderr
    assert again.returncode == 4, log
    recap = _recap(again.stdout)
    for host in ("local", "nshost"):
        assert recap[host]["changed"] == 0 and recap[host]["failed"] == 0, log
    assert _assessments(fleet.db) == stored
    assert log.count("already stored as assessment") == 2, log


def test_ansible_lint_passes_on_the_production_profile(tmp_path: Path) -> None:
    lint = subprocess.run(
        [_tool("ansible-lint"), "--offline", "--profile", "production", "fleet.yml"],
        capture_output=True,
        text=True,
        timeout=300,
        env=_ansible_env(tmp_path),
        cwd=ANSIBLE,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "Profile 'production' was required, and it passed" in lint.stdout + lint.stderr
