"""Ansible inventories read by assessor name the same hosts, addresses, ports and users as
Ansible's own reading (``ansible-inventory --list``, ansible-core from the dev extra)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assessor.inventory import read_inventory
from tests.conftest import missing

FIXTURES = Path(__file__).parent.parent / "fixtures" / "inventory"
ANSIBLE_INVENTORY = Path(sys.executable).parent / "ansible-inventory"

EXTRA = {
    # a bigger one: nested children three deep, a group under two parents, ranges of letters
    # and numbers with a step, hosts declared twice, and variables at every level
    "nested.ini": """
[edge]
edge[a:d] ansible_port=2200
proxy[001:010:3].dc1 ansible_user=proxy

[app]
app[1:4]
edge-b ansible_host=172.16.0.2

[app:vars]
ansible_port=2201

[dc1:children]
edge
app

[dc1:vars]
ansible_user=dc1
ansible_become=no

[emea:children]
dc1
[emea:vars]
ansible_become=True
ansible_user=emea
ansible_port=2300
[global:children]
emea
[global:vars]
ansible_host=should-not-win
""",
    "flat.yaml": """
webservers:
  hosts:
    foo.example.com:
    bar.example.com:
      ansible_user: bar
dbservers:
  vars:
    ansible_port: 5555
  hosts:
    one.example.com:
    two.example.com:
      ansible_port: 2022
      ansible_become: true
    "[fd00::10]:2200":
""",
}


def _ansible(path: Path, tmp: Path) -> set[tuple[str, bool]]:
    """The target each host of ``path`` is, and whether it reads with sudo, from
    ansible-inventory's merged variables."""
    if not ANSIBLE_INVENTORY.exists() and shutil.which("ansible-inventory") is None:
        missing("ansible-inventory (ansible-core, in the dev extra)")
    exe = str(ANSIBLE_INVENTORY) if ANSIBLE_INVENTORY.exists() else "ansible-inventory"
    env = {
        **os.environ,
        "ANSIBLE_HOME": str(tmp / "ansible"),
        "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-tmp"),
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true",
        "ANSIBLE_INVENTORY_ENABLED": "yaml,ini",
        "PYTHONWARNINGS": "ignore",
    }
    proc = subprocess.run(
        [exe, "-i", str(path), "--list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    hostvars = listed["_meta"]["hostvars"]
    hosts = {h for g in listed.values() for h in g.get("hosts", ())} | set(hostvars)
    out = set()
    for host in hosts:
        v = hostvars.get(host, {})
        if v.get("ansible_connection") == "local":
            continue
        address = v.get("ansible_host", host)
        shown = f"[{address}]" if ":" in address else address
        user = f"{v['ansible_user']}@" if "ansible_user" in v else ""
        sudo = str(v.get("ansible_become", False)).lower() in ("true", "yes", "1")
        out.add((f"ssh://{user}{shown}:{v.get('ansible_port', 22)}", sudo))
    return out


@pytest.mark.parametrize(
    "name", ["fleet.ini", "fleet.yml", "priority.ini", "nested.ini", "flat.yaml"]
)
def test_the_same_hosts_as_ansible_inventory(name: str, tmp_path: Path) -> None:
    path = FIXTURES / name
    if name in EXTRA:
        path = tmp_path / name
        path.write_text(EXTRA[name])
    ours = {(t.uri, t.sudo) for t in read_inventory(path).targets}
    assert ours == _ansible(path, tmp_path)
    assert len(ours) >= 3
