"""Host verdicts on real states: audit rules loaded in a real auditd (CIS 1.1.3-1.1.18) and
Docker's data root on real mounts (CIS 1.1.1).

Each test loads only rules keyed ``assessor-test-<uuid>`` and removes exactly those (never
``auditctl -D``); mounts are made under a temporary directory and unmounted afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from assessor.catalog import load_catalog
from assessor.collectors.host import HostCollector
from assessor.evaluate import evaluate_rule
from assessor.evidence import Evidence
from assessor.targets import parse_target
from tests.conftest import missing

CATALOG = load_catalog()


def _scan(target: str = "host:/") -> Evidence:
    (evidence,) = HostCollector().collect(parse_target(target))
    return evidence


def _verdict(rule_id: str, evidence: Evidence) -> tuple[str, str]:
    result = evaluate_rule(CATALOG.rules[rule_id], evidence)
    return result.status.value, result.message


def _auditctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["auditctl", *args], capture_output=True, text=True, check=False)


def _auditd_running() -> bool:
    return subprocess.run(["pgrep", "-x", "auditd"], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def auditd() -> Iterator[None]:
    """A running auditd (started when stopped, and stopped again afterwards)."""
    if os.geteuid() != 0:
        missing("root (auditctl needs CAP_AUDIT_CONTROL)")
    if shutil.which("auditctl") is None or shutil.which("auditd") is None:
        missing("auditd (apt-get install auditd)")
    was_running = _auditd_running()
    if not was_running:
        subprocess.run(["service", "auditd", "start"], capture_output=True, check=False)
    if not _auditd_running():
        missing("a running auditd (service auditd start failed)")
    yield
    if not was_running:
        subprocess.run(["service", "auditd", "stop"], capture_output=True, check=False)


class Rules:
    """Rules this test loads, all under one key, removed one by one afterwards."""

    def __init__(self) -> None:
        self.key = f"assessor-test-{uuid.uuid4().hex[:12]}"
        self._undo: list[list[str]] = []

    def watch(self, path: str, perms: str = "wa") -> None:
        done = _auditctl("-w", path, "-p", perms, "-k", self.key)
        assert done.returncode == 0, done.stderr
        self._undo.append(["-W", path, "-p", perms, "-k", self.key])

    def add(self, action: str, *fields: str, first: bool = False) -> None:
        """``first``: prepend (-A), ahead of rules other tests may have loaded."""
        spec = [x for f in fields for x in ("-F", f)]
        done = _auditctl("-A" if first else "-a", action, *spec, "-k", self.key)
        assert done.returncode == 0, done.stderr
        self._undo.append(["-d", action, *spec, "-k", self.key])

    def remove(self) -> None:
        for undo in reversed(self._undo):
            _auditctl(*undo)
        self._undo.clear()
        left = [ln for ln in _auditctl("-l").stdout.splitlines() if self.key in ln]
        assert not left, f"rules left behind: {left}"


@pytest.fixture
def rules(auditd: None) -> Iterator[Rules]:
    loaded = Rules()
    try:
        yield loaded
    finally:
        loaded.remove()


def _existing(*paths: str) -> str:
    for path in paths:
        if os.path.exists(path):
            return path
    pytest.fail(f"none of {paths} exists on this machine (docker.io installs them)")


def test_watch_on_a_file_passes_and_names_the_rule(rules: Rules) -> None:
    containerd = _existing("/usr/bin/containerd", "/usr/sbin/containerd")
    rules.watch(containerd)
    status, message = _verdict("host-audit-containerd", _scan())
    assert status == "pass", message
    assert f"-w {containerd} -p wa -k {rules.key}" in message
    assert "loaded in the kernel" in message


def test_path_rule_on_a_directory_does_not_cover_what_is_below(rules: Rules) -> None:
    """1.1.8: ``-F path=`` on the folder of containerd.sock is that folder only (the kernel's
    AUDIT_WATCH), though auditctl -l prints it as ``-w DIR``; it used to pass."""
    sock = _existing("/run/docker/containerd/containerd.sock", "/run/containerd/containerd.sock")
    rules.add("always,exit", f"path={os.path.dirname(sock)}", "perm=wa")
    status, message = _verdict("host-audit-containerd-sock", _scan())
    assert status == "fail", message
    assert "itself only, not what is below it" in message


def test_path_rule_on_dockerd_does_not_cover_containerd(rules: Rules) -> None:
    dockerd = _existing("/usr/sbin/dockerd", "/usr/bin/dockerd")
    rules.add("always,exit", f"path={dockerd}", "perm=wa")
    evidence = _scan()
    assert _verdict("host-audit-dockerd", evidence)[0] == "pass"
    status, message = _verdict("host-audit-containerd", evidence)
    assert status == "fail", message


def test_dir_rule_covers_everything_below(rules: Rules) -> None:
    sock = _existing("/run/docker/containerd/containerd.sock", "/run/containerd/containerd.sock")
    rules.add("always,exit", f"dir={os.path.dirname(sock)}", "perm=wa")
    status, message = _verdict("host-audit-containerd-sock", _scan())
    assert status == "pass", message


def test_never_rule_before_the_watch_means_not_audited(rules: Rules) -> None:
    shim = _existing("/usr/bin/containerd-shim-runc-v2", "/usr/sbin/containerd-shim-runc-v2")
    rules.add("never,exit", f"path={shim}", first=True)
    rules.watch(shim)
    status, message = _verdict("host-audit-containerd-shim-runc-v2", _scan())
    assert status == "fail", message
    assert "never,exit" in message and "suppresses it" in message


def test_never_rule_after_the_watch_does_not_suppress_it(rules: Rules) -> None:
    shim = _existing("/usr/bin/containerd-shim-runc-v2", "/usr/sbin/containerd-shim-runc-v2")
    rules.watch(shim)
    rules.add("never,exit", f"path={shim}")
    status, message = _verdict("host-audit-containerd-shim-runc-v2", _scan())
    assert status == "pass", message


def test_link_and_target_are_one_file(rules: Rules) -> None:
    """1.1.18: /usr/bin/runc -> ../sbin/runc is one file; a watch on the target covers it."""
    if not os.path.islink("/usr/bin/runc"):
        missing("/usr/bin/runc as a link to /usr/sbin/runc (Debian's runc package)")
    target = os.path.realpath("/usr/bin/runc")
    rules.watch(target)
    status, message = _verdict("host-audit-runc", _scan())
    assert status == "pass", message
    assert message.count(f"by '-w {target}") == 1, message


def test_auditd_stopped_fails_naming_the_rules_files(auditd: None) -> None:
    """With auditd stopped nothing is audited, whatever the rules files say (they used to
    pass the rules from the files alone)."""
    key = f"assessor-test-{uuid.uuid4().hex[:12]}"
    containerd = _existing("/usr/bin/containerd", "/usr/sbin/containerd")
    rules_file = Path(f"/etc/audit/rules.d/{key}.rules")
    rules_file.write_text(f"-w {containerd} -p wa -k {key}\n")
    try:
        subprocess.run(["service", "auditd", "stop"], capture_output=True, check=False)
        assert not _auditd_running()
        evidence = _scan()
    finally:
        rules_file.unlink()  # before the restart, which loads rules.d
        subprocess.run(["service", "auditd", "start"], capture_output=True, check=False)
    status, message = _verdict("host-audit-containerd", evidence)
    assert status == "fail", message
    assert "auditd is not running" in message
    assert f"{rules_file} has a watch on {containerd}, but nothing is loaded" in message
    assert any(f["path"] == str(rules_file) for f in evidence.data["audit"]["files"])


def _offline_root(tmp_path: Path, rules_text: str) -> Path:
    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/sbin").symlink_to("bin")  # merged /usr: /usr/sbin is /usr/bin
    for name in ("dockerd", "containerd", "runc"):
        (root / "usr/bin" / name).write_bytes(b"\x7fELF")
    (root / "run/containerd").mkdir(parents=True)
    (root / "run/containerd/containerd.sock").write_text("")
    (root / "etc/audit/rules.d").mkdir(parents=True)
    (root / "etc/audit/rules.d/docker.rules").write_text(rules_text)
    return root


def test_offline_root_reads_the_rules_files_and_resolves_paths_once(tmp_path: Path) -> None:
    """/usr/sbin a link to /usr/bin: dockerd is one file, watched once (it used to count
    /usr/sbin/dockerd as a second, unwatched copy)."""
    root = _offline_root(
        tmp_path,
        "-D\n-w /usr/bin/dockerd -p wa -k docker\n"
        "-a always,exit -F path=/run/containerd -F perm=wa -k docker\n",
    )
    evidence = _scan(f"host:{root}")
    audit = evidence.data["audit"]
    assert audit["source"] == "files" and not audit["live"]
    status, message = _verdict("host-audit-dockerd", evidence)
    assert status == "pass", message
    assert "offline root" in message and "/etc/audit/rules.d/docker.rules" in message
    status, message = _verdict("host-audit-containerd-sock", evidence)
    assert status == "fail", message  # -F path= on the folder is not recursive
    assert _verdict("host-audit-run-containerd", evidence)[0] == "pass"


def test_offline_root_delete_all_line_drops_earlier_rules(tmp_path: Path) -> None:
    root = _offline_root(tmp_path, "-w /usr/bin/runc -p wa\n-D\n-w /usr/bin/dockerd\n")
    evidence = _scan(f"host:{root}")
    assert _verdict("host-audit-runc", evidence)[0] == "fail"
    assert _verdict("host-audit-dockerd", evidence)[0] == "pass"


# --- CIS 1.1.1: the data root on a partition of its own


@pytest.fixture
def mounts() -> Iterator[list[Path]]:
    if os.geteuid() != 0:
        missing("root (mount)")
    made: list[Path] = []
    yield made
    for point in reversed(made):
        subprocess.run(["umount", str(point)], capture_output=True, check=False)


def _mount(mounts: list[Path], *args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    mounts.append(Path(args[-1]))


def test_data_root_on_a_tmpfs_of_its_own_passes(tmp_path: Path, mounts: list[Path]) -> None:
    root = tmp_path / "root"
    (root / "var/lib/docker").mkdir(parents=True)
    _mount(mounts, "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(root / "var/lib/docker"))
    status, message = _verdict("host-docker-data-root-separate-partition", _scan(f"host:{root}"))
    assert status == "pass", message
    assert "/var/lib/docker (tmpfs, tmpfs)" in message


def test_data_root_below_a_var_mount_fails(tmp_path: Path, mounts: list[Path]) -> None:
    """The old pass-var-mount fixture: a /var partition does not make the data root one."""
    root = tmp_path / "root"
    (root / "var/lib/docker").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "etc/fstab").write_text("/dev/sdb1 /var ext4 defaults 0 2\n")
    status, message = _verdict("host-docker-data-root-separate-partition", _scan(f"host:{root}"))
    assert status == "fail", message
    assert "is not a mount point: it lies on /var (/dev/sdb1, ext4)" in message
    # and mounted for real, not only declared
    _mount(mounts, "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(root / "var"))
    (root / "var/lib/docker").mkdir(parents=True)
    status, message = _verdict("host-docker-data-root-separate-partition", _scan(f"host:{root}"))
    assert status == "fail", message
    assert "it lies on /var (tmpfs, tmpfs)" in message


def test_data_root_bind_mounted_onto_itself_fails(tmp_path: Path, mounts: list[Path]) -> None:
    """A bind mount of a directory of the same filesystem is a mount point (mountpoint says
    yes), not a partition: what dockerd does with its data root."""
    root = tmp_path / "root"
    (root / "var/lib/docker").mkdir(parents=True)
    where = str(root / "var/lib/docker")
    _mount(mounts, "--bind", where, where)
    status, message = _verdict("host-docker-data-root-separate-partition", _scan(f"host:{root}"))
    assert status == "fail", message
    assert "bind mount" in message


def test_data_root_from_daemon_json_through_a_link(tmp_path: Path, mounts: list[Path]) -> None:
    root = tmp_path / "root"
    (root / "etc/docker").mkdir(parents=True)
    (root / "etc/docker/daemon.json").write_text(json.dumps({"data-root": "/srv/docker"}))
    (root / "data/docker").mkdir(parents=True)
    (root / "srv").mkdir()
    (root / "srv/docker").symlink_to("/data/docker")
    _mount(mounts, "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(root / "data/docker"))
    evidence = _scan(f"host:{root}")
    assert evidence.data["docker"]["data_root_from"] == "daemon.json data-root"
    status, message = _verdict("host-docker-data-root-separate-partition", evidence)
    assert status == "pass", message
    assert "/srv/docker (the directory /data/docker) is its own mount" in message


def test_live_data_root_is_judged_by_its_filesystem() -> None:
    """The live host: dockerd bind-mounts its data root onto itself; that alone is no
    partition (it used to pass)."""
    evidence = _scan()
    docker = evidence.data["docker"]
    status, message = _verdict("host-docker-data-root-separate-partition", evidence)
    mount, parent = docker["data_root_mount"], docker["data_root_parent_mount"]
    if mount["point"] == docker["data_root_real"] and mount["dev"] != parent["dev"]:
        assert status == "pass", message
    else:
        assert status == "fail", message
        assert docker["data_root_real"] in message


def test_loaded_rules_come_from_the_kernel_with_the_listing_as_record(rules: Rules) -> None:
    """The evidence holds the command and its output; each rule read from the kernel is the
    listing's line, with the watch kind the listing cannot show (-F path= on a directory)."""
    rules.add("always,exit", "path=/etc/docker", "perm=wa")
    rules.watch("/etc/docker")
    audit = _scan().data["audit"]
    assert audit["loaded"]["command"] == "auditctl -l"
    listed = _auditctl("-l").stdout.splitlines()
    assert audit["loaded"]["output"] == listed
    ours = [r for r in audit["rules"] if r["key"] == rules.key]
    assert [(r["watch"], r["path"], r["perms"]) for r in ours] == [
        ("path", "/etc/docker", "wa"),
        ("dir", "/etc/docker", "wa"),
    ]
    assert all(r["origin"] == "auditctl -l" and r["text"] in listed for r in ours)


