"""Inventory files (assessor/inventory.py): plain lists, Ansible INI and YAML read into SSH
targets, and every malformed or oversized inventory refused with one line naming FILE:LINE.
(tests/integration/test_inventory.py checks the Ansible readings against ansible-inventory.)"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assessor import inventory
from assessor.inventory import InventoryError, read_inventory
from assessor.targets import parse_target, with_engines

FIXTURES = Path(__file__).parent.parent / "fixtures" / "inventory"


def _uris(path: Path) -> list[str]:
    return [t.uri for t in read_inventory(path).targets]


def _write(tmp_path: Path, text: str, name: str = "hosts") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_plain_list_of_targets_and_hosts(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "# the lab\n\nengine:ssh://root@10.0.0.1:2222   # the first\n"
        "ops@10.0.0.2\n10.0.0.3:2200\nhost:/\nengine:unix:///var/run/docker.sock\n"
        "; another comment\nbox.example.com\nengine:ssh://root@10.0.0.1:2222\n",
    )
    assert _uris(path) == [
        "engine:ssh://root@10.0.0.1:2222",
        "ssh://ops@10.0.0.2:22",
        "ssh://10.0.0.3:2200",
        "host:/",
        "engine:unix:///var/run/docker.sock",
        "ssh://box.example.com:22",
    ]  # each once, in the file's order
    assert read_inventory(path).warnings == []


def test_ansible_ini_groups_children_ranges_and_precedence() -> None:
    inv = read_inventory(FIXTURES / "fleet.ini")
    assert [t.uri for t in inv.targets] == [
        "ssh://fallback@bastion.example.com:22",
        "ssh://ops@10.0.0.9:2201",
        "ssh://deploy@web01.example.com:22",
        "ssh://deploy@web02.example.com:22",
        "ssh://deploy@web03.example.com:22",
        "ssh://deploy@10.0.1.50:2222",
        "ssh://dbadmin@db-a.internal:2200",
        "ssh://dbadmin@db-b.internal:2200",
        "ssh://dbadmin@db-c.internal:2200",
        "ssh://deploy@db-x.internal:5522",
    ]
    # become is sudo (to root): honoured; to another user, not: said once, with the number
    # of hosts it concerned; ansible_python_interpreter does not concern a scan: not named
    assert [t.sudo for t in inv.targets] == [False, False] + [True] * 8
    assert len(inv.warnings) == 1
    assert "ignored what assessor cannot honour: ansible_become_user (4 hosts)" in inv.warnings[0]
    assert "python" not in inv.warnings[0]


def test_ansible_yaml_is_read_as_the_ini_is() -> None:
    inv = read_inventory(FIXTURES / "fleet.yml")
    uris = [t.uri for t in inv.targets]
    assert uris[:10] == _uris(FIXTURES / "fleet.ini")
    # lab1, lab5, lab9 share one address: one target; the local host is skipped, said so
    assert uris[10:] == ["ssh://fallback@192.168.50.7:22"]
    assert any("ansible_connection=local (1 host)" in w for w in inv.warnings)
    # the prod group's key file is each of its hosts' login key, not a warning
    assert not any("private_key" in w for w in inv.warnings)
    assert [t.key for t in inv.targets] == ["", ""] + ["/keys/prod"] * 8 + [""]


def test_a_hosts_key_file_is_its_login_key(tmp_path: Path) -> None:
    """ansible_ssh_private_key_file (or ansible_private_key_file), merged as Ansible merges
    it, ~ expanded; the engine of an ssh:// machine logs in with the same key."""
    path = _write(
        tmp_path,
        "[web]\nw1\nw2 ansible_ssh_private_key_file=~/keys/w2\nw3 ansible_private_key_file=/k3\n"
        "[web:vars]\nansible_ssh_private_key_file=/keys/web\n[other]\nplain\n",
    )
    targets = read_inventory(path).targets
    home = str(Path.home())
    assert [(t.uri, t.key) for t in targets] == [
        ("ssh://w1:22", "/keys/web"),
        ("ssh://w2:22", f"{home}/keys/w2"),
        ("ssh://w3:22", "/keys/web"),  # Ansible: ansible_ssh_private_key_file comes first
        ("ssh://plain:22", ""),
    ]
    engines = with_engines(targets)
    assert [(t.uri, t.key) for t in engines[:2]] == [
        ("ssh://w1:22", "/keys/web"),
        ("engine:ssh://w1:22", "/keys/web"),
    ]


