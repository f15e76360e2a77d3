"""YAML files a user gives assessor: waivers files and --controls rule files (issue 17, item 6).

Each one is read through assessor/yamlsafe.py: aliases, non-core tags, deep nesting, files over
the size bound, invalid text and anything that is not a regular file are one line naming the
file (and the line), exit 2, under a tight memory bound.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from tests.hostile.corpus import Case, Ctx

_MEMORY = 1 << 30  # a billion laughs expanded needs several GB: 1 GB of address space is plenty

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""

WAIVER = """\
- rule: container-privileged
  reason: {reason}
  approver: Jo Auditor
  expires: 2026-12-31
"""


def _waivers(
    content: bytes | str | None, *, scan: bool = False, special: str = ""
) -> Callable[[Ctx], list[str]]:
    """A waivers file with ``content`` (or a FIFO/folder), given to ``waivers import`` or to
    ``scan --waivers`` (which reads it before scanning anything)."""

    def build(ctx: Ctx) -> list[str]:
        path = ctx.work / "waivers.yaml"
        if special == "fifo":
            os.mkfifo(path)
        elif special == "dir":
            path.mkdir()
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        elif content is not None:
            path.write_bytes(content)
        if scan:
            return ["scan", "host:/nonexistent-root", "--waivers", path.name]
        return ["waivers", "import", path.name]

    return build


def _big(ctx: Ctx) -> list[str]:
    path = ctx.work / "waivers.yaml"
    with path.open("wb") as f:  # 50 MB, sparse: quick to make, refused on its size
        f.truncate(50 << 20)
    return ["waivers", "import", path.name]


def _controls(rule_text: str, name: str = "container-bomb") -> Callable[[Ctx], list[str]]:
    """An organisation's --controls folder holding one rule file."""

    def build(ctx: Ctx) -> list[str]:
        folder = ctx.work / "org" / "rules" / "container"
        folder.mkdir(parents=True)
        (folder / f"{name}.yaml").write_text(rule_text, encoding="utf-8")
        return ["controls", "validate", "--controls", "org"]

    return build


def _controls_scan(rule_text: str) -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        _controls(rule_text)(ctx)
        return ["scan", "host:/nonexistent-root", "--controls", "org"]

    return build


def _deep(levels: int) -> str:
    return "- " + "[" * levels + "]" * levels + "\n"


def _rule_with(extra: str) -> str:
    return f"id: container-bomb\ntitle: t\n{extra}"


_ALIAS = r"waivers\.yaml:\d+: YAML aliases are not allowed"

