"""The one way assessor reads a YAML file a user gives it (control files, waivers files).

YAML can do more than data needs, and a hostile file uses it: an alias repeated inside
aliases (the "billion laughs") expands to gigabytes; ``!!python/...``, ``!!binary``,
``!!set`` or a custom ``!tag`` build values no schema expects; a FIFO or a device given as the
file never ends. So a file here is read only if it is a regular file under a size bound, and
its node graph is accepted only if it has no alias, only the plain tags of YAML 1.1's core
schema (null, bool, int, float, str, timestamp, seq, map) and a bounded nesting depth. libyaml
(PyYAML's C parser) composes the graph; one walk over it checks all of that and records the
line of every key and item, so errors can name ``FILE:LINE``. Every problem is a
ControlDefinitionError: one line, exit code 2.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml

from assessor import regularfile
from assessor.errors import ControlDefinitionError

MAX_DEPTH = 64  # nesting of mappings and sequences; control files need about 12

Path_ = tuple[str | int, ...]

# libyaml's parser when PyYAML has it (about 10 times faster), with the same safe constructor
Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_CORE = "tag:yaml.org,2002:"
ALLOWED_TAGS = frozenset(
    _CORE + t for t in ("null", "bool", "int", "float", "str", "timestamp", "seq", "map")
)


def read_regular(path: Path, name: str, limit: int) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes (opened
    without blocking, so a FIFO answers at once; see assessor.regularfile)."""
    try:
        raw, _ = regularfile.read_regular(path, limit)
    except regularfile.NotRegularFileError as e:
        if e.kind == "a folder":
            raise ControlDefinitionError(name, None, None, "is a folder; give a YAML file") from e
        what = "a FIFO" if e.kind == "a FIFO" else "a device or socket"
        raise ControlDefinitionError(
            name, None, None, f"is {what}, not a regular file; give a YAML file"
        ) from e
    except regularfile.TooLargeError as e:
        size = f"{e.size} bytes, " if e.size is not None else ""
        raise ControlDefinitionError(
            name, None, None, f"file is {size}over the limit of {limit}"
        ) from e
    except OSError as e:
        raise ControlDefinitionError(name, None, None, f"cannot read: {e.strerror}") from e
    return raw