def test_group_precedence_depth_priority_name() -> None:
    assert _uris(FIXTURES / "priority.ini") == [
        "ssh://zulu@10.1.0.1:2001",  # same depth: the later name wins
        "ssh://high@ranked:22",  # ansible_group_priority beats the name
        "ssh://child@10.1.0.3:3000",  # the child's beats the parent's
    ]


def test_ipv6_and_bracketed_ports(tmp_path: Path) -> None:
    path = _write(tmp_path, "[v6]\n[fd00::5]:2022\nsix ansible_host=fd00::6\n")
    assert _uris(path) == ["ssh://[fd00::5]:2022", "ssh://[fd00::6]:22"]


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("[web]\nok\n[web:nope]\n", 3, "unknown section type 'nope'; write [web]"),
        ("[web]\n[ web ]\n", 2, "is not a section"),
        ("[web]\nh1 ansible_port\n", 2, "expected NAME=VALUE"),
        ("[web]\nh1 ansible_host='10.0.0.1\n", 2, "close the quote"),
        ("[web:children]\ndb\n", 2, "group 'db' is used but never declared; add a [db]"),
        ("[db:vars]\nansible_user=x\n", 1, "group 'db' is used but never declared"),
        ("[a:children]\nb\n[b:children]\na\n", None, "is its own ancestor"),
        ("[web]\nweb[1:3\n", 2, "not a host name"),
        ("[web]\nweb[01:100]\n", 2, "bounds of one width, e.g. [01:100]"),
        ("[web]\nweb[1:x]\n", 2, "is not a range; write a range as [01:20]"),
        ("[web]\nweb[5:1:0]\n", 2, "bad step"),
        ("[web]\nweb:\n", 2, "ends in ':'; write HOST:PORT"),
        ("[web]\nh1 ansible_port=70000\n", 2, "ansible_port 70000 is not a port"),
        ("[web]\nh1 ansible_host='{{ inventory_hostname }}.corp'\n", 2, "Jinja2 template"),
        ("engine:ssh://root@h:22 extra\n", 1, "one target per line"),
        ("engine:nope://x\n", 1, "the engine scheme must be"),
        ("[web]\nh1 ansible_user='bad user'\n", 2, "expected ssh://USER@HOST"),
    ],
)
def test_a_bad_inventory_is_one_line_naming_file_and_line(
    tmp_path: Path, text: str, line: int | None, says: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InventoryError) as caught:
        read_inventory(path)
    message = caught.value.message
    assert "\n" not in message
    assert message.startswith(f"inventory {path}:{line}: " if line else f"inventory {path}")
    assert says in message


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("- a\n- b\n", "expected a mapping of groups"),
        ("all:\n  hosts: [a, b]\n", "hosts must be a mapping"),
        ("all:\n  host:\n    a:\n", "unknown key 'host'"),
        ("all:\n  hosts:\n    a: 5\n", "its variables must be a mapping"),
        ("all:\n  hosts:\n    a: &x {}\n    b: *x\n", "alias"),
        ("all: [\n", "invalid YAML"),
    ],
)
def test_a_bad_yaml_inventory_is_refused(tmp_path: Path, text: str, says: str) -> None:
    path = _write(tmp_path, text, "hosts.yml")
    with pytest.raises(InventoryError, match=r"^inventory ") as caught:
        read_inventory(path)
    assert says in caught.value.message