def test_task_never_rule_suppresses_every_watch(tmp_path: Path) -> None:
    """``-a never,task`` (a common distribution default) turns syscall auditing off for every
    task, so the watches after it audit nothing (staged offline: loading it live would stop
    auditing on the whole machine)."""
    root = _offline_root(tmp_path, "-a task,never\n-w /usr/bin/dockerd -p wa -k docker\n")
    evidence = _scan(f"host:{root}")
    status, message = _verdict("host-audit-dockerd", evidence)
    assert status == "fail", message
    assert "every task" in message
    (entry,) = evidence.data["audit"]["files"]
    assert entry["path"] == "/etc/audit/rules.d/docker.rules"
    assert len(entry["sha256"]) == 64


def test_data_root_partition_bind_mounted_onto_itself_passes(
    tmp_path: Path, mounts: list[Path]
) -> None:
    """What dockerd does on a host whose data root is a partition: its self bind mount sits
    on the partition (same filesystem as the partition, not as the one around it)."""
    root = tmp_path / "root"
    where = root / "var/lib/docker"
    where.mkdir(parents=True)
    _mount(mounts, "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where))
    _mount(mounts, "--bind", str(where), str(where))
    status, message = _verdict("host-docker-data-root-separate-partition", _scan(f"host:{root}"))
    assert status == "pass", message
