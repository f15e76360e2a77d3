"""Fuzz target strings: ``assessor.targets.parse_target`` (what the user types, or a script
passes along). A TargetError is a refusal; anything else is a finding."""

from __future__ import annotations

try:
    from tests.fuzz._harness import main
except ImportError:  # run as a script: python tests/fuzz/fuzz_targets.py
    from _harness import main  # type: ignore[no-redef]


def check(data: bytes) -> None:
    from assessor.targets import parse_target

    text = data.decode("utf-8", "surrogateescape")

    from assessor.errors import TargetError

    try:
        t = parse_target(text)
    except TargetError:
        return
    assert t.uri, "a parsed target has a canonical string"
    # the stored string must be scannable again (a re-scan or 'evaluate' reads it back)
    assert str(parse_target(t.uri)) == t.uri, f"{t.uri!r} does not parse back to itself"


if __name__ == "__main__":
    main(check, ["assessor.targets"])
