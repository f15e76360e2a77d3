"""Linux audit rules, as auditd loads them: a parser of rule text and a reader of the kernel's list.

Two texts carry the same rules: the rules files (``/etc/audit/rules.d/*.rules``, what
``augenrules`` compiles into ``/etc/audit/audit.rules``) and the listing ``auditctl -l`` prints.
In both, ``-w PATH [-p PERMS] [-k KEY]`` is a watch and ``-a LIST,ACTION ... -F path=X`` /
``-F dir=X`` a syscall rule on a path. What a rule covers depends on the field the kernel holds:

- ``path`` (the kernel's AUDIT_WATCH): that one path only, even when it is a directory;
- ``dir`` (AUDIT_DIR): the directory and everything below it.

``auditctl -w PATH`` stores ``dir`` when PATH is a directory and ``path`` otherwise, and
``auditctl -l`` prints both kinds back as ``-w PATH`` once a permission filter is set: the text
cannot tell them apart. The kernel's own list (netlink AUDIT_LIST_RULES, what ``auditctl -l``
reads) can; :func:`kernel_rules` reads it. Everything here is bounded: at most MAX_RULES rules,
MAX_LINE characters a line.
"""

from __future__ import annotations

import os
import shlex
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_RULES = 10_000
MAX_LINE = 4096
MAX_MESSAGE = 1 << 20

# <linux/audit.h>
AUDIT_LIST_RULES = 1013
NETLINK_AUDIT = 9
NLMSG_ERROR = 2
NLMSG_DONE = 3
LISTS = {
    0: "user",
    1: "task",
    2: "entry",
    3: "watch",
    4: "exit",
    5: "exclude",
    6: "fs",
    7: "io_uring",
}
ACTIONS = {0: "never", 1: "possible", 2: "always"}
_FIELD_NAMES = {
    0: "pid", 1: "uid", 2: "euid", 3: "suid", 4: "fsuid", 5: "gid", 6: "egid", 7: "sgid",
    8: "fsgid", 9: "auid", 10: "pers", 11: "arch", 12: "msgtype", 13: "subj_user",
    14: "subj_role", 15: "subj_type", 16: "subj_sen", 17: "subj_clr", 18: "ppid",
    19: "obj_user", 20: "obj_role", 21: "obj_type", 22: "obj_lev_low", 23: "obj_lev_high",
    24: "sessionid", 100: "devmajor", 101: "devminor", 102: "inode", 103: "exit",
    104: "success", 105: "path", 106: "perm", 107: "dir", 108: "filetype", 109: "obj_uid",
    110: "obj_gid", 111: "field_compare", 112: "exe", 113: "saddr_fam", 200: "a0", 201: "a1",
    202: "a2", 203: "a3", 210: "key", 211: "fstype",
}  # fmt: skip
_STRING_FIELDS = {13, 14, 15, 16, 17, 19, 20, 21, 22, 23, 105, 107, 112, 210}
_OPS = {
    0x08000000: "&", 0x10000000: "<", 0x20000000: ">", 0x30000000: "!=", 0x40000000: "=",
    0x48000000: "&=", 0x50000000: "<=", 0x60000000: ">=",
}  # fmt: skip
_PERM_BITS = ((4, "r"), (2, "w"), (1, "x"), (8, "a"))
_HEADER = struct.Struct("=III")
_RULE_SIZE = (
    12 + 4 * 64 * 4 + 4
)  # flags, action, field_count, mask, fields, values, fieldflags, buflen
IsDir = Callable[[str], bool]


