"""docs/peer-comparison.md is what tests/peer/verdicts.json and tests/peer/explanations.yaml
give, and every difference recorded there is explained (no Docker needed; `make compare`
regenerates all three from a run)."""

from __future__ import annotations

from tests.peer.compare import DOC_FILE, render
from tests.peer.peer import explanation_problems, load_explanations, load_record


def test_every_recorded_difference_is_explained() -> None:
    record = load_record()
    assert record is not None, "tests/peer/verdicts.json is missing: run `make compare`"
    problems = explanation_problems(record, load_explanations())
    assert not problems, "run `make compare` and explain:\n  " + "\n  ".join(problems)


def test_the_page_is_generated_from_the_record_and_the_explanations() -> None:
    record = load_record()
    assert record is not None
    expected = render(record, load_explanations())
    assert DOC_FILE.read_text() == expected, (
        f"{DOC_FILE.name} is out of date: `.venv/bin/python -m tests.peer.compare --render` "
        "(or `make compare`)"
    )