CASES = [
    Case("yaml-waivers-billion-laughs", "yaml", "billion laughs in a waivers file (waivers import)",
         _waivers(BILLION_LAUGHS), 2, _ALIAS, timeout=30, memory=_MEMORY),
    Case("yaml-waivers-billion-laughs-scan", "yaml", "billion laughs given to scan --waivers",
         _waivers(BILLION_LAUGHS, scan=True), 2, _ALIAS, timeout=30, memory=_MEMORY),
    Case("yaml-waivers-alias-line", "yaml", "one alias on line 6 of an otherwise valid file",
         _waivers(WAIVER.format(reason="&r because") + WAIVER.format(reason="*r")), 2,
         r"waivers\.yaml:6: YAML aliases are not allowed"),
    Case("yaml-waivers-merge-key", "yaml", "a YAML merge key (<<) with an alias",
         _waivers("- &base {rule: x}\n- <<: *base\n  reason: r\n"), 2,
         r"waivers\.yaml:2: YAML (aliases|merge keys)"),
    Case("yaml-waivers-binary-tag", "yaml", "!!binary in a waivers file",
         _waivers(WAIVER.format(reason="!!binary aGVsbG8=")), 2,
         r"waivers\.yaml:2: YAML tag '!!binary' is not allowed"),
    Case("yaml-waivers-python-object", "yaml", "!!python/object/apply:os.system in a waivers file",
         _waivers("- !!python/object/apply:os.system ['touch pwned']\n"), 2,
         r"waivers\.yaml:1: YAML tag '!!python/object/apply:os\.system' is not allowed",
         check=lambda ctx, out, err: _not_pwned(ctx)),
    Case("yaml-waivers-set-tag", "yaml", "!!set in a waivers file",
         _waivers("- rule: x\n  tags: !!set {a, b}\n"), 2,
         r"waivers\.yaml:2: YAML tag '!!set' is not allowed"),
    Case("yaml-waivers-custom-tag", "yaml", "a custom !tag in a waivers file",
         _waivers(WAIVER.format(reason="!vault secret")), 2,
         r"waivers\.yaml:2: YAML tag '!vault' is not allowed"),
    Case("yaml-waivers-deep-nesting", "yaml", "5000 nested flow sequences",
         _waivers(_deep(5000)), 2, r"waivers\.yaml:1: (nested more than|invalid YAML)"),
    Case("yaml-waivers-nesting-over-bound", "yaml", "100 nested flow sequences (under libyaml's 1000)",
         _waivers(_deep(100)), 2, r"waivers\.yaml:1: nested more than 64 levels deep"),
    Case("yaml-waivers-50mb", "yaml", "a 50 MB waivers file", _big, 2,
         r"waivers\.yaml: file is 52428800 bytes, over the limit"),
    Case("yaml-waivers-invalid-utf8", "yaml", "invalid UTF-8 on line 3",
         _waivers(b"- rule: x\n  reason: ok\n  approver: \xff\xfe\n"), 2,
         r"waivers\.yaml:3: not UTF-8 text"),
    Case("yaml-waivers-nul-byte", "yaml", "a NUL byte on line 2",
         _waivers(b"- rule: x\n  reason: a\x00b\n"), 2, r"waivers\.yaml:2: a NUL byte"),
    Case("yaml-waivers-fifo", "yaml", "a FIFO given as the waivers file (no writer ever comes)",
         _waivers(None, special="fifo"), 2, r"waivers\.yaml: is a FIFO, not a regular file",
         timeout=20),
    Case("yaml-waivers-fifo-scan", "yaml", "a FIFO given to scan --waivers",
         _waivers(None, scan=True, special="fifo"), 2, r"waivers\.yaml: is a FIFO", timeout=20),
    Case("yaml-waivers-directory", "yaml", "a folder given as the waivers file",
         _waivers(None, special="dir"), 2, r"waivers\.yaml: is a folder; give a YAML file"),
    Case("yaml-waivers-dev-zero", "yaml", "/dev/zero given as the waivers file",
         lambda ctx: ["waivers", "import", "/dev/zero"], 2,
         r"/dev/zero: is a device or socket, not a regular file", timeout=20),
    Case("yaml-waivers-huge-int", "yaml", "an integer of 5000 digits",
         _waivers("- rule: x\n  n: 1" + "0" * 5000 + "\n"), 2, r"waivers\.yaml: invalid value"),
    Case("yaml-waivers-bad-explicit-bool", "yaml", "!!bool on a word that is not a boolean",
         _waivers("- rule: !!bool maybe\n"), 2, r"waivers\.yaml: invalid value for an explicit"),
    Case("yaml-controls-billion-laughs", "yaml", "billion laughs in a --controls rule file",
         _controls(_rule_with(BILLION_LAUGHS.replace("a: &a", "x: &a"))), 2,
         r"container-bomb\.yaml:\d+: YAML aliases are not allowed", timeout=30, memory=_MEMORY),
    Case("yaml-controls-billion-laughs-scan", "yaml", "billion laughs in a --controls rule, scan",
         _controls_scan(_rule_with(BILLION_LAUGHS.replace("a: &a", "x: &a"))), 2,
         r"container-bomb\.yaml:\d+: YAML aliases are not allowed", timeout=30, memory=_MEMORY),
    Case("yaml-controls-python-tag", "yaml", "!!python/name in a --controls rule file",
         _controls(_rule_with("description: !!python/name:os.system ''\n")), 2,
         r"container-bomb\.yaml:3: YAML tag '!!python/name:os\.system' is not allowed"),
    Case("yaml-controls-deep-condition", "yaml", "a condition tree 80 levels deep",
         _controls(_rule_with("check:\n" + "".join("  " * (i + 1) + "not:\n" for i in range(80))
                              + "  " * 81 + "{evidence: x, op: present}\n")), 2,
         r"container-bomb\.yaml:\d+: nested more than 64 levels deep"),
]  # fmt: skip


def _not_pwned(ctx: Ctx) -> None:
    assert not (ctx.work / "pwned").exists()