@dataclass(slots=True)
class Rule:
    """One audit rule, as the kernel holds it (whatever text it came from)."""

    text: str  # the rule as written or listed
    origin: str  # "auditctl -l", "netlink", or FILE:LINE
    listname: str = "exit"  # exit, task, user, exclude, filesystem
    action: str = "always"  # always | never
    watch: str | None = None  # "path" (that path only) | "dir" (recursive) | None
    path: str | None = None  # as written
    perms: str | None = None  # r w x a, None: every access
    key: str | None = None
    syscalls: str = "all"  # all | listed
    filters: list[str] = field(default_factory=list)  # other fields (auid>=1000, ...)

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "origin": self.origin,
            "list": self.listname,
            "action": self.action,
            "watch": self.watch,
            "path": self.path,
            "perms": self.perms,
            "key": self.key,
            "syscalls": self.syscalls,
            "filters": list(self.filters),
        }


class RuleSyntaxError(ValueError):
    pass


def _split_list(value: str) -> tuple[str, str]:
    """``always,exit`` or ``exit,always`` (auditctl takes both orders) -> (list, action)."""
    parts = [p.strip() for p in value.split(",")]
    actions = [p for p in parts if p in ("always", "never", "possible")]
    lists = [p for p in parts if p not in ("always", "never", "possible")]
    if len(parts) != 2 or len(actions) != 1 or lists[0] not in (*LISTS.values(), "filesystem"):
        raise RuleSyntaxError(f"bad list,action {value!r}")
    return ("filesystem" if lists[0] == "fs" else lists[0]), actions[0]


def parse_line(line: str, origin: str, is_dir: IsDir | None = None) -> Rule | None:
    """One rule line (file syntax or ``auditctl -l`` output); None for comments and control
    lines (-D, -b, -e, -f, ...). ``is_dir(path) -> bool`` says whether a ``-w`` path is a
    directory, as auditctl decides when it loads the rule; without it ``-w`` stays ambiguous
    (``watch`` None, only printed rules have that)."""
    text = line.strip()[:MAX_LINE]
    if not text or text.startswith("#"):
        return None
    try:
        words = shlex.split(text, comments=False)
    except ValueError:
        words = text.split()
    if not words or words[0] not in ("-w", "-a", "-A"):
        return None
    rule = Rule(text=text, origin=origin)
    i = 0
    syscalls: list[str] = []
    while i < len(words):
        opt = words[i]
        value = words[i + 1] if i + 1 < len(words) else None
        if value is None:
            raise RuleSyntaxError(f"{opt} without a value in {text!r}")
        if opt == "-w":
            rule.path = value
            rule.watch = None
        elif opt in ("-a", "-A"):
            rule.listname, rule.action = _split_list(value)
        elif opt == "-p":
            rule.perms = "".join(c for c in "rwxa" if c in value)
        elif opt == "-k":
            rule.key = value
        elif opt == "-S":
            syscalls.extend(value.split(","))
        elif opt == "-F":
            _field(rule, value)
        elif opt == "-C":
            rule.filters.append(value)
        else:
            raise RuleSyntaxError(f"unknown option {opt!r} in {text!r}")
        i += 2
    if words[0] == "-w":
        if rule.perms is None and "-p" not in words:
            rule.perms = "rwxa"  # auditctl's default for a watch
        if is_dir is not None and rule.path is not None:
            rule.watch = "dir" if is_dir(rule.path) else "path"
    if syscalls and syscalls != ["all"]:
        rule.syscalls = "listed"
    return rule


def _field(rule: Rule, spec: str) -> None:
    for op in ("!=", ">=", "<=", "&=", "=", "<", ">", "&"):
        name, sep, value = spec.partition(op)
        if sep:
            break
    else:
        raise RuleSyntaxError(f"bad field {spec!r}")
    name = name.strip()
    if name in ("path", "dir") and op == "=":
        rule.watch, rule.path = name, value
    elif name == "perm" and op == "=":
        rule.perms = "".join(c for c in "rwxa" if c in value)
    elif name in ("key", "k") and op == "=":
        rule.key = value
    elif name != "arch":
        rule.filters.append(f"{name}{op}{value}")


