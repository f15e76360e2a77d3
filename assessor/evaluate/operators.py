"""The closed operator set of condition leaves. Each is a pure function (actual, expected) -> bool.

| op | passes when |
|---|---|
| eq / ne | actual equals / differs from value (no type coercion) |
| in / not_in | actual is one of the listed values; a list actual must be a subset / disjoint |
| contains / not_contains | a list, string or mapping (keys) contains / lacks value; null is empty |
| regex / not_regex | ``re.search`` matches a scalar's text (any / no element of a list) |
| lt, le, gt, ge | numeric comparison (a non-number is an evaluation error) |
| mode_at_most | the octal mode (``"0644"``) sets no permission bit beyond value |
| owner_is | a file's ``user``/``group`` (uid/gid 0 for root when names are unknown) equal value |
| present / absent | the value is not null / the path is missing or null |
| empty / not_empty | null, "", [] or {} / anything else |

A missing path is never a value: the engine makes the result ``error`` ("evidence 'X' is
absent") before any operator runs, the unary ones and the negations included, so ``ne``,
``not_in``, ``empty`` or a ``not`` cannot pass on evidence that was not read. Two things in a
rule give a missing key a meaning, and only inside a mapping the collector recorded: a
leaf's ``default`` (the value in force when the setting is not written anywhere), and the
``absent`` operator, for a key whose absence the collector produces on purpose (inspect has
no ``State.Health`` for a container without a health check; the host collector leaves out a
systemd unit it did not find). Each use has a fixture showing that absence.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from assessor.catalog.schema import Op
from assessor.errors import EvaluationError


def _as_collection(actual: Any) -> Any:
    return [] if actual is None else actual


def _number(actual: Any, op: str) -> float:
    if isinstance(actual, bool) or not isinstance(actual, int | float):
        raise EvaluationError(f"operator {op!r} needs a number, evidence holds {actual!r}")
    return float(actual)


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def parse_mode(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"0?o?[0-7]{1,4}", value):
        return int(value.replace("o", ""), 8)
    raise EvaluationError(f"not a file mode: {value!r}")


def _contains(actual: Any, expected: Any) -> bool:
    actual = _as_collection(actual)
    if isinstance(actual, str):
        return isinstance(expected, str) and expected in actual
    if isinstance(actual, list | dict | tuple | set):
        return expected in actual
    raise EvaluationError(f"operator 'contains' needs a list, string or mapping, got {actual!r}")


def _in(actual: Any, expected: Any) -> bool:
    if isinstance(actual, list):
        return all(a in expected for a in actual)
    return bool(actual in expected)


def _not_in(actual: Any, expected: Any) -> bool:
    if isinstance(actual, list):
        return not any(a in expected for a in actual)
    if actual is None:
        return True
    return actual not in expected


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int | float):
        return repr(value)
    raise EvaluationError(f"operator 'regex' matches text, evidence holds {type(value).__name__}")


def _regex_match(actual: Any, expected: Any) -> bool:
    pattern = _regex(expected)
    if isinstance(actual, list):
        return any(pattern.search(_text(a)) for a in actual)
    if actual is None:
        return False
    return pattern.search(_text(actual)) is not None


def _mode_at_most(actual: Any, expected: Any) -> bool:
    return parse_mode(actual) & ~parse_mode(expected) & 0o7777 == 0


def _owner_is(actual: Any, expected: Any) -> bool:
    if not isinstance(actual, dict):
        raise EvaluationError(f"operator 'owner_is' needs a file's stat, got {actual!r}")
    user, _, group = str(expected).partition(":")

    def same(name_key: str, id_key: str, want: str) -> bool:
        name = actual.get(name_key)
        if name is not None:
            return bool(name == want)
        # names unknown (no passwd entry in an offline root): only root is decidable
        if want == "root":
            return actual.get(id_key) == 0
        raise EvaluationError(f"{id_key} {actual.get(id_key)} has no name to compare with {want!r}")

    return same("user", "uid", user) and same("group", "gid", group)


def _eq(actual: Any, expected: Any) -> bool:
    # true is not 1 and false is not 0: a YAML boolean only equals a JSON boolean
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    return bool(actual == expected)


def _empty(actual: Any) -> bool:
    return actual is None or (isinstance(actual, str | list | dict) and len(actual) == 0)


OPERATORS: dict[Op, Callable[[Any, Any], bool]] = {
    Op.EQ: _eq,
    Op.NE: lambda a, e: not _eq(a, e),
    Op.IN: _in,
    Op.NOT_IN: _not_in,
    Op.CONTAINS: _contains,
    Op.NOT_CONTAINS: lambda a, e: not _contains(a, e),
    Op.REGEX: _regex_match,
    Op.NOT_REGEX: lambda a, e: not _regex_match(a, e),
    Op.LT: lambda a, e: _number(a, "lt") < _number(e, "lt"),
    Op.LE: lambda a, e: _number(a, "le") <= _number(e, "le"),
    Op.GT: lambda a, e: _number(a, "gt") > _number(e, "gt"),
    Op.GE: lambda a, e: _number(a, "ge") >= _number(e, "ge"),
    Op.MODE_AT_MOST: _mode_at_most,
    Op.OWNER_IS: _owner_is,
    Op.PRESENT: lambda a, e: a is not None,
    Op.ABSENT: lambda a, e: a is None,
    Op.EMPTY: lambda a, e: _empty(a),
    Op.NOT_EMPTY: lambda a, e: not _empty(a),
}
