"""``scan --inventory FILE``: the targets of the files after those given, each once, in one
assessment; what an inventory asks that cannot be honoured is one warning; a bad inventory
stops the scan before anything is stored, with one line naming FILE:LINE."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli, sql


def test_inventory_targets_follow_the_given_ones_each_once(tmp_path: Path, db: str) -> None:
    roots = []
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
        roots.append(f"host:{tmp_path / name}")
    listed = tmp_path / "fleet.txt"
    listed.write_text(f"# lab roots\n{roots[1]}\n\n{roots[0]}\n")
    ansible = tmp_path / "more.ini"
    ansible.write_text(f"{roots[2]}\n{roots[1]}\n[web]\n")
    run = run_cli(
        "scan", roots[0], "--inventory", str(listed), "-i", str(ansible), "--format", "json",
        db=db,
    )  # fmt: skip
    assert run.code == 0, run.err
    assert run.err == ""
    stored = sql(db, "SELECT uri FROM target ORDER BY id")
    assert [u for (u,) in stored] == [roots[0], roots[1], roots[2]]
    assert {r["target"] for r in run.json()["results"]} == set(roots)


def test_the_inventory_from_the_environment(tmp_path: Path, db: str) -> None:
    (tmp_path / "r").mkdir()
    listed = tmp_path / "fleet.txt"
    listed.write_text(f"host:{tmp_path / 'r'}\n")
    run = run_cli("scan", db=db, env={"ASSESSOR_INVENTORY": str(listed)})
    assert run.code == 0, run.err
    assert sql(db, "SELECT uri FROM target") == [(f"host:{tmp_path / 'r'}",)]


def test_what_cannot_be_honoured_is_one_warning(tmp_path: Path, db: str) -> None:
    inv = tmp_path / "hosts.ini"
    # port 1 of 127.0.0.1: refused at once, so the scan is quick (and exits 3)
    inv.write_text(
        "[web]\nw[1:3] ansible_host=127.0.0.1 ansible_port=1 ansible_password=x\n"
        "[web:vars]\nansible_become=yes\nansible_become_method=su\n"
    )
    run = run_cli("scan", "-i", str(inv), "--ssh-timeout", "5", db=db, timeout=120)
    warnings = [line for line in run.err.splitlines() if "warning" in line]
    assert warnings == [
        f"assessor: warning: inventory {inv}: ignored what assessor cannot honour: "
        "ansible_become_method (3 hosts), ansible_password (3 hosts) (SSH logs in as --ssh-key, "
        "--known-hosts and the ssh agent say; see docs/fleet.md)"
    ]
    # the three hosts are one address: one machine, and its engine
    assert sql(db, "SELECT uri FROM target ORDER BY id") == [
        ("ssh://127.0.0.1:1",),
        ("engine:ssh://127.0.0.1:1",),
    ]
    assert run.code == 3


def test_a_bad_inventory_stops_the_scan_before_anything_is_stored(tmp_path: Path, db: str) -> None:
    inv = tmp_path / "hosts"
    inv.write_text("[web]\nweb[01:3]\n")
    run = run_cli("scan", "host:/", "--inventory", str(inv), db=db)
    assert run.code == 2
    assert run.out == ""
    assert run.err.splitlines() == [
        f"assessor: error: inventory {inv}:2: 'web[01:3]': [01:3]: a zero-padded range needs "
        "bounds of one width, e.g. [01:03]"
    ]
    assert not Path(db.removeprefix("sqlite:///")).exists()
    empty = tmp_path / "empty.yml"
    empty.write_text("# nothing yet\n")
    run = run_cli("scan", "--inventory", str(empty), db=db)
    assert run.code == 2
    assert f"inventory {empty}: names no targets" in run.err
    run = run_cli("scan", "--inventory", str(tmp_path / "absent"), db=db)
    assert run.code == 2
    assert run.err.startswith(f"assessor: error: inventory {tmp_path / 'absent'}: cannot read")
