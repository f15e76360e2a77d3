"""A result: one rule judged on one resource, as evaluation hands it to the store.

It sits below both (evaluation builds results, the store writes them), so the store never
imports evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field

from assessor.vocab import Status


@dataclass(slots=True)  # not frozen: frozen dataclasses cost twice as much to build
class Result:
    rule: str
    title: str
    severity: str
    target: str
    resource: str
    status: Status
    message: str
    evidence: str | None  # sha256 of the evidence document judged
    references: dict[str, list[str]] = field(default_factory=dict)
