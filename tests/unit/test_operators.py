from __future__ import annotations

from typing import Any

import pytest

from assessor.catalog.schema import Op
from assessor.errors import EvaluationError
from assessor.evaluate.operators import OPERATORS


@pytest.mark.parametrize(
    ("op", "actual", "expected", "result"),
    [
        (Op.EQ, True, True, True),
        (Op.EQ, 1, True, False),  # a JSON 1 is not a YAML true
        (Op.EQ, 0, False, False),
        (Op.EQ, "host", "host", True),
        (Op.NE, "host", "private", True),
        (Op.IN, "info", ["info", "warn"], True),
        (Op.IN, ["a", "b"], ["a", "b", "c"], True),
        (Op.IN, ["a", "x"], ["a", "b"], False),
        (Op.NOT_IN, ["NET_ADMIN"], ["SYS_ADMIN"], True),
        (Op.NOT_IN, ["SYS_ADMIN", "CHOWN"], ["SYS_ADMIN"], False),
        (Op.NOT_IN, None, ["SYS_ADMIN"], True),
        (Op.CONTAINS, ["no-new-privileges"], "no-new-privileges", True),
        (Op.CONTAINS, None, "x", False),
        (Op.NOT_CONTAINS, None, "x", True),
        (Op.CONTAINS, "abcdef", "cd", True),
        (Op.REGEX, ["seccomp=unconfined"], r"^seccomp[=:]unconfined$", True),
        (Op.NOT_REGEX, ["label=disable"], r"unconfined", True),
        (Op.REGEX, None, "x", False),
        (Op.LT, 1, 2, True),
        (Op.GE, 2, 2, True),
        (Op.GT, 0, 0, False),
        (Op.MODE_AT_MOST, "0644", "0644", True),
        (Op.MODE_AT_MOST, "0600", "0644", True),
        (Op.MODE_AT_MOST, "0664", "0644", False),
        (Op.MODE_AT_MOST, "4755", "0755", False),  # setuid is beyond 0755
        (
            Op.OWNER_IS,
            {"user": "root", "group": "docker", "uid": 0, "gid": 999},
            "root:docker",
            True,
        ),
        (Op.OWNER_IS, {"user": "bob", "group": "root", "uid": 1000, "gid": 0}, "root:root", False),
        (Op.OWNER_IS, {"user": None, "group": None, "uid": 0, "gid": 0}, "root:root", True),
        (Op.PRESENT, "x", None, True),
        (Op.PRESENT, None, None, False),
        (Op.ABSENT, None, None, True),
        (Op.EMPTY, [], None, True),
        (Op.EMPTY, {}, None, True),
        (Op.NOT_EMPTY, ["x"], None, True),
    ],
)
def test_operator(op: Op, actual: Any, expected: Any, result: bool) -> None:
    assert OPERATORS[op](actual, expected) is result


def test_every_operator_is_implemented() -> None:
    assert set(OPERATORS) == set(Op)


@pytest.mark.parametrize(
    ("op", "actual", "expected"),
    [
        (Op.LT, "10", 5),
        (Op.GT, True, 0),
        (Op.MODE_AT_MOST, "rwxr-xr-x", "0644"),
        (Op.OWNER_IS, "root", "root:root"),
        (Op.OWNER_IS, {"user": None, "group": None, "uid": 0, "gid": 5}, "root:docker"),
        (Op.CONTAINS, 5, 5),
    ],
)
def test_operator_rejects_wrong_evidence(op: Op, actual: Any, expected: Any) -> None:
    with pytest.raises(EvaluationError):
        OPERATORS[op](actual, expected)