def parse_text(text: str, origin: str, is_dir: IsDir | None = None) -> tuple[list[Rule], list[str]]:
    """The rules of one rules file (or listing) in order, and its lines that do not parse. A
    ``-D`` line deletes every rule before it, as auditctl does when it loads the file."""
    rules: list[Rule] = []
    errors: list[str] = []
    for number, line in enumerate(text.splitlines()[: MAX_RULES * 2], 1):
        if line.strip().split()[:1] == ["-D"]:
            rules.clear()
            continue
        where = origin if origin == "auditctl -l" else f"{origin}:{number}"
        try:
            rule = parse_line(line, where, is_dir)
        except RuleSyntaxError as e:
            errors.append(f"{where}: {e}")
            continue
        if rule is not None and len(rules) < MAX_RULES:
            rules.append(rule)
    return rules, errors


def _perm_text(bits: int) -> str:
    return "".join(c for bit, c in _PERM_BITS if bits & bit)


def decode_rule(payload: bytes) -> Rule:
    """One ``struct audit_rule_data`` from the kernel."""
    if len(payload) < _RULE_SIZE:
        raise RuleSyntaxError("short audit rule")
    flags, action, count = _HEADER.unpack_from(payload, 0)
    words = struct.unpack_from("=" + "I" * 256, payload, 12)
    mask, fields, values, fieldflags = words[0:64], words[64:128], words[128:192], words[192:256]
    (buflen,) = struct.unpack_from("=I", payload, _RULE_SIZE - 4)
    buf = payload[_RULE_SIZE : _RULE_SIZE + buflen]
    rule = Rule(text="", origin="netlink")
    rule.listname = LISTS.get(flags & 0x07, str(flags & 0x07))
    rule.action = ACTIONS.get(action, str(action))
    # auditctl prints "-S all" when every word but the last is full
    rule.syscalls = "all" if all(m == 0xFFFFFFFF for m in mask[:63]) else "listed"
    offset = 0
    for i in range(min(count, 64)):
        ftype, value, op = fields[i], values[i], _OPS.get(fieldflags[i], "?")
        name = _FIELD_NAMES.get(ftype, str(ftype))
        if ftype in _STRING_FIELDS:
            text = buf[offset : offset + value].decode("utf-8", "replace")
            offset += value
            if name in ("path", "dir"):
                rule.watch, rule.path = name, text
            elif name == "key":
                rule.key = text
            else:
                rule.filters.append(f"{name}{op}{text}")
        elif name == "perm":
            rule.perms = _perm_text(value)
        elif name != "arch":
            rule.filters.append(f"{name}{op}{value}")
    return rule


def kernel_rules(timeout: float = 5.0) -> list[Rule] | str:
    """The kernel's audit rules in list order (netlink AUDIT_LIST_RULES), or why not."""
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
    except OSError as e:
        return f"netlink audit socket: {e.strerror or e}"
    rules: list[Rule] = []
    try:
        sock.settimeout(timeout)
        sock.bind((0, 0))
        seq = int.from_bytes(os.urandom(4), "little")
        sock.send(struct.pack("=IHHII", 16, AUDIT_LIST_RULES, 0x1 | 0x4, seq, 0))
        while True:
            data = sock.recv(MAX_MESSAGE)
            pos = 0
            while pos + 16 <= len(data):
                length, mtype, _, _, _ = struct.unpack_from("=IHHII", data, pos)
                if length < 16:
                    return rules
                body = data[pos + 16 : pos + length]
                pos += (length + 3) & ~3
                if mtype == NLMSG_DONE:
                    return rules
                if mtype == NLMSG_ERROR:
                    (errno,) = struct.unpack_from("=i", body, 0)
                    if errno:
                        return f"netlink AUDIT_LIST_RULES: {os.strerror(-errno)}"
                    continue  # the ACK
                if mtype == AUDIT_LIST_RULES:
                    if len(rules) >= MAX_RULES:
                        return rules
                    rules.append(decode_rule(body))
    except (OSError, RuleSyntaxError) as e:
        return f"netlink AUDIT_LIST_RULES: {e}"
    finally:
        sock.close()
