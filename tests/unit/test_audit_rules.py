"""The audit rule parser (assessor/collectors/_audit.py): both texts auditd rules come in
(rules files and ``auditctl -l`` output) and the kernel's binary rule records."""

from __future__ import annotations

import struct

import pytest

from assessor.collectors import _audit
from assessor.collectors._audit import RuleSyntaxError, decode_rule, parse_line, parse_text


def _is_dir(path: str) -> bool:
    return path in ("/etc/docker", "/run/containerd")


def test_watch_on_a_file_is_a_path_watch_with_default_perms() -> None:
    rule = parse_line("-w /usr/bin/dockerd -k docker", "f:1", _is_dir)
    assert rule is not None
    assert (rule.watch, rule.path, rule.perms, rule.key) == (
        "path",
        "/usr/bin/dockerd",
        "rwxa",
        "docker",
    )
    assert (rule.listname, rule.action, rule.syscalls) == ("exit", "always", "all")


def test_watch_on_a_directory_is_recursive() -> None:
    rule = parse_line("-w /etc/docker -p wa", "f:1", _is_dir)
    assert rule is not None and rule.watch == "dir" and rule.perms == "wa"


def test_listed_watch_without_a_way_to_tell_stays_ambiguous() -> None:
    rule = parse_line("-w /etc/docker -p wa -k k", "auditctl -l")
    assert rule is not None and rule.watch is None


@pytest.mark.parametrize("spec", ["always,exit", "exit,always"])
def test_syscall_rule_with_path_field_is_that_path_only(spec: str) -> None:
    rule = parse_line(f"-a {spec} -F path=/run/containerd -F perm=wa -k docker", "f:1", _is_dir)
    assert rule is not None
    assert (rule.action, rule.listname) == ("always", "exit")
    assert (rule.watch, rule.path, rule.perms) == ("path", "/run/containerd", "wa")


def test_dir_field_and_listing_form() -> None:
    line = "-a always,exit -F arch=b64 -S openat -F dir=/etc/ssh -F perm=wa -F key=k"
    rule = parse_line(line, "auditctl -l")
    assert rule is not None
    assert (rule.watch, rule.path, rule.key, rule.syscalls) == ("dir", "/etc/ssh", "k", "listed")
    assert rule.filters == []  # arch only routes the rule


def test_never_rule_and_filters() -> None:
    rule = parse_line("-a never,exit -S all -F path=/usr/bin/runc -F auid>=1000", "x")
    assert rule is not None
    assert (rule.action, rule.syscalls, rule.filters) == ("never", "all", ["auid>=1000"])
    task = parse_line("-a task,never", "x")
    assert task is not None and (task.listname, task.action, task.path) == ("task", "never", None)


@pytest.mark.parametrize("line", ["", "   ", "# -w /etc/docker", "-D", "-b 8192", "-e 2", "-f 1"])
def test_comments_and_control_lines_are_not_rules(line: str) -> None:
    assert parse_line(line, "x") is None


@pytest.mark.parametrize(
    "line",
    ["-w", "-a always", "-a always,sometimes -F path=/x", "-w /x -q 1", "-a always,exit -F path"],
)
def test_malformed_rules_raise(line: str) -> None:
    with pytest.raises(RuleSyntaxError):
        parse_line(line, "x")


def test_parse_text_keeps_order_drops_what_delete_all_removes_and_reports_bad_lines() -> None:
    text = "-w /usr/bin/runc\n-D\n-w /usr/bin/dockerd -p x\n-w\n-a never,exit -F path=/a\n"
    rules, errors = parse_text(text, "/etc/audit/rules.d/docker.rules", _is_dir)
    assert [(r.path, r.origin) for r in rules] == [
        ("/usr/bin/dockerd", "/etc/audit/rules.d/docker.rules:3"),
        ("/a", "/etc/audit/rules.d/docker.rules:5"),
    ]
    assert errors == ["/etc/audit/rules.d/docker.rules:4: -w without a value in '-w'"]


def test_parse_text_is_bounded() -> None:
    text = "-w /x\n" * (_audit.MAX_RULES + 50)
    rules, _ = parse_text(text, "f")
    assert len(rules) == _audit.MAX_RULES
    long = parse_line("-w /" + "a" * 10_000, "f")
    assert long is not None and long.path is not None and len(long.path) < _audit.MAX_LINE


def _record(
    *, flags: int, action: int, fields: list[tuple[int, int, int]], buf: bytes, all_calls: bool
) -> bytes:
    """A struct audit_rule_data as the kernel sends it (see <linux/audit.h>)."""
    mask = [0xFFFFFFFF] * 63 + [0xFFFF] if all_calls else [0] * 64
    types = [f[0] for f in fields] + [0] * (64 - len(fields))
    values = [f[1] for f in fields] + [0] * (64 - len(fields))
    ops = [f[2] for f in fields] + [0] * (64 - len(fields))
    head = struct.pack("=III", flags, action, len(fields))
    body = struct.pack("=" + "I" * 256, *mask, *types, *values, *ops)
    return head + body + struct.pack("=I", len(buf)) + buf


EQ = 0x40000000


def test_decode_kernel_dir_watch() -> None:
    record = _record(
        flags=4,
        action=2,
        fields=[(107, len(b"/etc/docker"), EQ), (106, 2 | 8, EQ), (210, len(b"docker"), EQ)],
        buf=b"/etc/docker" + b"docker",
        all_calls=True,
    )
    rule = decode_rule(record)
    assert (rule.listname, rule.action, rule.watch, rule.path) == (
        "exit",
        "always",
        "dir",
        "/etc/docker",
    )
    assert (rule.perms, rule.key, rule.syscalls, rule.filters) == ("wa", "docker", "all", [])


def test_decode_kernel_never_path_rule_with_a_filter() -> None:
    record = _record(
        flags=4,
        action=0,
        fields=[(105, len(b"/usr/bin/runc"), EQ), (9, 1000, 0x60000000)],
        buf=b"/usr/bin/runc",
        all_calls=False,
    )
    rule = decode_rule(record)
    assert (rule.action, rule.watch, rule.path, rule.syscalls) == (
        "never",
        "path",
        "/usr/bin/runc",
        "listed",
    )
    assert rule.filters == ["auid>=1000"]


def test_decode_rejects_a_short_record() -> None:
    with pytest.raises(RuleSyntaxError):
        decode_rule(b"\x00" * 100)
