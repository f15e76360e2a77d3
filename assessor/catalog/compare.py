"""Views over frameworks: coverage of each requirement, and the differences of two frameworks."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from assessor.catalog.schema import Framework, Requirement
from assessor.errors import NotFoundError
from assessor.vocab import Coverage

if TYPE_CHECKING:
    from assessor.catalog.loader import Catalog


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key: ``cis-docker-1.10.0`` after ``cis-docker-1.8.0``, ``2.10`` after ``2.9``."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part
    )


def sorted_frameworks(cat: Catalog) -> list[Framework]:
    return [cat.frameworks[k] for k in sorted(cat.frameworks, key=natural_key)]


def get_framework(cat: Catalog, framework_id: str) -> Framework:
    """The framework with this id; a NotFoundError naming the known ids otherwise."""
    fw = cat.frameworks.get(framework_id)
    if fw is None:
        known = ", ".join(sorted(cat.frameworks, key=natural_key)) or "none"
        raise NotFoundError(f"no framework {framework_id!r} (known: {known})")
    return fw


def coverage_summary(cat: Catalog, fw: Framework) -> dict[str, int]:
    """Requirements by coverage, every coverage value present (zero when none)."""
    counts = Counter(cat.coverage(req) for req in fw.requirements)
    return {c.value: counts[c] for c in Coverage}


def coverage_document(cat: Catalog, frameworks: list[Framework]) -> dict[str, Any]:
    """The JSON of ``assessor controls coverage``."""
    return {
        "frameworks": [
            {
                "id": fw.framework.id,
                "title": fw.framework.title,
                "summary": coverage_summary(cat, fw),
                "requirements": [
                    {
                        "id": req.id,
                        "title": req.title,
                        "coverage": cat.coverage(req).value,
                        "rules": list(req.rules),
                    }
                    for req in fw.requirements
                ],
            }
            for fw in frameworks
        ]
    }


MatchBasis = Literal["link", "title", "id"]


@dataclass(frozen=True, slots=True)
class Pair:
    """A requirement of framework A and the same requirement in framework B."""

    old: Requirement
    new: Requirement
    basis: MatchBasis


@dataclass(slots=True)
class FrameworkDiff:
    old: Framework
    new: Framework
    pairs: list[Pair] = field(default_factory=list)
    added: list[Requirement] = field(default_factory=list)
    removed: list[Requirement] = field(default_factory=list)

    @property
    def renumbered(self) -> list[Pair]:
        return [p for p in self.pairs if p.old.id != p.new.id]

    @property
    def retitled(self) -> list[Pair]:
        return [p for p in self.pairs if p.old.title != p.new.title]

    @property
    def unchanged(self) -> list[Pair]:
        return [p for p in self.pairs if p.old.id == p.new.id and p.old.title == p.new.title]

    def to_json(self) -> dict[str, Any]:
        def info(fw: Framework) -> dict[str, str]:
            return {
                "id": fw.framework.id,
                "title": fw.framework.title,
                "version": fw.framework.version,
            }

        def req(r: Requirement) -> dict[str, str]:
            return {"id": r.id, "title": r.title}

        return {
            "from": info(self.old),
            "to": info(self.new),
            "summary": {
                "unchanged": len(self.unchanged),
                "renumbered": len(self.renumbered),
                "retitled": len(self.retitled),
                "added": len(self.added),
                "removed": len(self.removed),
            },
            "renumbered": [
                {"from": p.old.id, "to": p.new.id, "title": p.new.title, "matched_by": p.basis}
                for p in self.renumbered
            ],
            "added": [req(r) for r in self.added],
            "removed": [req(r) for r in self.removed],
            "retitled": [
                {
                    "from": p.old.id,
                    "to": p.new.id,
                    "from_title": p.old.title,
                    "to_title": p.new.title,
                    "matched_by": p.basis,
                }
                for p in self.retitled
            ],
        }


def _links(a: Framework, b: Framework) -> list[tuple[str, str]]:
    """(A id, B id) pairs declared by either file, keyed by the other framework's version."""
    va, vb = a.framework.version, b.framework.version
    out = [
        (ids[va], rb.id)
        for rb in b.requirements
        for ids in (rb.previous_ids, rb.later_ids)
        if va in ids
    ]
    out += [
        (ra.id, ids[vb])
        for ra in a.requirements
        for ids in (ra.previous_ids, ra.later_ids)
        if vb in ids
    ]
    return out


def diff_frameworks(a: Framework, b: Framework) -> FrameworkDiff:
    """Match A's requirements to B's: declared links (``previous_ids``/``later_ids`` keyed by
    the other framework's version) first, then identical titles; when neither file links to the
    other, then equal ids. What stays unmatched is removed (A) or added (B)."""
    a_reqs = {r.id: r for r in a.requirements}
    b_reqs = {r.id: r for r in b.requirements}
    matched: dict[str, tuple[str, MatchBasis]] = {}  # A id -> (B id, basis)
    taken: set[str] = set()  # B ids

    def match(aid: str, bid: str, basis: MatchBasis) -> None:
        if aid in a_reqs and bid in b_reqs and aid not in matched and bid not in taken:
            matched[aid] = (bid, basis)
            taken.add(bid)

    links = _links(a, b)
    for aid, bid in links:
        match(aid, bid, "link")
    by_title: dict[str, list[str]] = {}
    for rb in b.requirements:
        if rb.id not in taken:
            by_title.setdefault(rb.title, []).append(rb.id)
    for ra in a.requirements:
        candidates = by_title.get(ra.title)
        if ra.id not in matched and candidates:
            match(ra.id, candidates.pop(0), "title")
    if not links:
        for ra in a.requirements:
            match(ra.id, ra.id, "id")
    b_to_a = {bid: aid for aid, (bid, _) in matched.items()}
    diff = FrameworkDiff(old=a, new=b)
    for rb in b.requirements:
        old_id = b_to_a.get(rb.id)
        if old_id is None:
            diff.added.append(rb)
        else:
            diff.pairs.append(Pair(a_reqs[old_id], rb, matched[old_id][1]))
    diff.removed = [ra for ra in a.requirements if ra.id not in matched]
    return diff