def decode(raw: bytes, name: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ControlDefinitionError(name, line, None, "not UTF-8 text") from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise ControlDefinitionError(name, line, None, "a NUL byte: not a text file")
    return text


def check(root: yaml.Node, text: str, name: str) -> dict[Path_, int]:
    """Refuse aliases, unknown tags, duplicate keys, complex keys and deep nesting; return the
    line map: the 1-based line of the document, of every key and of every item, by path.

    A text without a ``*`` where an alias could start has no alias, and one without ``!`` or
    ``<<`` only implicit core tags, so those two checks run only when the text could need them
    (this walk is on the start-up path of every scan, through the built-in catalog).
    """
    lines: dict[Path_, int] = {(): root.start_mark.line + 1}
    seen: set[int] | None = set() if _maybe_alias(text) else None
    tags = ALLOWED_TAGS if "!" in text or "<<" in text else None
    mapping_node, sequence_node, scalar_node = yaml.MappingNode, yaml.SequenceNode, yaml.ScalarNode

    def walk(node: yaml.Node, prefix: Path_, depth: int) -> None:
        if seen is not None:
            if id(node) in seen:  # the same node twice: an alias
                raise ControlDefinitionError(name, _alias_line(text), None, ALIASES)
            seen.add(id(node))
        if tags is not None and node.tag not in tags:
            raise _tag_error(node, name)
        kind = type(node)
        if kind is mapping_node:
            if depth >= MAX_DEPTH:
                raise _depth_error(node, name)
            keys: set[Any] = set()
            for key_node, value_node in node.value:
                if type(key_node) is not scalar_node:
                    raise ControlDefinitionError(
                        name, key_node.start_mark.line + 1, None, "a key must be a plain value"
                    )
                if tags is not None and key_node.tag not in tags:
                    raise _tag_error(key_node, name)
                key = key_node.value
                if key in keys:
                    raise ControlDefinitionError(
                        name, key_node.start_mark.line + 1, str(key), "duplicate key"
                    )
                keys.add(key)
                path = (*prefix, key)
                lines[path] = key_node.start_mark.line + 1
                walk(value_node, path, depth + 1)
        elif kind is sequence_node:
            if depth >= MAX_DEPTH:
                raise _depth_error(node, name)
            for i, item in enumerate(node.value):
                path = (*prefix, i)
                lines[path] = item.start_mark.line + 1
                walk(item, path, depth + 1)

    walk(root, (), 0)
    return lines


def _maybe_alias(text: str) -> bool:
    """Whether an alias (``*name``) could start somewhere: a ``*`` at a line start or after a
    blank, ``,``, ``[``, ``{`` or ``:``. (One inside a plain or quoted string also counts:
    this only decides whether the exact check runs.)"""
    i = text.find("*")
    while i >= 0:
        if i == 0 or text[i - 1] in " \t\r\n,[{:":
            return True
        i = text.find("*", i + 1)
    return False


ALIASES = "YAML aliases are not allowed (write the value out in full)"


def _alias_line(text: str) -> int | None:
    """The line of the first alias (``*name``) in the text: only on the error path."""
    try:
        for event in yaml.parse(text, Loader=Loader):
            if isinstance(event, yaml.AliasEvent) and event.start_mark is not None:
                return int(event.start_mark.line) + 1
    except yaml.YAMLError:
        pass
    return None


def _tag_error(node: yaml.Node, name: str) -> ControlDefinitionError:
    tag = str(node.tag)
    shown = "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag
    if shown == "!!merge":
        problem = "YAML merge keys (<<) are not allowed (write the keys out in full)"
    else:
        problem = (
            f"YAML tag {shown[:60]!r} is not allowed (only plain strings, numbers, booleans, "
            "dates, lists and mappings)"
        )
    return ControlDefinitionError(name, node.start_mark.line + 1, None, problem)


def _depth_error(node: yaml.Node, name: str) -> ControlDefinitionError:
    return ControlDefinitionError(
        name, node.start_mark.line + 1, None, f"nested more than {MAX_DEPTH} levels deep"
    )


def load(path: Path, name: str, limit: int) -> tuple[Any, dict[Path_, int], bytes]:
    """Read, check and construct a user's YAML file: (data, line map, raw bytes).

    ``data`` is None for an empty document.
    """
    raw = read_regular(path, name, limit)
    text = decode(raw, name)
    loader = Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, {}, raw
        lines = check(root, text, name)
        return loader.construct_document(root), lines, raw
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        raise ControlDefinitionError(name, line, None, f"invalid YAML: {e.problem}") from None
    except yaml.YAMLError as e:
        raise ControlDefinitionError(name, None, None, f"invalid YAML: {e}") from None
    except ValueError as e:  # an impossible date (2026-13-01) PyYAML took for a timestamp,
        line, dotted = _bad_timestamp(root)  # or an integer of more than 4300 digits
        if line is not None:
            raise ControlDefinitionError(name, line, dotted, f"invalid date: {e}") from None
        raise ControlDefinitionError(name, None, None, f"invalid value: {e}") from None
    except (TypeError, KeyError, AttributeError, OverflowError) as e:  # !!bool maybe, ...
        raise ControlDefinitionError(
            name, None, None, f"invalid value for an explicit YAML tag ({type(e).__name__})"
        ) from None
    finally:
        loader.dispose()


def _bad_timestamp(node: Any, path: str = "") -> tuple[int | None, str | None]:
    """The line and field of the first YAML timestamp that is not a real date."""
    if isinstance(node, yaml.ScalarNode) and node.tag == _CORE + "timestamp":
        try:
            date.fromisoformat(str(node.value)[:10])
        except ValueError:
            return node.start_mark.line + 1, path or None
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            found = _bad_timestamp(value, f"{path}.{key.value}" if path else str(key.value))
            if found[0] is not None:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found = _bad_timestamp(item, f"{path}[{i}]")
            if found[0] is not None:
                return found
    return None, None
