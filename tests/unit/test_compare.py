"""Framework views: coverage counts and the diff of two frameworks."""

from __future__ import annotations

from typing import Any

import pytest

from assessor.catalog import load_catalog
from assessor.catalog.compare import (
    coverage_document,
    coverage_summary,
    diff_frameworks,
    get_framework,
    natural_key,
)
from assessor.catalog.schema import Framework
from assessor.errors import NotFoundError


def fw(fid: str, version: str, *reqs: dict[str, Any]) -> Framework:
    return Framework.model_validate(
        {
            "framework": {"id": fid, "title": "T", "version": version, "source": "s"},
            "requirements": [{"section": "1", **r} for r in reqs],
        }
    )


def test_natural_key_orders_versions_and_ids() -> None:
    ids = ["2.10", "2.9", "10.1", "2.1", "cis-docker-1.10.0", "cis-docker-1.8.0"]
    assert sorted(ids, key=natural_key) == [
        "2.1",
        "2.9",
        "2.10",
        "10.1",
        "cis-docker-1.8.0",
        "cis-docker-1.10.0",
    ]


def test_links_then_titles_renumbered_added_removed_retitled() -> None:
    old = fw(
        "x-1",
        "1",
        {"id": "1", "title": "Alpha"},
        {"id": "2", "title": "Beta"},
        {"id": "3", "title": "Gamma"},
        {"id": "4", "title": "Dropped"},
        {"id": "5", "title": "Moved by title"},
    )
    new = fw(
        "x-2",
        "2",
        {"id": "1", "title": "Alpha"},
        {"id": "2", "title": "Brand new"},
        {"id": "3", "title": "Beta", "previous_ids": {"1": "2"}},
        {"id": "4", "title": "Gamma, reworded", "previous_ids": {"1": "3"}},
        {"id": "6", "title": "Moved by title"},
    )
    d = diff_frameworks(old, new)
    assert [(p.old.id, p.new.id, p.basis) for p in d.renumbered] == [
        ("2", "3", "link"),
        ("3", "4", "link"),
        ("5", "6", "title"),
    ]
    assert [r.id for r in d.added] == ["2"]
    assert [r.id for r in d.removed] == ["4"]
    assert [(p.old.title, p.new.title) for p in d.retitled] == [("Gamma", "Gamma, reworded")]
    assert d.to_json()["summary"] == {
        "unchanged": 1,
        "renumbered": 3,
        "retitled": 1,
        "added": 1,
        "removed": 1,
    }
    # the same, seen from the other side: links in the older file's later_ids
    back = diff_frameworks(new, old)
    assert [(p.old.id, p.new.id) for p in back.renumbered] == [
        ("3", "2"),
        ("4", "3"),
        ("6", "5"),
    ]
    assert [r.id for r in back.added] == ["4"] and [r.id for r in back.removed] == ["2"]


def test_later_ids_link_an_older_file_to_a_newer_one() -> None:
    old = fw("x-1", "1", {"id": "7", "title": "TLS", "later_ids": {"2": "8"}})
    new = fw("x-2", "2", {"id": "7", "title": "Devicemapper"}, {"id": "8", "title": "TLS"})
    d = diff_frameworks(old, new)
    assert [(p.old.id, p.new.id, p.basis) for p in d.renumbered] == [("7", "8", "link")]
    assert [r.id for r in d.added] == ["7"] and d.removed == []


def test_equal_ids_match_only_when_neither_file_links() -> None:
    old = fw("x-1", "1", {"id": "1", "title": "Old words"})
    new = fw("x-2", "2", {"id": "1", "title": "New words"})
    d = diff_frameworks(old, new)
    assert [(p.old.id, p.new.id, p.basis) for p in d.retitled] == [("1", "1", "id")]
    linked = fw(
        "x-2",
        "2",
        {"id": "1", "title": "New item"},
        {"id": "2", "title": "New words", "previous_ids": {"1": "1"}},
    )
    d = diff_frameworks(old, linked)
    assert [(p.old.id, p.new.id) for p in d.renumbered] == [("1", "2")]
    assert [r.id for r in d.added] == ["1"]


def test_coverage_counts_every_value_and_unknown_framework_names_known_ids() -> None:
    cat = load_catalog()
    cis = get_framework(cat, "cis-docker-1.8.0")
    counts = coverage_summary(cat, cis)
    assert list(counts) == ["automated", "partial", "manual", "not_applicable", "not_covered"]
    assert sum(counts.values()) == len(cis.requirements) == 118
    doc = coverage_document(cat, [cis])
    assert [r["coverage"] for r in doc["frameworks"][0]["requirements"]] == [
        cat.coverage(r).value for r in cis.requirements
    ]
    with pytest.raises(NotFoundError, match=r"no framework 'nope' \(known: .*cis-docker-1\.8\.0"):
        get_framework(cat, "nope")


def test_cis_1_6_0_has_the_rules_of_its_1_8_0_counterpart() -> None:
    cat = load_catalog()
    old, new = cat.frameworks["cis-docker-1.6.0"], cat.frameworks["cis-docker-1.8.0"]
    by_id = {r.id: r for r in new.requirements}
    assert len(old.requirements) == 117
    for req in old.requirements:
        twin = by_id[req.later_ids["1.8.0"]]
        assert twin.previous_ids["1.6.0"] == req.id
        assert (req.rules, req.status) == (twin.rules, twin.status), req.id
        assert req.level == twin.level
    titles = {r.id: r.title for r in old.requirements}
    assert titles["2.7"] == "Ensure TLS authentication for Docker daemon is configured"
    assert titles["1.1.9"].endswith("- docker.socket")
    assessment = {r.id: r.assessment for r in old.requirements}
    assert assessment["1.1.4"] == "automated" and assessment["1.1.18"] == "manual"
