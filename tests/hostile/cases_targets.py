"""Target strings a person might type, or a script might build wrong (issue 17, item 8)."""

from __future__ import annotations

from tests.hostile.corpus import Case, Ctx


def _scan(target: str) -> object:
    def build(ctx: Ctx) -> list[str]:
        return ["scan", target]

    return build


_BAD = [
    ("target-empty", "", r"target '': expected KIND:LOCATION"),
    ("target-unknown-kind", "foo:bar", r"unknown kind 'foo'"),
    ("target-port-out-of-range", "engine:tcp://127.0.0.1:99999", r"port"),
    ("target-unclosed-ipv6", "engine:tcp://[::1", r"\[::1"),
]

CASES = [
    Case(name, "targets", f"target string {text!r}", _scan(text), 2, rf"^assessor: error: .*{want}")  # type: ignore[arg-type]
    for name, text, want in _BAD
]
