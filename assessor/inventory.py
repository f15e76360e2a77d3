"""Inventory files (``scan --inventory FILE``): the targets of a fleet, read from a plain list
or from an Ansible inventory (INI or YAML), as Ansible would read it.

- **A plain list**: one target per line (``ssh://...``, ``host:/``, ``image:...``), ``#``
  or ``;`` comments, blank lines. A bare ``HOST``, ``USER@HOST`` or ``HOST:PORT`` line is a
  machine reached over SSH (``ssh://``).
- **Ansible INI** (any other file name; the plain list is its first, ungrouped part):
  ``[group]`` host lines (``NAME[:PORT] [key=value ...]``, ranges like ``web[01:03]``),
  ``[group:vars]`` and ``[group:children]``.
- **Ansible YAML** (``.yml``, ``.yaml`` or ``.json``): groups with ``hosts``, ``vars`` and
  ``children``, under ``all`` or at the top.

Each Ansible host becomes the target ``ssh://ansible_user@ansible_host:ansible_port`` (each
defaulting as ``ssh`` would: the current user, the inventory name, port 22; ``?sudo=1`` when
``ansible_become`` is true): the machine and its engine, logging in with the host's
``ansible_ssh_private_key_file`` when it has one. Its variables are merged as Ansible merges
them (``all``, then groups by depth, ``ansible_group_priority`` and name, then the host's
own). Connection variables assessor cannot honour (a password, become by another method or
user) are named in one warning, not silently dropped; a host with
another connection (``local``, ``docker``, ...) is skipped with one warning.

An inventory is a user's file but is bounded as hostile input: its size, the hosts it names
(ranges included, counted before they are expanded) and the nesting of its groups. Every
problem is one line naming ``FILE:LINE`` and what to write instead (exit code 2).
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import string
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assessor.errors import ControlDefinitionError, TargetError
from assessor.targets import SSH_PORT, Target, parse_target, with_engines

if TYPE_CHECKING:
    from assessor.yamlsafe import Path_

MAX_BYTES = 16 << 20  # an inventory of 100,000 hosts with a few variables each is about 10 MiB
MAX_HOSTS = 100_000  # hosts named by one inventory, ranges expanded
MAX_VALUE = 1024  # characters of a variable's value read as a Python literal (INI)

# the scheme of the targets an inventory's hosts become (each the machine, then its engine:
# targets.with_engines)
SSH_TARGET = "ssh://"

# connection variables assessor honours, and those that do not concern a scan at all
_HONOURED = frozenset(
    {
        "ansible_host",
        "ansible_ssh_host",
        "ansible_port",
        "ansible_ssh_port",
        "ansible_user",
        "ansible_ssh_user",
        "ansible_connection",
        "ansible_group_priority",
        "ansible_become",
        "ansible_ssh_private_key_file",
        "ansible_private_key_file",
    }
)
_TRUE = frozenset({"true", "yes", "on", "1", "y", "t"})
# become as assessor does it (sudo -n to root): these values are honoured, others named
_BECOME_AS = {"ansible_become_method": "sudo", "ansible_become_user": "root"}
_UNRELATED = frozenset({"ansible_python_interpreter"})
_SSH_CONNECTIONS = frozenset({"ssh", "smart", "paramiko", "paramiko_ssh"})
_TEMPLATE = re.compile(r"\{\{|\{%")
_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?$")
_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:[#;].*)?$")
_RANGE = re.compile(r"\[([^\]]*)\]")
_TARGET_LINE = re.compile(r"^(?:ssh://|engine:|image:|registry:|host:/)")
_USER_HOST = re.compile(r"^([A-Za-z0-9_.][A-Za-z0-9_.-]*\$?)@(\S+)$")
_HOSTPORT = re.compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$")
_BRACKETED = re.compile(r"^\[(.+)\]:([0-9]+)$")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?")
_YAML_SUFFIXES = (".yml", ".yaml", ".json")


class InventoryError(TargetError):
    """An inventory file cannot be read: one line naming FILE[:LINE] and what to write."""

    def __init__(self, name: str, line: int | None, problem: str) -> None:
        where = name if line is None else f"{name}:{line}"
        super().__init__(f"inventory {where}: {problem}")


@dataclass(frozen=True)
class Inventory:
    """The targets of an inventory (in its order, each once) and what it asked that was
    ignored."""

    targets: list[Target]
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Host:
    name: str  # the inventory's name, the default address
    line: int
    vars: dict[str, Any] = field(default_factory=dict)
    groups: set[str] = field(default_factory=set)


@dataclass
class _Group:
    name: str
    line: int
    vars: dict[str, Any] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)
    declared: bool = True


@dataclass
class _Parsed:
    """An Ansible inventory as declared: hosts in order, groups, and plain targets."""

    name: str
    hosts: dict[str, _Host] = field(default_factory=dict)
    groups: dict[str, _Group] = field(default_factory=dict)
    targets: list[tuple[int, Target]] = field(default_factory=list)
    count: int = 0  # hosts and targets named so far, ranges expanded

    def group(self, name: str, line: int, *, declared: bool = True) -> _Group:
        """The group ``name``, made when new; ``declared``: by a ``[name]`` or
        ``[name:children]`` section or in YAML (not by ``[name:vars]`` or as a child)."""
        g = self.groups.get(name)
        if g is None:
            g = self.groups[name] = _Group(name, line, declared=declared)
        elif declared and not g.declared:
            g.declared, g.line = True, line
        return g

    def add_host(
        self, name: str, line: int, group: str, variables: dict[str, Any], key: str = ""
    ) -> None:
        """Host ``name`` (one entry per ``key``, default the name, as Ansible has it)."""
        host = self.hosts.get(key or name)
        if host is None:
            self.counted(1, line)
            host = self.hosts[key or name] = _Host(name, line)
        host.vars.update(variables)  # a later declaration's variables win, as in Ansible
        host.groups.add(group)

    def counted(self, n: int, line: int, *, add: bool = True) -> None:
        """``n`` more hosts named (``add``), or about to be (refused past MAX_HOSTS)."""
        if add:
            self.count += n
        if self.count + (0 if add else n) > MAX_HOSTS:
            raise InventoryError(
                self.name,
                line,
                f"more than {MAX_HOSTS} hosts; split the fleet into several inventories "
                "(or several scans)",
            )


def read_inventory(path: Path) -> Inventory:
    """The targets ``path`` names (see the module's doc)."""
    import assessor.yamlsafe as yamlsafe

    name = str(path)
    if path.is_dir():
        raise InventoryError(
            name, None, "is a folder: an Ansible inventory folder is not read; export it "
            f"first: ansible-inventory -i {name} --list --yaml > fleet.yml, then -i fleet.yml"
        )  # fmt: skip
    if path.suffix.lower() in _YAML_SUFFIXES:
        parsed = _read_yaml(path, name)
    else:
        try:
            raw = yamlsafe.read_regular(path, name, MAX_BYTES)
            text = yamlsafe.decode(raw, name)
        except ControlDefinitionError as e:
            raise InventoryError(name, e.line, e.problem) from None
        parsed = _parse_ini(text, name)
    return _resolve(parsed)


# --- INI and plain lists ------------------------------------------------------------------------


def _parse_ini(text: str, name: str) -> _Parsed:
    """Ansible's INI grammar, whose first part (before any ``[section]``) may also hold
    target strings and ``USER@HOST[:PORT]`` lines."""
    parsed = _Parsed(name)
    parsed.group("all", 0)
    parsed.group("ungrouped", 0)
    group, state, plain = "ungrouped", "hosts", True
    pending: dict[str, int] = {}  # groups named as children or with vars, not yet declared
    for number, raw_line in enumerate(text.splitlines(), 1):
        line = raw_line.strip()
        if not line or line[0] in "#;":
            continue
        if m := _SECTION.match(line):
            group, state, plain = m.group(1), m.group(2) or "hosts", False
            if state not in ("hosts", "children", "vars"):
                raise InventoryError(
                    name,
                    number,
                    f"[{group}:{state}]: unknown section type {state!r}; write [{group}], "
                    f"[{group}:vars] or [{group}:children]",
                )
            if state == "vars":
                if not parsed.group(group, number, declared=False).declared:
                    pending.setdefault(group, number)
            else:
                parsed.group(group, number)
                pending.pop(group, None)
            continue
        if line.startswith("[") and line.endswith("]"):
            raise InventoryError(
                name, number, f"{_shown(line)} is not a section; write [GROUP], "
                "[GROUP:vars] or [GROUP:children], without spaces"
            )  # fmt: skip
        if state == "hosts":
            _host_line(parsed, line, number, group, plain=plain)
        elif state == "vars":
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise InventoryError(
                    name, number, f"{_shown(line)}: expected NAME=VALUE in [{group}:vars]"
                )
            parsed.groups[group].vars[key.strip()] = _ini_value(value.strip())
        else:
            m = _GROUP_NAME.match(line)
            if m is None:
                raise InventoryError(
                    name, number, f"{_shown(line)}: expected a group name in [{group}:children]"
                )
            child = m.group(1)
            if not parsed.group(child, number, declared=False).declared:
                pending.setdefault(child, number)
            parsed.groups[group].children.append(child)
    for missing, number in pending.items():
        if not parsed.groups[missing].declared:
            raise InventoryError(
                name, number, f"group {missing!r} is used but never declared; add a "
                f"[{missing}] section (it may be empty)"
            )  # fmt: skip
    return parsed


def _host_line(parsed: _Parsed, text: str, number: int, group: str, *, plain: bool) -> None:
    """One line of a ``[group]`` (or of the ungrouped part, where ``plain`` also allows a
    target string or ``USER@HOST[:PORT]``)."""
    name = parsed.name
    if not plain and _TARGET_LINE.match(text):
        raise InventoryError(
            name, number, f"{_shown(text)}: a target string belongs before the first "
            f"[section]; under [{group}] write Ansible host names (NAME ansible_host=ADDRESS)"
        )  # fmt: skip
    if plain and _TARGET_LINE.match(text):
        target, *rest = text.split()
        if rest and rest[0][0] not in "#;":
            raise InventoryError(
                name, number, f"{_shown(text)}: one target per line (a comment starts with #)"
            )
        parsed.counted(1, number)
        parsed.targets.append((number, _parse(target, name, number)))
        return
    try:  # shlex is slow: only for a line with quotes, escapes or a comment
        quoted = any(c in text for c in "'\"\\#")
        tokens = shlex.split(text, comments=True) if quoted else text.split()
    except ValueError as e:
        raise InventoryError(name, number, f"{_shown(text)}: {e} (close the quote)") from None
    pattern, variables = tokens[0], {}
    for token in tokens[1:]:
        key, sep, value = token.partition("=")
        if not sep or not key:
            raise InventoryError(
                name, number, f"{_shown(token)}: expected NAME=VALUE after the host name "
                f"(for example ansible_host=10.0.0.5 ansible_port=2222)"
            )  # fmt: skip
        variables[key] = _ini_value(value)
    written = pattern
    if plain and (m := _USER_HOST.match(pattern)):
        variables.setdefault("ansible_user", m.group(1))
        pattern = m.group(2)
    for host, port in _expand(pattern, name, number, parsed):
        own = dict(variables)
        if port is not None:
            own["ansible_port"] = port
        # a plain list's USER@HOST or HOST:PORT line is a machine of its own (Ansible would
        # merge 10.0.0.1:2201 and 10.0.0.1:2202 into one host, the last port winning)
        key = written if plain and written != host else ""
        parsed.add_host(host, number, group, own, key)


def _ini_value(value: str) -> Any:
    """A value as Ansible's INI reader reads it: a Python literal when it is one (``2222``,
    ``'x'``, ``True``), else the text."""
    if len(value) > MAX_VALUE:
        return value
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return value


# --- YAML ---------------------------------------------------------------------------------------


def _read_yaml(path: Path, name: str) -> _Parsed:
    import assessor.yamlsafe as yamlsafe

    try:
        data, lines, _ = yamlsafe.load(path, name, MAX_BYTES)
    except ControlDefinitionError as e:
        raise InventoryError(name, e.line, e.problem) from None
    parsed = _Parsed(name)
    if data is None:
        return parsed
    if not isinstance(data, dict):
        raise InventoryError(
            name, lines.get(()), "expected a mapping of groups (all: {hosts: ..., children: ...})"
        )
    for group, body in data.items():
        _yaml_group(parsed, lines, (), str(group), body)
    return parsed


def _yaml_group(
    parsed: _Parsed,
    lines: dict[Path_, int],
    at: Path_,
    group: str,
    body: Any,
) -> None:
    """A group of a YAML inventory (``hosts``, ``vars``, ``children``), its children read in
    turn (nesting is bounded by the YAML reader's depth limit)."""
    here = (*at, group)
    line = lines.get(here, 0)
    name = parsed.name
    parsed.group(group, line)
    if body is None:
        return
    if not isinstance(body, dict):
        raise InventoryError(
            name, line, f"group {group!r}: expected a mapping with hosts, vars or children"
        )
    for key in body:
        if key not in ("hosts", "vars", "children"):
            raise InventoryError(
                name, lines.get((*here, key), line), f"group {group!r}: unknown key {key!r}; "
                "a group has hosts, vars and children"
            )  # fmt: skip
    hosts, variables, children = body.get("hosts"), body.get("vars"), body.get("children")
    for key, value in (("hosts", hosts), ("vars", variables), ("children", children)):
        if value is not None and not isinstance(value, dict):
            raise InventoryError(
                name, lines.get((*here, key), line), f"group {group!r}: {key} must be a mapping"
            )
    parsed.groups[group].vars.update(variables or {})
    for pattern, host_vars in (hosts or {}).items():
        where = lines.get((*here, "hosts", pattern), line)
        if host_vars is not None and not isinstance(host_vars, dict):
            raise InventoryError(
                name, where, f"host {str(pattern)!r}: its variables must be a mapping "
                "(ansible_host: ADDRESS) or nothing"
            )  # fmt: skip
        for host, port in _expand(str(pattern), name, where, parsed):
            own = dict(host_vars or {})
            if port is not None:
                own["ansible_port"] = port
            parsed.add_host(host, where, group, own)
    for child, child_body in (children or {}).items():
        parsed.groups[group].children.append(str(child))
        _yaml_group(parsed, lines, (*here, "children"), str(child), child_body)


# --- host patterns ------------------------------------------------------------------------------


def _expand(
    pattern: str, name: str, number: int, parsed: _Parsed
) -> Iterable[tuple[str, int | None]]:
    """A host pattern: ``NAME``, ``NAME:PORT``, ``[IPV6]:PORT``, with ``[a:b[:step]]`` ranges
    (numeric, zero-padded, or one letter to another), counted before they are expanded."""
    port: int | None = None
    m = _BRACKETED.match(pattern) or _HOSTPORT.match(pattern)
    if m and not (m.re is _HOSTPORT and ":" in m.group(1)):
        pattern, port = m.group(1), int(m.group(2))
    elif pattern.endswith(":"):
        raise InventoryError(
            name, number, f"{_shown(pattern)}: ends in ':'; write HOST:PORT or ansible_port=PORT"
        )
    if not pattern or pattern == "---":
        raise InventoryError(name, number, f"{_shown(pattern)} is not a host name")
    ranges = [_range(r, name, number, pattern) for r in _RANGE.findall(pattern)]
    total = 1
    for r in ranges:
        total *= len(r)
    parsed.counted(total, number, add=False)  # each host is counted as it is added
    hosts = [pattern]
    for r in ranges:
        hosts = [_first_range(h, v) for h in hosts for v in r]
    if "[" in hosts[0] or "]" in hosts[0]:
        raise InventoryError(
            name, number, f"{_shown(pattern)} is not a host name; write NAME, NAME:PORT, "
            "[IPV6]:PORT or a range NAME[01:20]"
        )  # fmt: skip
    return [(h, port) for h in hosts]


def _first_range(host: str, value: str) -> str:
    """``host`` with its first ``[...]`` replaced by ``value``."""
    head, _, rest = host.partition("[")
    return head + value + rest.partition("]")[2]


def _range(spec: str, name: str, number: int, pattern: str) -> list[str]:
    """The values of one ``[begin:end[:step]]`` range, as Ansible's expand_hostname_range."""
    bounds = spec.split(":")
    hint = "write a range as [01:20], [1:20:2] or [a:f]"
    if len(bounds) not in (2, 3) or not bounds[1]:
        raise InventoryError(name, number, f"{_shown(pattern)}: [{spec}] is not a range; {hint}")
    begin, end = bounds[0] or "0", bounds[1]
    try:
        step = int(bounds[2]) if len(bounds) == 3 else 1
    except ValueError:
        step = 0
    if step < 1:
        raise InventoryError(name, number, f"{_shown(pattern)}: bad step in [{spec}]; {hint}")
    letters = string.ascii_letters
    if len(begin) == 1 and len(end) == 1 and begin in letters and end in letters:
        if letters.index(begin) > letters.index(end):
            raise InventoryError(name, number, f"{_shown(pattern)}: [{spec}] runs backwards")
        return list(letters[letters.index(begin) : letters.index(end) + 1 : step])
    digits = begin.isdigit() and end.isdigit() and begin.isascii() and end.isascii()
    if not digits or len(begin) > 9 or len(end) > 9:
        raise InventoryError(name, number, f"{_shown(pattern)}: [{spec}] is not a range; {hint}")
    width = len(begin) if begin.startswith("0") and len(begin) > 1 else 0
    if width and len(end) != width:
        raise InventoryError(
            name, number, f"{_shown(pattern)}: [{spec}]: a zero-padded range needs bounds of "
            f"one width, e.g. [{begin}:{end.zfill(width)}]"
        )  # fmt: skip
    first, last = int(begin), int(end)
    if (last - first) // step + 1 > MAX_HOSTS:
        raise InventoryError(
            name, number, f"{_shown(pattern)}: [{spec}] names more than {MAX_HOSTS} hosts"
        )
    return [str(i).zfill(width) for i in range(first, last + 1, step)]


# --- from groups to targets ---------------------------------------------------------------------


def _resolve(parsed: _Parsed) -> Inventory:
    """Each host's variables merged as Ansible merges them, and its target; plain targets in
    their place; each target once."""
    name = parsed.name
    depth = _depths(parsed)
    ancestors = _ancestors(parsed)
    entries: list[tuple[int, Target]] = list(parsed.targets)
    ignored: dict[str, int] = {}
    skipped: dict[str, int] = {}
    for host in parsed.hosts.values():
        groups = {"all"} | {a for g in host.groups for a in ancestors.get(g, {g})}
        if not host.groups - {"ungrouped"} or host.groups == {"all"}:
            groups.add("ungrouped")
        merged: dict[str, Any] = {}
        for g in sorted(groups, key=lambda g: (depth.get(g, 0), _priority(parsed, g), g)):
            if g in parsed.groups:
                merged.update(parsed.groups[g].vars)
        merged.update(host.vars)
        for key in merged:
            if key in _BECOME_AS and str(merged[key]) == _BECOME_AS[key]:
                continue
            if key.startswith("ansible_") and key not in _HONOURED | _UNRELATED:
                ignored[key] = ignored.get(key, 0) + 1
        connection = merged.get("ansible_connection")
        if connection is not None and str(connection) not in _SSH_CONNECTIONS:
            skipped[str(connection)] = skipped.get(str(connection), 0) + 1
            continue
        entries.append((host.line, _host_target(host, merged, name)))
    entries.sort(key=lambda e: e[0])
    seen: set[str] = set()
    targets = []
    for _, target in entries:
        if target.uri not in seen:
            seen.add(target.uri)
            targets.append(target)
    return Inventory(targets, _warnings(name, ignored, skipped))


def _priority(parsed: _Parsed, group: str) -> int:
    g = parsed.groups.get(group)
    value = g.vars.get("ansible_group_priority", 1) if g else 1
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


def _depths(parsed: _Parsed) -> dict[str, int]:
    """Each group's depth below ``all`` (a group's is one more than its deepest parent's);
    a cycle of children is refused."""
    parents: dict[str, set[str]] = {g: set() for g in parsed.groups}
    for group in parsed.groups.values():
        for child in group.children:
            parents.setdefault(child, set()).add(group.name)
    depth: dict[str, int] = {"all": 0}
    state: dict[str, int] = {}  # 1: being resolved, 2: done
    for start in parents:
        stack = [start]
        while stack:
            g = stack[-1]
            if state.get(g) == 2:
                stack.pop()
                continue
            state[g] = 1
            todo = [p for p in parents[g] if state.get(p) != 2]
            for p in todo:
                if state.get(p) == 1:
                    line = parsed.groups[g].line
                    raise InventoryError(
                        parsed.name, line or None, f"group {g!r} is its own ancestor "
                        f"(through {p!r}); remove one of the children entries"
                    )  # fmt: skip
            if todo:
                stack.extend(todo)
                continue
            base = 0 if g == "all" else 1
            depth[g] = max([base, *(depth[p] + 1 for p in parents[g])])
            state[g] = 2
            stack.pop()
    return depth


def _ancestors(parsed: _Parsed) -> dict[str, set[str]]:
    """Each group with the groups above it (acyclic: checked by _depths)."""
    parents: dict[str, set[str]] = {}
    for group in parsed.groups.values():
        for child in group.children:
            parents.setdefault(child, set()).add(group.name)
    result: dict[str, set[str]] = {}
    for g in parsed.groups:
        seen = {g}
        stack = [g]
        while stack:
            for p in parents.get(stack.pop(), ()):
                if p not in seen:
                    seen.add(p)
                    stack.append(p)
        result[g] = seen
    return result


def _host_target(host: _Host, merged: dict[str, Any], name: str) -> Target:
    """``SSH_TARGET[USER@]ADDRESS:PORT[?sudo=1]`` of one host."""
    address = _text_var(merged, ("ansible_host", "ansible_ssh_host"), host, name) or host.name
    user = _text_var(merged, ("ansible_user", "ansible_ssh_user"), host, name)
    port_value = next(
        (merged[k] for k in ("ansible_port", "ansible_ssh_port") if k in merged), SSH_PORT
    )
    try:
        port = int(port_value)
    except (TypeError, ValueError):
        port = 0
    if isinstance(port_value, bool) or not 0 < port < 65536:
        raise InventoryError(
            name, host.line, f"host {host.name!r}: ansible_port {port_value!r} is not a port; "
            "write a number from 1 to 65535"
        )  # fmt: skip
    if not (_NAME.fullmatch(address) or (":" in address and _IPV6.fullmatch(address))):
        raise InventoryError(
            name, host.line, f"host {host.name[:80]!r}: {address[:80]!r} is not a host name or "
            "address; write NAME ansible_host=ADDRESS"
        )  # fmt: skip
    shown = f"[{address}]" if ":" in address else address
    login = f"{user}@" if user else ""
    sudo = "?sudo=1" if str(merged.get("ansible_become", "")).lower() in _TRUE else ""
    target = _parse(f"{SSH_TARGET}{login}{shown}:{port}{sudo}", name, host.line)
    keys = ("ansible_ssh_private_key_file", "ansible_private_key_file")
    key = _text_var(merged, keys, host, name)
    return replace(target, key=os.path.expanduser(key)) if key else target


def _text_var(merged: dict[str, Any], keys: tuple[str, ...], host: _Host, name: str) -> str | None:
    for key in keys:
        if key in merged and merged[key] is not None:
            value = merged[key]
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise InventoryError(
                    name, host.line, f"host {host.name!r}: {key} {value!r} is not text; "
                    f"write {key}=NAME"
                )  # fmt: skip
            text = str(value)
            if _TEMPLATE.search(text):
                raise InventoryError(
                    name, host.line, f"host {host.name!r}: {key} {text[:60]!r} is a Jinja2 "
                    f"template, which assessor does not expand; write the value itself"
                )  # fmt: skip
            return text
    return None


def _parse(text: str, name: str, number: int) -> Target:
    try:
        return parse_target(text)
    except TargetError as e:
        hint = f"; {e.hint}" if e.hint else ""
        raise InventoryError(name, number, f"{e.message}{hint}") from None


def _warnings(name: str, ignored: dict[str, int], skipped: dict[str, int]) -> list[str]:
    warnings = []
    if ignored:
        listed = ", ".join(f"{k} ({_hosts(n)})" for k, n in sorted(ignored.items()))
        warnings.append(
            f"inventory {name}: ignored what assessor cannot honour: {listed} (SSH logs in as "
            "--ssh-key, --known-hosts and the ssh agent say; see docs/fleet.md)"
        )
    if skipped:
        listed = ", ".join(
            f"ansible_connection={k} ({_hosts(n)})" for k, n in sorted(skipped.items())
        )
        warnings.append(
            f"inventory {name}: skipped hosts not reached over SSH: {listed}; give this "
            "machine as host:/ and engine:unix:///var/run/docker.sock"
        )
    return warnings


def _hosts(n: int) -> str:
    return f"{n} host" if n == 1 else f"{n} hosts"


def _shown(text: str) -> str:
    shown = repr(text[:80])
    return shown + " ..." if len(text) > 80 else shown


def gather(texts: Iterable[str], inventories: Iterable[Path]) -> Inventory:
    """The targets given on the command line, then those of each inventory file, each once
    (in that order), with the inventories' warnings."""
    targets: list[Target] = []
    warnings: list[str] = []
    seen: set[str] = set()
    given = [parse_target(t) for t in texts]
    for path in inventories:
        inv = read_inventory(path)
        if not inv.targets:
            raise InventoryError(
                str(path), None, "names no targets; list one per line, or Ansible hosts"
            )
        given.extend(inv.targets)
        warnings.extend(inv.warnings)
    for target in with_engines(given):  # an ssh:// target is the machine and its engine
        if target.uri not in seen:
            seen.add(target.uri)
            targets.append(target)
    return Inventory(targets, warnings)
