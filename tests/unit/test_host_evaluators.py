"""host_audit_watched and host_data_root_partition, branch by branch, on captured evidence
(tests/rules/host-*/ written by scripts/capture_host_fixtures.py) edited one key at a time."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from assessor.errors import EvaluationError
from assessor.evaluate.host import host_audit_watched, host_data_root_partition

RULES = Path(__file__).resolve().parent.parent / "rules"
RUNC = {"paths": ["/usr/bin/runc", "/usr/sbin/runc", "/usr/local/bin/runc"]}
SOCK = {"paths": ["/run/containerd/containerd.sock", "/run/docker/containerd/containerd.sock"]}


def _data(rule: str, name: str) -> dict[str, Any]:
    doc = json.loads((RULES / rule / name).read_text())
    return copy.deepcopy(doc["data"])


def _live() -> dict[str, Any]:
    return _data("host-audit-runc", "fail-nothing-loaded.json")


def _rule(path: str, watch: str = "path", action: str = "always", **more: Any) -> dict[str, Any]:
    return {
        "text": f"-w {path}",
        "origin": "auditctl -l",
        "list": "exit",
        "action": action,
        "watch": watch,
        "path": path,
        "perms": "wa",
        "key": None,
        "syscalls": "all",
        "filters": [],
        "resolved": path,
        **more,
    }


def test_no_rule_fails_naming_the_file_once() -> None:
    outcome = host_audit_watched(_live(), RUNC)
    assert outcome.status == "fail"
    assert (
        "no rule watches /usr/bin/runc, /usr/sbin/runc (read: the rules loaded" in outcome.message
    )


def test_watch_on_the_target_passes_and_on_the_link_name_alone_does_not() -> None:
    data = _live()
    data["audit"]["rules"] = [_rule("/usr/sbin/runc")]
    assert host_audit_watched(data, RUNC).status == "pass"
    data["audit"]["rules"] = [_rule("/usr/bin/runc")]  # the link: the kernel watches its inode
    assert host_audit_watched(data, RUNC).status == "fail"


def test_dir_watch_covers_below_and_path_watch_does_not() -> None:
    data = _live()
    data["audit"]["rules"] = [_rule("/usr/sbin", "dir")]
    assert host_audit_watched(data, RUNC).status == "pass"
    data["audit"]["rules"] = [_rule("/usr/sbin", "path")]
    outcome = host_audit_watched(data, RUNC)
    assert outcome.status == "fail"
    assert "watches /usr/sbin itself only, not what is below it" in outcome.message
    data["audit"]["rules"] = [_rule("/usr/sb", "dir")]  # a prefix of the name is no parent
    assert host_audit_watched(data, RUNC).status == "fail"


def test_first_matching_rule_decides() -> None:
    data = _live()
    never = _rule("/usr/sbin/runc", action="never", text="-a never,exit -F path=/usr/sbin/runc")
    data["audit"]["rules"] = [never, _rule("/usr/sbin/runc")]
    outcome = host_audit_watched(data, RUNC)
    assert outcome.status == "fail" and "suppresses it" in outcome.message
    data["audit"]["rules"] = [_rule("/usr/sbin/runc"), never]
    assert host_audit_watched(data, RUNC).status == "pass"
    data["audit"]["rules"] = [_rule("/etc", "dir", action="never"), _rule("/usr/sbin/runc")]
    assert host_audit_watched(data, RUNC).status == "pass"  # a never rule elsewhere


def test_never_rules_without_a_path() -> None:
    data = _live()
    task = {**_rule("/x"), "list": "task", "action": "never", "path": None, "resolved": None}
    data["audit"]["rules"] = [task, _rule("/usr/sbin/runc")]
    assert "every task" in host_audit_watched(data, RUNC).message
    data["audit"]["rules"] = [{**task, "list": "exit"}, _rule("/usr/sbin/runc")]
    assert "every syscall event" in host_audit_watched(data, RUNC).message
    # narrowed by a filter or by its syscalls, it does not silence every event
    for narrowed in ({"filters": ["auid>=1000"]}, {"syscalls": "listed"}):
        data["audit"]["rules"] = [{**task, "list": "exit", **narrowed}, _rule("/usr/sbin/runc")]
        assert host_audit_watched(data, RUNC).status == "pass"
    # an always rule without a path watches nothing
    data["audit"]["rules"] = [{**task, "list": "exit", "action": "always"}]
    assert host_audit_watched(data, RUNC).status == "fail"
    # other lists do not take part
    data["audit"]["rules"] = [{**_rule("/usr/sbin/runc"), "list": "exclude"}]
    assert host_audit_watched(data, RUNC).status == "fail"


def test_permissions_named_only_when_the_text_lacks_them() -> None:
    data = _live()
    data["audit"]["rules"] = [_rule("/usr/sbin/runc", text="")]
    message = host_audit_watched(data, RUNC).message
    assert "-a always,exit -F path=/usr/sbin/runc" in message and "(permissions wa)" in message
    data["audit"]["rules"] = [_rule("/usr/sbin", "dir", text="")]
    assert "-F dir=/usr/sbin" in host_audit_watched(data, RUNC).message
    data["audit"]["rules"] = [_rule("/usr/sbin/runc", text="-w /usr/sbin/runc -p wa")]
    assert "permissions" not in host_audit_watched(data, RUNC).message


def test_live_host_auditd_states() -> None:
    data = _live()
    data["audit"]["rules"] = [_rule("/usr/sbin/runc")]
    data["audit"]["auditd"] = {"installed": False, "running": False, "pids": []}
    assert "auditd is not installed" in host_audit_watched(data, RUNC).message
    data["audit"]["auditd"] = {"installed": True, "running": False, "pids": []}
    outcome = host_audit_watched(data, RUNC)
    assert outcome.status == "fail" and "auditd is not running" in outcome.message
    assert "the rules files have no watch on /usr/bin/runc, /usr/sbin/runc" in outcome.message
    data["audit"]["file_rules"] = [{**_rule("/usr/sbin/runc"), "origin": "/etc/a.rules:3"}]
    assert "/etc/a.rules has a watch on" in host_audit_watched(data, RUNC).message
    data["audit"]["auditd"] = {"installed": True, "running": True, "pids": [1]}
    data["audit"]["status"]["enabled"] = 0
    assert "disabled in the kernel" in host_audit_watched(data, RUNC).message
    data["audit"]["status"]["enabled"] = 1
    assert host_audit_watched(data, RUNC).status == "pass"
    data["audit"]["source"] = "none"
    with pytest.raises(EvaluationError, match="could not be read"):
        host_audit_watched(data, RUNC)


@pytest.mark.parametrize(
    "key", ["rules", "source", "live", "files", "file_rules", "real_paths", "auditd", "loaded"]
)
def test_missing_audit_evidence_is_an_error(key: str) -> None:
    data = _live()
    del data["audit"][key]
    with pytest.raises(EvaluationError, match=rf"audit\.{key}"):
        host_audit_watched(data, RUNC)


def test_live_keys_may_be_none_offline_only() -> None:
    data = _live()
    data["audit"]["loaded"] = None
    with pytest.raises(EvaluationError, match=r"audit\.loaded"):
        host_audit_watched(data, RUNC)
    offline = _data("host-audit-runc", "pass-offline-rules-file.json")
    assert offline["audit"]["loaded"] is None
    outcome = host_audit_watched(offline, RUNC)
    assert outcome.status == "pass" and "offline root" in outcome.message


def test_not_installed_names_where_it_looked() -> None:
    data = _data("host-audit-runc", "not_applicable-offline-not-installed.json")
    outcome = host_audit_watched(data, {**RUNC, "units": ["docker.service"], "data_root": True})
    assert outcome.status == "not_applicable"
    assert outcome.message == (
        "nothing to audit: none of /usr/bin/runc, /usr/sbin/runc, /usr/local/bin/runc, the"
        " docker.service unit, Docker's data root exists on this host"
    )


def test_socket_below_a_path_watched_folder() -> None:
    data = _data("host-audit-containerd-sock", "fail-path-rule-on-its-folder.json")
    assert host_audit_watched(data, SOCK).status == "fail"
    data = _data("host-audit-containerd-sock", "pass-dir-rule-on-its-folder.json")
    assert host_audit_watched(data, SOCK).status == "pass"


# --- CIS 1.1.1


def _root(name: str) -> dict[str, Any]:
    return _data("host-docker-data-root-separate-partition", name)


def test_data_root_own_mount_passes_naming_device_and_type() -> None:
    outcome = host_data_root_partition(_root("pass-offline-tmpfs-data-root.json"), {})
    assert outcome.status == "pass"
    assert "/var/lib/docker is its own mount: /var/lib/docker (tmpfs, tmpfs)" in outcome.message


def test_data_root_same_filesystem_or_bind_option_fails() -> None:
    data = _root("pass-offline-tmpfs-data-root.json")
    data["docker"]["data_root_parent_mount"]["dev"] = data["docker"]["data_root_mount"]["dev"]
    assert "not a separate partition" in host_data_root_partition(data, {}).message
    data = _root("pass-offline-tmpfs-data-root.json")
    data["docker"]["data_root_mount"]["options"] = "rw,bind"
    assert host_data_root_partition(data, {}).status == "fail"
    data["docker"]["data_root_mount"]["options"] = "rw,binder"
    assert host_data_root_partition(data, {}).status == "pass"
    data["docker"]["data_root_mount"]["dev"] = None  # fstab: no device numbers to compare
    data["docker"]["data_root_parent_mount"]["dev"] = None
    assert host_data_root_partition(data, {}).status == "pass"


def test_data_root_below_a_mount_fails_naming_it() -> None:
    outcome = host_data_root_partition(_root("fail-offline-var-partition.json"), {})
    assert outcome.status == "fail"
    assert "is not a mount point: it lies on /var (/dev/sdb1, ext4)" in outcome.message
    outcome = host_data_root_partition(_root("fail-offline-no-mount.json"), {})
    assert "it lies on / (no mount table entry names it) (read: /etc/fstab)" in outcome.message


def test_data_root_through_a_link_is_named_with_its_directory() -> None:
    data = _root("pass-offline-tmpfs-data-root.json")
    data["docker"]["data_root"] = "/srv/docker"
    assert (
        "/srv/docker (the directory /var/lib/docker)" in host_data_root_partition(data, {}).message
    )


def test_data_root_missing_is_not_applicable_and_missing_evidence_an_error() -> None:
    data = _root("not_applicable-offline-no-data-root.json")
    assert host_data_root_partition(data, {}).status == "not_applicable"
    for key in ("data_root", "data_root_from", "data_root_real", "data_root_mount"):
        data = _root("pass-offline-tmpfs-data-root.json")
        del data["docker"][key]
        with pytest.raises(EvaluationError, match=key):
            host_data_root_partition(data, {})
    data = _root("pass-offline-tmpfs-data-root.json")
    data["docker"]["data_root_mount"] = None
    with pytest.raises(EvaluationError):
        host_data_root_partition(data, {})
    del data["mounts"]["source"]
    with pytest.raises(EvaluationError, match=r"mounts\.source"):
        host_data_root_partition(data, {})