def test_bounds_hosts_ranges_and_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a range is counted before it is expanded: a billion hosts are refused at once
    with pytest.raises(InventoryError, match=r":2: 'w\[0:999999999\]': \[0:999999999\] names more"):
        read_inventory(_write(tmp_path, "[web]\nw[0:999999999]\n"))
    with pytest.raises(InventoryError, match="more than 100000 hosts"):
        read_inventory(_write(tmp_path, "[web]\na[0:99999]\nb[0:9]\n"))
    monkeypatch.setattr(inventory, "MAX_BYTES", 100)
    with pytest.raises(InventoryError, match="over the limit of 100"):
        read_inventory(_write(tmp_path, "h\n" * 60))
    with pytest.raises(InventoryError, match="is a folder") as folder:
        read_inventory(tmp_path)
    # an Ansible inventory folder: the line says how to export it (not "give a YAML file")
    assert f"ansible-inventory -i {tmp_path} --list --yaml > fleet.yml" in str(folder.value)
    (tmp_path / "bin").write_bytes(b"h1\n\xff\n")
    with pytest.raises(InventoryError, match=r"bin:2: not UTF-8"):
        read_inventory(tmp_path / "bin")


def test_a_missing_inventory(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="cannot read"):
        read_inventory(tmp_path / "absent.ini")


def test_a_plain_lists_lines_are_machines_of_their_own(tmp_path: Path) -> None:
    """Ansible merges 10.0.0.1:2201 and 10.0.0.1:2202 into one host (the last port wins);
    in the list before the first section each such line is its own machine."""
    path = _write(
        tmp_path,
        "10.0.0.1:2201\n10.0.0.1:2202\nops@10.0.0.1:2202\n10.0.0.1\n[web]\nw1\n[all:vars]\n"
        "ansible_user=audit\n",
    )
    assert _uris(path) == [
        "ssh://audit@10.0.0.1:2201",
        "ssh://audit@10.0.0.1:2202",
        "ssh://ops@10.0.0.1:2202",
        "ssh://audit@10.0.0.1:22",
        "ssh://audit@w1:22",
    ]


_PIECES = st.sampled_from(
    [
        "[web]", "[web:vars]", "[web:children]", "[db]", "[all:vars]", "\n", "\n", "\n", " ",
        "web", "db", "h1", "10.0.0.1", "fd00::1", "[fd00::1]:22", ":", "2222", "[01:03]",
        "[a:c]", "[0:99999]", "[", "]", "=", "ansible_host", "ansible_port", "ansible_user",
        "ansible_become", "ansible_connection=local", "root@", "'", '"', "#", ";", "{{ x }}",
        "ssh://", "engine:", "host:/", "-", ".", "\x00", "é", "True", "70000",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PIECES, max_size=40), st.sampled_from(["hosts", "hosts.yml"]))
def test_any_inventory_is_targets_or_one_inventory_error(pieces: list[str], name: str) -> None:
    """Hostile inventories: whatever the text, a list of well-formed targets or one
    InventoryError, never another exception."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        path.write_text("".join(pieces), errors="surrogateescape")
        try:
            inv = read_inventory(path)
        except InventoryError as e:
            refused: InventoryError | None = e
        else:
            refused = None
    if refused is not None:
        assert "\n" not in refused.message
        return
    for t in inv.targets:
        assert parse_target(t.uri).uri == t.uri


def test_the_host_bound_counts_each_host_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inventory, "MAX_HOSTS", 10)
    assert len(_uris(_write(tmp_path, "[web]\nw[1:6]\nw[3:6]\n[db]\nd[1:4]\n"))) == 10
    with pytest.raises(InventoryError, match=r"hosts:5: more than 10 hosts"):
        read_inventory(_write(tmp_path, "[web]\nw[1:6]\nw[3:6]\n[db]\nd[1:5]\n"))
